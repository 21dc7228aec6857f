"""Collection: payments in async batches, duplicates, idempotency keys, batch search and error shapes."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from etl.sandbox import EmbeddedSandbox, SandboxConfig

from .support import BATCH_DELAY_S, CLOCK, COLLECTION_EXAMPLE, ManualClock, ORG, arm_login, fresh, ledger, seed

PAYMENTS = f"/collection/v1/orgs/{ORG}/payments"
INVOICES = [
    {"organizationId": ORG, "invoiceId": "inv-1", "invoiceNumber": "10001", "amount": 500, "currency": "NOK"},
    {"organizationId": ORG, "invoiceId": "inv-2", "invoiceNumber": "10002", "amount": 250.5, "currency": "NOK"},
]


def payment(source_id: str, **fields: Any) -> dict[str, Any]:
    """The docs' payment item with real values."""
    item = {
        **COLLECTION_EXAMPLE["payments"][0],
        "invoiceId": "inv-1",
        "invoiceNumber": "10001",
        "uniqueSourcePaymentId": source_id,
        "type": "DIRECT_PAYMENT",
        "amount": 100.25,
        "currency": "NOK",
        "description": "bank payment",
    }
    item.update(fields)
    return item


def submit(c: httpx.Client, *items: dict[str, Any], key: str | None = None) -> httpx.Response:
    """POST a payments request."""
    headers = {"Idempotency-Key": key} if key else {}
    return c.post(PAYMENTS, json={"organizationId": ORG, "payments": list(items)}, headers=headers)


def finished(c: httpx.Client, batch_id: str) -> dict[str, Any]:
    """The batch once processing is over."""
    CLOCK.advance(BATCH_DELAY_S + 0.05)
    r = c.get(f"/collection/v1/orgs/{ORG}/batches/{batch_id}")
    assert r.status_code == 200
    return dict(r.json()["data"])


def test_payment_batch_queued_then_success(arm: httpx.Client) -> None:
    seed(arm, collection_invoices=INVOICES)
    r = submit(arm, payment("P1"), payment("P2", invoiceId=None, invoiceNumber="10002", amount=250.5))
    assert r.status_code == 202, r.text
    assert r.json()["summary"] == {"status": "SUCCESS"}
    batch_id = r.json()["data"]["batchId"]
    assert r.json()["data"]["batchUrl"].endswith(f"/collection/v1/batches/{batch_id}")
    queued = arm.get(f"/collection/v1/orgs/{ORG}/batches/{batch_id}").json()["data"]
    assert queued["status"] == "QUEUED" and queued["finishedAt"] is None
    data = finished(arm, batch_id)
    assert data["status"] == "SUCCESS"
    assert data["type"] == "PAYMENT" and data["organizationId"] == ORG and data["createdBy"] == "sandbox"
    assert data["createdAt"].endswith("Z") and data["finishedAt"].endswith("Z")
    assert [s["uniqueSourcePaymentId"] for s in data["succeeded"]] == ["P1", "P2"]
    assert set(data["succeeded"][1]) == {"uniqueSourcePaymentId", "invoiceId", "invoiceNumber", "caseId"}
    assert data["succeeded"][1]["invoiceId"] == "inv-2"
    assert data["failed"] == []
    legacy = arm.get(f"/collection/v1/batches/{batch_id}")
    assert legacy.status_code == 200 and legacy.json()["data"]["status"] == "SUCCESS"
    book = ledger(arm, "collection.payments")
    assert (book["P1"]["amount"], book["P2"]["amount"]) == ("100.25", "250.50")


def test_unknown_invoice_makes_a_partial_batch(arm: httpx.Client) -> None:
    seed(arm, collection_invoices=INVOICES)
    r = submit(arm, payment("P1"), payment("P2", invoiceId="nope", invoiceNumber=None))
    data = finished(arm, r.json()["data"]["batchId"])
    assert data["status"] == "PARTIAL"
    assert data["failed"][0]["uniqueSourcePaymentId"] == "P2"
    assert "not found" in data["failed"][0]["message"]
    assert data["failed"][0]["amount"] == 100.25  # the submitted item, plus a message
    only_bad = submit(arm, payment("P3", invoiceId=None, invoiceNumber="99999"))
    assert finished(arm, only_bad.json()["data"]["batchId"])["status"] == "FAILED"


def test_repeated_source_payment_id_fails_its_item_and_is_stored_once(arm: httpx.Client) -> None:
    seed(arm, collection_invoices=INVOICES)
    first = submit(arm, payment("P1"))
    again = submit(arm, payment("P1"), payment("P2"))
    assert first.json()["data"]["batchId"] != again.json()["data"]["batchId"]
    data = finished(arm, again.json()["data"]["batchId"])
    assert data["status"] == "PARTIAL"
    assert data["failed"] == [{**payment("P1"), "message": "duplicate uniqueSourcePaymentId"}]
    item = ledger(arm, "collection.payments")["P1"]
    assert (item["accepted"], item["duplicates_refused"]) == (1, 1)


