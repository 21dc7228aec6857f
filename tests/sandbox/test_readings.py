"""Readings: what a repeat does on every endpoint under each reading (status, body, ledger), the as-documented
shapes, and the serve CLI's --reading. Each test runs once per reading (the `reading_client` fixture)."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import httpx
import pytest

from etl.sandbox import SandboxConfig

from .support import (
    ADA_EXAMPLE,
    ADA_EXAMPLE_SEED,
    ARM_EXAMPLE_SEED,
    AUTOPOSTING_EXAMPLE,
    BATCH_DELAY_S,
    CLOCK,
    DOCUMENT_EXAMPLE,
    ORG,
    RESERVATION_EXAMPLE,
    RESERVATION_RESPONSE_EXAMPLE,
    READINGS,
    ada_login,
    arm_login,
    fresh,
    ledger,
    schema_problems,
    seed,
)
from .test_collection import INVOICES
from .test_collection import payment as _payment
from .test_serve_cli import _command, _env, serving

ARM = "/arm/clients/2218"
ARM_T = "/arm/clients/{clientno}"
COL = "/collection/v1"
PAYMENTS = f"{COL}/orgs/{ORG}/payments"
PAYMENTS_T = f"{COL}/orgs/{{orgId}}/payments"
ADA = "/ada/creditor--payments"


def counts(c: httpx.Client, api: str) -> dict[str, tuple[int, int]]:
    """The ledger of one API as {key: (accepted, duplicates_refused)}."""
    return {k: (v["accepted"], v["duplicates_refused"]) for k, v in ledger(c, api).items()}


def fits(c: httpx.Client, method: str, template: str, r: httpx.Response) -> None:
    """The answer fits the schema /openapi.json gives for its status."""
    problems = schema_problems(c.get("/openapi.json").json(), method, template, r.status_code, r.json())
    assert not problems, (r.status_code, r.text, problems)


def accepted_body(r: httpx.Response, reading: str) -> dict[str, Any]:
    """The Collection 202 body as a document: under as-documented it is a JSON string holding the document."""
    body = r.json()
    if reading == "as-documented":
        assert isinstance(body, str)
        body = json.loads(body)
    return dict(body)


def payment(source_id: str, **fields: Any) -> dict[str, Any]:
    """A valid Collection payment; `type` an integer as in the page's example, so every reading takes it."""
    return _payment(source_id, **{"type": 0, **fields})


def settle() -> None:
    """Let every batch finish: the per-reading sandboxes run on the shared manual CLOCK."""
    CLOCK.advance(BATCH_DELAY_S + 0.05)


def test_health_names_the_reading(reading_client: httpx.Client, reading: str) -> None:
    assert reading_client.get("/_sandbox/health").json() == {"status": "ok", "reading": reading}


def test_config_refuses_an_unknown_reading() -> None:
    assert SandboxConfig().reading == "lenient"
    with pytest.raises(ValueError, match="unknown reading 'strict'; known: lenient, strict-unique, no-dedup, as-documented"):
        SandboxConfig(reading="strict")


# --- ARM payment reservations: paymentId "must be unique" (the page) under every reading ----------------


def test_reservation_repeat(reading_client: httpx.Client, reading: str) -> None:
    c = arm_login(reading_client)
    seed(c, arm_documents=[ARM_EXAMPLE_SEED])
    first = c.post(f"{ARM}/paymentreservations", json=RESERVATION_EXAMPLE)
    again = c.post(f"{ARM}/paymentreservations", json=RESERVATION_EXAMPLE)
    for r in (first, again):
        fits(c, "POST", f"{ARM_T}/paymentreservations", r)
    if reading == "as-documented":
        assert first.status_code == 201 and first.json() == RESERVATION_RESPONSE_EXAMPLE  # exactly the page's body
    else:
        assert first.status_code == 200 and first.json() == {**RESERVATION_RESPONSE_EXAMPLE, "paymentId": "PM285000350786"}
    if reading == "strict-unique":
        assert again.status_code == 409
        assert again.json() == {
            "status": "ERROR", "result": "CONFLICT", "message": "paymentId PM285000350786 already exists",
            "clientNo": 2218, "paymentId": "PM285000350786",
        }
    else:
        assert again.status_code == 200 and again.json() == first.json()  # the first answer, nothing stored again
    other = fresh(RESERVATION_EXAMPLE)
    other["paymentreservation"]["currencyAmountPaid"] = 99
    conflict = c.post(f"{ARM}/paymentreservations", json=other)
    assert conflict.status_code == (422 if reading == "as-documented" else 409), conflict.text  # the page lists no 409
    assert conflict.json()["status"] == "ERROR" and "PM285000350786" in conflict.json()["message"]
    assert counts(c, "arm.paymentreservations") == {"PM285000350786": (1, 2)}


# --- ARM documents ------------------------------------------------------------------------------------


def test_document_repeat(reading_client: httpx.Client, reading: str) -> None:
    c = arm_login(reading_client)
    first = c.post(f"{ARM}/documents", json=DOCUMENT_EXAMPLE)
    again = c.post(f"{ARM}/documents", json=DOCUMENT_EXAMPLE)
    other = fresh(DOCUMENT_EXAMPLE)
    other["document"]["currencyAmounts"]["inclVat"] = 7000
    third = c.post(f"{ARM}/documents", json=other)
    for r in (first, again, third):
        fits(c, "POST", f"{ARM_T}/documents", r)
    assert first.status_code == 201 and first.json()["result"] == "CREATED"
    listed = c.get(f"{ARM}/documents", params={"documentno": "88776655"}).json()
    aritems = c.get(f"{ARM}/aritems", params={"documentno": "88776655"}).json()
    key = counts(c, "arm.documents")["88776655"]
    if reading == "no-dedup":
        # Every copy is another document with its own referenceNo and arItemId, in the lists and the ledger.
        assert [again.status_code, third.status_code] == [201, 201]
        assert [again.json()["result"], third.json()["result"]] == ["CREATED", "CREATED"]
        references = {first.json()["referenceNo"], again.json()["referenceNo"], third.json()["referenceNo"]}
        assert len(references) == 3
        assert listed["totalCount"] == 3 and {d["referenceNo"] for d in listed["documents"]} == references
        assert aritems["totalCount"] == 3 and len({a["arItemId"] for a in aritems["arItems"]}) == 3
        assert key == (3, 0)
        return
    assert listed["totalCount"] == 1 and aritems["totalCount"] == 1
    assert key == (1, 2)
    if reading == "strict-unique":
        for r in (again, third):
            assert r.status_code == 409
            assert r.json() == {
                "status": "ERROR", "result": "DUPLICATE", "message": "documentNo 88776655 already exists",
                "clientNo": 2218, "documentNo": "88776655",
            }
        return
    # lenient and as-documented: the same document is answered EXISTS (200, or 201 as the page lists only 201).
    assert again.status_code == (201 if reading == "as-documented" else 200)
    assert again.json()["result"] == "EXISTS" and again.json()["referenceNo"] == first.json()["referenceNo"]
    assert third.status_code == (422 if reading == "as-documented" else 409)
    assert third.json()["message"].startswith("documentNo 88776655 already exists with different data")