def test_idempotency_key_returns_the_same_batch(arm: httpx.Client) -> None:
    seed(arm, collection_invoices=INVOICES)
    first = submit(arm, payment("P1"), key="key-1")
    again = submit(arm, payment("P1"), key="key-1")
    assert again.status_code == 202
    assert again.json() == first.json()
    batch_id = first.json()["data"]["batchId"]
    found = arm.get(f"/collection/v1/orgs/{ORG}/batches", params={"IdempotencyKey": "key-1"}).json()
    assert [b["batchId"] for b in found["data"]] == [batch_id]
    assert found["summary"]["nextPageToken"] is None
    assert arm.get(f"/collection/v1/orgs/{ORG}/batches", params={"IdempotencyKey": "other"}).json()["data"] == []
    finished(arm, batch_id)
    assert ledger(arm, "collection.payments")["P1"]["accepted"] == 1
    conflict = submit(arm, payment("P9"), key="key-1")
    assert conflict.status_code == 409
    assert conflict.json()["errors"][0]["field"] == "Idempotency-Key"


def test_batch_search_pages_with_a_cursor(arm: httpx.Client) -> None:
    seed(arm, collection_invoices=INVOICES)
    ids = [submit(arm, payment(f"P{i}")).json()["data"]["batchId"] for i in range(5)]
    seen: list[str] = []
    token = None
    while True:
        params = {"PageSize": 2, **({"PageToken": token} if token else {})}
        page = arm.get(f"/collection/v1/orgs/{ORG}/batches", params=params).json()
        seen += [b["batchId"] for b in page["data"]]
        token = page["summary"]["nextPageToken"]
        if token is None:
            break
    assert seen == ids
    assert arm.get(f"/collection/v1/orgs/{ORG}/batches", params={"PageToken": "garbage!"}).status_code == 400


def test_docs_placeholder_example_is_accepted_and_its_item_fails(arm: httpx.Client) -> None:
    # The page's example is a schema placeholder (amount 0, currency "string", invoice "string"): well-formed, so
    # 202 as documented; its values fail the one item when the batch is processed.
    r = arm.post(PAYMENTS, json=fresh(COLLECTION_EXAMPLE))
    assert r.status_code == 202, r.text
    data = finished(arm, r.json()["data"]["batchId"])
    assert data["status"] == "FAILED" and data["succeeded"] == []
    assert data["failed"] == [{**COLLECTION_EXAMPLE["payments"][0], "message": "amount must be positive"}]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount": -1}, "amount must be positive"),
        ({"currency": "nok"}, "currency 'nok' is not an ISO 4217 code"),
        ({"currency": "SEK"}, "currency SEK differs from the invoice's currency NOK"),
        ({"invoiceId": "inv-404"}, "invoice inv-404 not found"),
        ({"invoiceId": "inv-2"}, "invoiceId inv-2 and invoiceNumber 10001 refer to different invoices"),
        ({"invoiceId": None, "invoiceNumber": "999"}, "invoice number 999 not found"),
    ],
)
def test_item_rules_fail_only_their_item(arm: httpx.Client, change: dict[str, Any], message: str) -> None:
    seed(arm, collection_invoices=INVOICES)
    r = submit(arm, payment("GOOD"), payment("BAD", **change))
    assert r.status_code == 202, r.text
    data = finished(arm, r.json()["data"]["batchId"])
    assert data["status"] == "PARTIAL"
    assert [i["uniqueSourcePaymentId"] for i in data["succeeded"]] == ["GOOD"]
    assert [(i["uniqueSourcePaymentId"], i["message"]) for i in data["failed"]] == [("BAD", message)]
    assert set(ledger(arm, "collection.payments")) == {"GOOD"}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"organizationId": "other", "payments": [payment("P1")]}, 422, "organizationId"),
        ({"organizationId": ORG, "payments": []}, 422, "payments"),
        ({"organizationId": ORG, "payments": [payment("P1", uniqueSourcePaymentId="")]}, 422, "payments[0].uniqueSourcePaymentId"),
        ({"organizationId": ORG, "payments": [payment("P1", invoiceId=None, invoiceNumber=None)]}, 422, "payments[0].invoiceId"),
        ({"organizationId": ORG, "payments": [payment("P1", date="24.08.2019")]}, 422, "payments[0].date"),
        ({"organizationId": ORG, "payments": [payment("P1", amount="100.25")]}, 422, "payments[0].amount"),
        ({"organizationId": ORG, "payments": [payment("P1", currency=None)]}, 422, "payments[0].currency"),
        ({"organizationId": ORG, "payments": [payment("P1", type=True)]}, 422, "payments[0].type"),
        ({"organizationId": ORG, "payments": [payment(f"P{i}") for i in range(1001)]}, 422, "payments"),
    ],
)
def test_payment_request_errors(arm: httpx.Client, body: dict[str, Any], status: int, field: str) -> None:
    r = arm.post(PAYMENTS, json=body)
    assert r.status_code == status
    assert field in {e["field"] for e in r.json()["errors"]}


def test_malformed_json_is_400(arm: httpx.Client) -> None:
    r = arm.post(PAYMENTS, content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["summary"] == {"status": "FAILED"}


def test_unknown_batch_is_404(arm: httpx.Client) -> None:
    assert arm.get(f"/collection/v1/orgs/{ORG}/batches/nope").status_code == 404


def test_source_payment_id_is_unique_per_organisation_only(arm: httpx.Client) -> None:
    other = "0f0e0d0c-0000-4000-8000-000000000001"
    seed(arm, collection_invoices=[*INVOICES, {**INVOICES[0], "organizationId": other}])
    assert finished(arm, submit(arm, payment("SAME")).json()["data"]["batchId"])["status"] == "SUCCESS"
    r = arm.post(f"/collection/v1/orgs/{other}/payments", json={"organizationId": other, "payments": [payment("SAME")]})
    CLOCK.advance(BATCH_DELAY_S + 0.05)
    assert arm.get(f"/collection/v1/orgs/{other}/batches/{r.json()['data']['batchId']}").json()["data"]["status"] == "SUCCESS"
    assert {(i["scope"], i["key"]) for i in arm.get("/_sandbox/ledger").json()["items"]} == {(ORG, "SAME"), (other, "SAME")}


def test_settlements_between_dates_with_cursor_paging(arm: httpx.Client) -> None:
    seed(arm, collection_invoices=INVOICES)
    r = submit(arm, *(payment(f"S{i}", amount=1 + i) for i in range(7)), payment("NOPE", invoiceId="inv-404"))
    finished(arm, r.json()["data"]["batchId"])
    url = f"/collection/v1/orgs/{ORG}/settlements"
    today = time.strftime("%Y-%m-%d", time.gmtime(CLOCK()))  # the sandbox's day
    seen, token = [], None
    while True:
        page = arm.get(url, params={"fromDate": today, "toDate": today, "pageSize": 3, **({"pageToken": token} if token else {})}).json()
        assert len(page["data"]) <= 3
        seen += page["data"]
        token = page["summary"]["nextPageToken"]
        if token is None:
            break
    assert [s["uniqueSourcePaymentId"] for s in seen] == [f"S{i}" for i in range(7)]  # the failed payment settles nothing
    assert [s["amount"] for s in seen] == [1 + i for i in range(7)]
    assert all(s["settlementDate"] == today and s["invoiceNumber"] == "10001" and s["currency"] == "NOK" for s in seen)
    assert arm.get(url, params={"fromDate": "2000-01-01", "toDate": "2000-12-31"}).json()["data"] == []
    assert arm.get(url, params={"toDate": "2000-12-31"}).json()["data"] == []
    assert len(arm.get(url, params={"fromDate": today}).json()["data"]) == 7
    one = arm.get(f"{url}/{seen[0]['settlementId']}")
    assert one.status_code == 200 and one.json()["data"] == seen[0]
    assert arm.get(f"{url}/nope").status_code == 404
    for bad in ({"fromDate": "21.11.2026"}, {"fromDate": "2026-02-01", "toDate": "2026-01-01"}, {"pageToken": "!!"}):
        refused = arm.get(url, params=bad)
        assert refused.status_code == 400 and refused.json()["summary"] == {"status": "FAILED"}


def test_batch_delay_is_configurable() -> None:
    clock = ManualClock()
    with EmbeddedSandbox(SandboxConfig(batch_delay_s=0.6, clock=clock)) as sb, httpx.Client(base_url=sb.base_url) as c:
        arm_login(c)
        seed(c, collection_invoices=INVOICES)
        batch_id = submit(c, payment("P1")).json()["data"]["batchId"]
        doc = {"documentType": "IN", "customerNo": "C", "documentNo": "D", "documentDate": "2025-01-01", "dueDate": "2025-01-02",
               "currency": "NOK", "currencyAmounts": {"inclVat": 1}}
        uuid = c.post("/arm/clients/1/documents/batches", json={"documents": [doc]}).json()["batchUuid"]
        clock.advance(0.3)
        assert c.get(f"/collection/v1/batches/{batch_id}").json()["data"]["status"] == "QUEUED"
        assert c.get(f"/arm/clients/1/batches/{uuid}").status_code == 202
        clock.advance(0.4)
        assert c.get(f"/collection/v1/batches/{batch_id}").json()["data"]["status"] == "SUCCESS"
        assert c.get(f"/arm/clients/1/batches/{uuid}").status_code == 200