def test_document_batch_repeat(reading_client: httpx.Client, reading: str) -> None:
    c = arm_login(reading_client)
    assert c.post(f"{ARM}/documents", json=DOCUMENT_EXAMPLE).status_code == 201
    new = fresh(DOCUMENT_EXAMPLE["document"])
    new["documentNo"] = "88776656"
    r = c.post(f"{ARM}/documents/batches", json={"metadata": {}, "documents": [DOCUMENT_EXAMPLE["document"], new, new]})
    assert r.status_code == 202
    settle()
    done = c.get(f"{ARM}/batches/{r.json()['batchUuid']}")
    fits(c, "GET", f"{ARM_T}/batches/{{batchuuid}}", done)
    items = [(i["result"], i["message"]) for i in done.json()["items"]]
    if reading == "strict-unique":
        assert done.status_code == 206 and done.json()["result"] == "PARTIAL"
        assert items == [
            ("DUPLICATE", "documentNo 88776655 already exists"),
            ("CREATED", "CREATED"),
            ("DUPLICATE", "documentNo 88776656 already exists"),
        ]
        assert counts(c, "arm.documents") == {"88776655": (1, 1), "88776656": (1, 1)}
    elif reading == "no-dedup":
        assert done.status_code == 200 and [i[0] for i in items] == ["CREATED"] * 3
        assert counts(c, "arm.documents") == {"88776655": (2, 0), "88776656": (2, 0)}
    else:
        assert done.status_code == 200 and [i[0] for i in items] == ["EXISTS", "CREATED", "EXISTS"]
        assert counts(c, "arm.documents") == {"88776655": (1, 1), "88776656": (1, 1)}


# --- ARM autopostings ---------------------------------------------------------------------------------


def test_rejected_autoposting_batch(reading_client: httpx.Client, reading: str) -> None:
    c = arm_login(reading_client)
    seed(c, arm_documents=[ARM_EXAMPLE_SEED])
    body = fresh(AUTOPOSTING_EXAMPLE)
    body["postings"].append({**body["postings"][0], "arItemId": "2218-500002-99999-0"})
    r = c.post(f"{ARM}/autopostings/payment", json=body)
    fits(c, "POST", f"{ARM_T}/autopostings/{{autopostingmethod}}", r)
    answer = r.json()
    assert [(p["result"], p["resultType"]) for p in answer["autoPostings"]] == [("FAILED", "BATCH-REJECTED"), ("FAILED", "ERROR")]
    if reading == "as-documented":
        assert r.status_code == 200 and (answer["status"], answer["result"]) == ("PROCESSED", "FAILED")
    else:
        assert r.status_code == 400 and (answer["status"], answer["result"]) == ("ERROR", "REJECTED")
    assert answer["message"] == "Batch rejected: 1 of 2 posting(s) failed"
    assert counts(c, "arm.autopostings") == {}  # nothing applied
    assert c.get(f"{ARM}/aritems").json()["arItems"][0]["currencyAmountOpen"] == 6500


def test_autoposting_repeat_is_applied_again_under_every_reading(reading_client: httpx.Client) -> None:
    # Amili documents no uniqueness for autopostings; no reading invents one.
    c = arm_login(reading_client)
    seed(c, arm_documents=[ARM_EXAMPLE_SEED])
    for _ in range(2):
        r = c.post(f"{ARM}/autopostings/payment", json=AUTOPOSTING_EXAMPLE)
        assert r.status_code == 200 and r.json()["result"] == "CREATED"
    assert counts(c, "arm.autopostings") == {"2218-500002-35078-0/2025-07-16": (2, 0)}


# --- Collection -----------------------------------------------------------------------------------------


def _submit(c: httpx.Client, *items: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return c.post(PAYMENTS, json={"organizationId": ORG, "payments": list(items)}, headers=headers)


def _batch(c: httpx.Client, batch_id: str) -> dict[str, Any]:
    r = c.get(f"{COL}/orgs/{ORG}/batches/{batch_id}")
    fits(c, "GET", f"{COL}/orgs/{{orgId}}/batches/{{batchId}}", r)
    return dict(r.json()["data"])


def test_collection_repeated_source_payment_id(reading_client: httpx.Client, reading: str) -> None:
    c = arm_login(reading_client)
    seed(c, collection_invoices=INVOICES)
    first = _submit(c, payment("P-1"))
    assert first.status_code == 202
    # Sent again while the first batch is still queued, and again after it was processed.
    queued = _submit(c, payment("P-1"), payment("P-2"))
    settle()
    later = _submit(c, payment("P-1"))
    for r in (first, queued, later):
        fits(c, "POST", PAYMENTS_T, r)
    settle()
    settlements = c.get(f"{COL}/orgs/{ORG}/settlements").json()["data"]
    batches = c.get(f"{COL}/orgs/{ORG}/batches").json()["data"]
    if reading == "strict-unique":
        for r, field in ((queued, "payments[0].uniqueSourcePaymentId"), (later, "payments[0].uniqueSourcePaymentId")):
            assert r.status_code == 409
            assert r.json() == {"summary": {"status": "FAILED"}, "errors": [{"field": field, "message": "duplicate uniqueSourcePaymentId P-1"}]}
        assert len(batches) == 1  # nothing of a refused request is stored (P-2 neither)
        assert counts(c, "collection.payments") == {"P-1": (1, 2)}
        assert len(settlements) == 1
        return
    assert queued.status_code == later.status_code == 202
    second = _batch(c, accepted_body(queued, reading)["data"]["batchId"])
    third = _batch(c, accepted_body(later, reading)["data"]["batchId"])
    if reading == "no-dedup":
        # Applied again and settled again, each time.
        assert (second["status"], third["status"]) == ("SUCCESS", "SUCCESS")
        assert counts(c, "collection.payments") == {"P-1": (3, 0), "P-2": (1, 0)}
        assert [s["uniqueSourcePaymentId"] for s in settlements] == ["P-1", "P-1", "P-2", "P-1"]
        return
    assert (second["status"], third["status"]) == ("PARTIAL", "FAILED")
    assert second["failed"][0]["message"] == third["failed"][0]["message"] == "duplicate uniqueSourcePaymentId"
    assert counts(c, "collection.payments") == {"P-1": (1, 2), "P-2": (1, 0)}
    assert len(settlements) == 2


def test_collection_repeat_inside_one_request(reading_client: httpx.Client, reading: str) -> None:
    c = arm_login(reading_client)
    seed(c, collection_invoices=INVOICES)
    r = _submit(c, payment("P-1"), payment("P-1"))
    fits(c, "POST", PAYMENTS_T, r)
    if reading == "strict-unique":
        assert r.status_code == 409
        assert r.json()["errors"] == [{"field": "payments[1].uniqueSourcePaymentId", "message": "duplicate uniqueSourcePaymentId P-1"}]
        settle()
        assert c.get(f"{COL}/orgs/{ORG}/batches").json()["data"] == []
        assert counts(c, "collection.payments") == {"P-1": (0, 1)}  # refused, never stored
        return
    settle()
    batch = _batch(c, accepted_body(r, reading)["data"]["batchId"])
    if reading == "no-dedup":
        assert batch["status"] == "SUCCESS" and counts(c, "collection.payments") == {"P-1": (2, 0)}
    else:
        assert batch["status"] == "PARTIAL" and counts(c, "collection.payments") == {"P-1": (1, 1)}


def test_collection_repeated_idempotency_key(reading_client: httpx.Client, reading: str) -> None:
    c = arm_login(reading_client)
    seed(c, collection_invoices=INVOICES)
    first = _submit(c, payment("P-1"), key="K-1")
    settle()
    again = _submit(c, payment("P-1"), key="K-1")
    other = _submit(c, payment("P-9"), key="K-1")
    for r in (first, again, other):
        fits(c, "POST", PAYMENTS_T, r)
    settle()
    first_id = accepted_body(first, reading)["data"]["batchId"]
    found = c.get(f"{COL}/orgs/{ORG}/batches", params={"IdempotencyKey": "K-1"})
    fits(c, "GET", f"{COL}/orgs/{{orgId}}/batches", found)
    found_ids = [b["batchId"] for b in found.json()["data"]]
    if reading == "strict-unique":
        for r in (again, other):
            assert r.status_code == 409
            assert r.json() == {
                "summary": {"status": "FAILED"},
                "errors": [{"field": "Idempotency-Key", "message": f"Idempotency-Key 'K-1' already exists (batch {first_id})"}],
            }
        assert found_ids == [first_id]
        assert counts(c, "collection.payments") == {"P-1": (1, 1), "P-9": (0, 1)}  # every refused payment counted
        return
    if reading == "no-dedup":
        # The header is ignored: every request is a new batch, no batch carries a key, the search finds none.
        assert again.status_code == other.status_code == 202
        assert len({first_id, again.json()["data"]["batchId"], other.json()["data"]["batchId"]}) == 3
        assert found_ids == []
        assert _batch(c, first_id)["idempotencyKey"] is None
        assert counts(c, "collection.payments") == {"P-1": (2, 0), "P-9": (1, 0)}
        return
    assert again.status_code == 202 and accepted_body(again, reading) == accepted_body(first, reading)  # replayed
    assert other.status_code == (422 if reading == "as-documented" else 409)  # the page lists no 409
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert found_ids == [first_id]
    assert counts(c, "collection.payments") == {"P-1": (1, 1)}


# --- Collection shapes under as-documented ------------------------------------------------------------


@pytest.mark.parametrize("any_reading_sandbox", ["as-documented"], indirect=True)
def test_as_documented_collection_shapes(reading_client: httpx.Client) -> None:
    c = arm_login(reading_client)
    seed(c, collection_invoices=INVOICES)
    r = _submit(c, payment("P-1", type=0), payment("P-2", type=0, invoiceId="nope", invoiceNumber=None), key="K-1")
    assert r.status_code == 202 and r.headers["content-type"] == "application/json"
    batch_id = json.loads(r.json())["data"]["batchId"]
    # Byte for byte the page's way of printing it: a quoted JSON string of the document indented by two.
    base = str(c.base_url).rstrip("/")
    document = (
        '{\n  "summary": {\n    "status": "SUCCESS"\n  },\n  "data": {\n    "batchId": "%s",\n'
        '    "batchUrl": "%s/collection/v1/batches/%s"\n  }\n}' % (batch_id, base, batch_id)
    )
    assert r.content == json.dumps(document).encode()
    settle()
    invoice = INVOICES[0]
    fields = ["batchId", "type", "status", "createdAt", "finishedAt", "organizationId", "createdBy", "succeeded", "failed"]
    for url in (f"{COL}/orgs/{ORG}/batches/{batch_id}", f"{COL}/batches/{batch_id}"):
        data = c.get(url).json()["data"]
        assert list(data) == fields
        assert data["succeeded"] == [{"invoiceId": "inv-1", "invoiceNumber": invoice["invoiceNumber"], "caseId": data["succeeded"][0]["caseId"]}]
        assert data["failed"] == [{"invoiceId": "nope", "invoiceNumber": None, "message": "invoice nope not found"}]
    found = c.get(f"{COL}/orgs/{ORG}/batches", params={"IdempotencyKey": "K-1"}).json()["data"]
    assert [list(b) for b in found] == [fields]  # the search still filters by the key, which is not shown
    assert c.get(f"{COL}/orgs/{ORG}/batches", params={"IdempotencyKey": "K-2"}).json()["data"] == []


def test_collection_payment_type(reading_client: httpx.Client, reading: str) -> None:
    c = arm_login(reading_client)
    seed(c, collection_invoices=INVOICES)
    assert _submit(c, payment("P-1", type=0)).status_code == 202
    r = _submit(c, payment("P-2", type="DIRECT_PAYMENT"))
    fits(c, "POST", PAYMENTS_T, r)
    if reading == "as-documented":
        assert r.status_code == 422
        assert r.json()["errors"] == [{"field": "payments[0].type", "message": 'type must be an integer (as in the example, "type": 0)'}]
    else:
        assert r.status_code == 202


# --- ADA ------------------------------------------------------------------------------------------------


def test_ada_repeat(reading_client: httpx.Client, reading: str) -> None:
    c = ada_login(reading_client)
    seed(c, ada_cases=[ADA_EXAMPLE_SEED])
    first = c.post(ADA, json=ADA_EXAMPLE)
    again = c.post(ADA, json=ADA_EXAMPLE)
    for r in (first, again):
        fits(c, "POST", ADA, r)
    assert first.status_code == 201
    stored = c.get(ADA, params={"where": '{"creditor_payment_reference": "PAY-REF-001"}'}).json()["_meta"]["total"]
    key = counts(c, "ada.creditor-payments")["PAY-REF-001"]
    if reading == "no-dedup":
        assert again.status_code == 201 and again.json()["_id"] != first.json()["_id"]
        assert stored == 2 and key == (2, 0)
        return
    assert stored == 1 and key == (1, 1)
    if reading == "strict-unique":
        assert again.status_code == 409
        assert again.json() == {"_status": "ERR", "_error": {"code": 409, "message": "duplicate creditor_payment_reference 'PAY-REF-001'"}}
    else:
        assert again.status_code == 422
        assert again.json()["_issues"] == {"creditor_payment_reference": "value 'PAY-REF-001' is not unique"}


def test_ada_bulk_repeat(reading_client: httpx.Client, reading: str) -> None:
    c = ada_login(reading_client)
    seed(c, ada_cases=[ADA_EXAMPLE_SEED])
    assert c.post(ADA, json=ADA_EXAMPLE).status_code == 201
    fresh_one = {**ADA_EXAMPLE, "creditor_payment_reference": "PAY-REF-002"}
    stored_again = c.post(ADA, json=[fresh_one, ADA_EXAMPLE])  # a reference stored earlier
    within = c.post(ADA, json=[{**ADA_EXAMPLE, "creditor_payment_reference": "PAY-REF-003"}] * 2)  # repeated inside the list
    for r in (stored_again, within):
        fits(c, "POST", ADA, r)
    total = c.get(ADA).json()["_meta"]["total"]
    if reading == "no-dedup":
        assert stored_again.status_code == within.status_code == 201
        assert total == 5
        assert counts(c, "ada.creditor-payments") == {"PAY-REF-001": (2, 0), "PAY-REF-002": (1, 0), "PAY-REF-003": (2, 0)}
        return
    assert total == 1  # all or nothing: neither list stored anything
    if reading == "strict-unique":
        # Every refusal is in the ledger, also of a key never stored (accepted 0).
        assert counts(c, "ada.creditor-payments") == {"PAY-REF-001": (1, 1), "PAY-REF-003": (0, 1)}
        assert stored_again.status_code == within.status_code == 409
        assert stored_again.json()["_error"] == {"code": 409, "message": "duplicate creditor_payment_reference 'PAY-REF-001' at index 1"}
        assert within.json()["_error"] == {"code": 409, "message": "duplicate creditor_payment_reference 'PAY-REF-003' at index 1"}
    else:
        # Eve's 422 refuses the whole list; a key never stored has no ledger entry (as before readings existed).
        assert counts(c, "ada.creditor-payments") == {"PAY-REF-001": (1, 1)}
        assert stored_again.status_code == within.status_code == 422
        assert [i["_status"] for i in stored_again.json()["_items"]] == ["OK", "ERR"]


# --- the serve command -----------------------------------------------------------------------------------


def test_serve_plays_the_reading_it_is_given() -> None:
    with serving("--reading", "strict-unique") as base:
        assert httpx.get(f"{base}/_sandbox/health").json() == {"status": "ok", "reading": "strict-unique"}


def test_serve_refuses_an_unknown_reading() -> None:
    proc = subprocess.run(_command("--port", "9", "--reading", "strict"), env=_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "amili-etl: error: sandbox: unknown reading 'strict'; known: lenient, strict-unique, no-dedup, as-documented"
    ]


def test_serve_help_lists_every_reading() -> None:
    proc = subprocess.run(_command("--help"), env=_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for name in READINGS:
        assert f"  {name}  " in proc.stdout
