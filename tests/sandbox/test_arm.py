"""ARM: documents (one and batches), lists, payment reservations and autopostings, with the docs' examples."""

from __future__ import annotations


import httpx
import pytest

from etl.sandbox import EmbeddedSandbox, SandboxConfig

from .support import (
    ARM_EXAMPLE_SEED,
    AUTOPOSTING_EXAMPLE,
    AUTOPOSTING_RESPONSE_EXAMPLE,
    BATCH_DELAY_S,
    CLOCK,
    DOCUMENT_EXAMPLE,
    RESERVATION_EXAMPLE,
    RESERVATION_RESPONSE_EXAMPLE,
    arm_login,
    fresh,
    ledger,
    seed,
)

DOCS = "/arm/clients/2218/documents"
RESERVATIONS = "/arm/clients/2218/paymentreservations"


def document(no: str, customer: str = "C1", amount: float = 100) -> dict[str, object]:
    """A minimal valid document body."""
    return {
        "metadata": {},
        "document": {
            "documentType": "IN",
            "customerNo": customer,
            "documentNo": no,
            "documentDate": "2025-01-01",
            "dueDate": "2025-01-15",
            "currency": "NOK",
            "currencyAmounts": {"inclVat": amount},
        },
    }


# --- documents ----------------------------------------------------------------------------------------


def test_docs_document_example_is_created(arm: httpx.Client) -> None:
    r = arm.post(DOCS, json=DOCUMENT_EXAMPLE)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "PROCESSED" and body["result"] == "CREATED"
    assert body["clientNo"] == 2218
    assert (body["accountNo"], body["referenceNo"]) == (500001, 35001)
    assert body["customerNo"] == "543210" and body["documentNo"] == "88776655"
    assert isinstance(body["documentBundleId"], int)
    assert body["warnings"] == []
    assert ledger(arm, "arm.documents")["88776655"] == {
        "api": "arm.documents",
        "scope": "2218",
        "key": "88776655",
        "amount": "6500.00",
        "currency": "NOK",
        "accepted": 1,
        "duplicates_refused": 0,
    }


def test_accounts_per_customer_and_references_per_client(arm: httpx.Client) -> None:
    first = arm.post(DOCS, json=document("D1", "A")).json()
    second = arm.post(DOCS, json=document("D2", "B")).json()
    third = arm.post(DOCS, json=document("D3", "A")).json()
    assert [first["accountNo"], second["accountNo"], third["accountNo"]] == [500001, 500002, 500001]
    assert [first["referenceNo"], second["referenceNo"], third["referenceNo"]] == [35001, 35002, 35003]
    other_client = arm.post("/arm/clients/9999/documents", json=document("D1", "A")).json()
    assert (other_client["accountNo"], other_client["referenceNo"]) == (500001, 35001)


def test_same_document_again_exists_and_is_not_created_twice(arm: httpx.Client) -> None:
    assert arm.post(DOCS, json=DOCUMENT_EXAMPLE).status_code == 201
    again = fresh(DOCUMENT_EXAMPLE)
    again["metadata"] = {"userId": "SomeoneElse"}  # metadata does not make it a different document
    r = arm.post(DOCS, json=again)
    assert r.status_code == 200
    assert r.json()["result"] == "EXISTS"
    assert r.json()["referenceNo"] == 35001
    listed = arm.get(DOCS, params={"documentno": "88776655"}).json()
    assert listed["totalCount"] == 1
    item = ledger(arm, "arm.documents")["88776655"]
    assert (item["accepted"], item["duplicates_refused"]) == (1, 1)


def test_same_document_number_with_other_data_conflicts(arm: httpx.Client) -> None:
    assert arm.post(DOCS, json=DOCUMENT_EXAMPLE).status_code == 201
    changed = fresh(DOCUMENT_EXAMPLE)
    changed["document"]["dueDate"] = "2025-04-01"
    r = arm.post(DOCS, json=changed)
    assert r.status_code == 409
    assert r.json()["result"] == "CONFLICT"
    assert "dueDate" in r.json()["message"]


@pytest.mark.parametrize("field", ["documentType", "customerNo", "documentNo", "documentDate", "dueDate", "currency"])
def test_required_document_fields(arm: httpx.Client, field: str) -> None:
    body = fresh(DOCUMENT_EXAMPLE)
    del body["document"][field]
    r = arm.post(DOCS, json=body)
    assert r.status_code == 422
    assert r.json()["status"] == "ERROR" and r.json()["result"] == "REJECTED"
    assert field in r.json()["message"]


def test_document_needs_incl_vat_and_valid_dates(arm: httpx.Client) -> None:
    body = fresh(DOCUMENT_EXAMPLE)
    del body["document"]["currencyAmounts"]["inclVat"]
    body["document"]["dueDate"] = "11.03.2025"
    r = arm.post(DOCS, json=body)
    assert r.status_code == 422
    assert "currencyAmounts.inclVat" in r.json()["message"] and "dueDate" in r.json()["message"]
    assert arm.post(DOCS, json={"doc": {}}).status_code == 400


def test_kid_check_is_a_switch() -> None:
    # The docs' own example KID passes neither MOD10 nor MOD11: accepted by default, refused when checked.
    with EmbeddedSandbox(SandboxConfig(kid_check=True)) as sb, httpx.Client(base_url=sb.base_url) as c:
        arm_login(c)
        r = c.post(DOCS, json=DOCUMENT_EXAMPLE)
        assert r.status_code == 422
        assert "kid" in r.json()["message"]
        good = fresh(DOCUMENT_EXAMPLE)
        good["document"]["kid"] = "1234567897"  # MOD10 ok
        assert c.post(DOCS, json=good).status_code == 201


def test_document_list_filters_and_paging(arm: httpx.Client) -> None:
    for i in range(25):
        arm.post(DOCS, json=document(f"N{i:02d}", customer=f"C{i % 3}"))
    one = arm.get(DOCS, params={"documentno": "n07"}).json()  # values are case-insensitive
    assert one["totalCount"] == 1 and one["documents"][0]["documentNo"] == "N07"
    assert one["documents"][0]["arItemId"] == f"2218-{one['documents'][0]['accountNo']}-35008-0"
    tiny = arm.get(DOCS, params={"pagesize": 3}).json()  # below 5 becomes 10
    assert tiny["pageSize"] == 10 and len(tiny["documents"]) == 10 and tiny["totalCount"] == 25
    capped = arm.get(DOCS, params={"maximumcount": 12, "pagesize": 10, "pageno": 2}).json()
    assert capped["totalCount"] == 12 and len(capped["documents"]) == 2
    assert arm.get(DOCS, params={"pagesize": 5000}).json()["pageSize"] == 1000
    by_customer = arm.get("/arm/clients/2218/aritems", params={"customerno": "C1"}).json()
    assert by_customer["totalCount"] == 8
    assert by_customer["arItems"][0]["currencyAmountOpen"] == 100
    assert arm.get("/arm/clients/2218/customers").json()["totalCount"] == 3
    assert arm.get(DOCS, params={"pagesize": "x"}).status_code == 400


# --- document batches ---------------------------------------------------------------------------------


def test_document_batch_goes_from_202_to_200(arm: httpx.Client) -> None:
    r = arm.post(f"{DOCS}/batches", json={"metadata": {}, "documents": [document("B1")["document"], document("B2")["document"]]})
    assert r.status_code == 202
    answer = r.json()
    assert (answer["status"], answer["result"], answer["clientNo"]) == ("RECEIVED", "ACCEPTED", 2218)
    status_url = f"/arm/clients/2218/batches/{answer['batchUuid']}"
    assert arm.get(status_url).status_code == 202
    assert arm.get(DOCS, params={"documentno": "B1"}).json()["totalCount"] == 0  # not processed yet
    CLOCK.advance(BATCH_DELAY_S + 0.05)
    done = arm.get(status_url)
    assert done.status_code == 200
    items = done.json()["items"]
    assert [i["documentNo"] for i in items] == ["B1", "B2"]
    assert [i["result"] for i in items] == ["CREATED", "CREATED"]
    assert items[0]["arItemId"] == f"2218-{items[0]['accountNo']}-{items[0]['referenceNo']}-0"
    assert arm.get("/arm/clients/1/batches/" + answer["batchUuid"]).status_code == 404


def test_document_batch_with_failures_is_206(arm: httpx.Client) -> None:
    bad = document("B2")["document"]
    del bad["dueDate"]
    r = arm.post(f"{DOCS}/batches", json={"metadata": {}, "documents": [document("B1")["document"], bad]})
    CLOCK.advance(BATCH_DELAY_S + 0.05)
    done = arm.get(f"/arm/clients/2218/batches/{r.json()['batchUuid']}")
    assert done.status_code == 206
    assert done.json()["result"] == "PARTIAL"
    assert [i["result"] for i in done.json()["items"]] == ["CREATED", "REJECTED"]
    assert "dueDate" in done.json()["items"][1]["message"]
    assert arm.post(f"{DOCS}/batches", json={"metadata": {}, "documents": []}).status_code == 400


# --- payment reservations -----------------------------------------------------------------------------


def test_docs_reservation_example_gives_the_docs_response(arm: httpx.Client) -> None:
    stored = seed(arm, arm_documents=[ARM_EXAMPLE_SEED])
    assert stored["arm_documents"][0]["arItemId"] == "2218-500002-35078-0"
    r = arm.post(RESERVATIONS, json=RESERVATION_EXAMPLE)
    assert r.status_code == 200, r.text
    assert r.json() == {**RESERVATION_RESPONSE_EXAMPLE, "paymentId": "PM285000350786"}
    item = ledger(arm, "arm.paymentreservations")["PM285000350786"]
    assert (item["amount"], item["currency"], item["accepted"]) == ("120.50", "NOK", 1)


def test_repeated_payment_id_is_answered_but_not_stored_twice(arm: httpx.Client) -> None:
    seed(arm, arm_documents=[ARM_EXAMPLE_SEED])
    first = arm.post(RESERVATIONS, json=RESERVATION_EXAMPLE)
    again = arm.post(RESERVATIONS, json=RESERVATION_EXAMPLE)
    assert again.status_code == 200 and again.json() == first.json()
    changed = fresh(RESERVATION_EXAMPLE)
    changed["paymentreservation"]["currencyAmountPaid"] = 99
    conflict = arm.post(RESERVATIONS, json=changed)
    assert conflict.status_code == 409
    assert conflict.json()["result"] == "CONFLICT"
    item = ledger(arm, "arm.paymentreservations")["PM285000350786"]
    assert (item["accepted"], item["duplicates_refused"], item["amount"]) == (1, 2, "120.50")


@pytest.mark.parametrize(
    ("identifier", "value"),
    [
        ("documentNo", "88776655"),
        ("referenceNo", 35078),
        ("kid", "500221850000200350786"),
        ("customerNo", "543210"),
        ("accountNo", 500002),
    ],
)
def test_reservation_identifiers(arm: httpx.Client, identifier: str, value: object) -> None:
    seed(arm, arm_documents=[ARM_EXAMPLE_SEED])
    body = fresh(RESERVATION_EXAMPLE)
    del body["paymentreservation"]["arItemId"]
    body["paymentreservation"][identifier] = value
    r = arm.post(RESERVATIONS, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["accountNo"] == 500002


def test_reservation_by_document_uuid(arm: httpx.Client) -> None:
    uuid = seed(arm, arm_documents=[ARM_EXAMPLE_SEED])["arm_documents"][0]["documentUuid"]
    body = fresh(RESERVATION_EXAMPLE)
    body["paymentreservation"] = {**body["paymentreservation"], "arItemId": None, "documentUuid": uuid}
    assert arm.post(RESERVATIONS, json=body).status_code == 200


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"arItemId": "2218-1-1-0"}, "No document or customer"),
        ({"arItemId": None}, "Identify a document"),
        ({"paymentId": None}, "paymentId"),
        ({"currencyAmountPaid": 0}, "positive"),
        ({"currencyAmountPaid": -5}, "positive"),
        ({"currencyAmountPaid": "120.50"}, "number"),
        ({"currency": "SEK"}, "currency"),
        ({"paidTime": "yesterday"}, "paidTime"),
    ],
)
def test_reservation_refusals(arm: httpx.Client, change: dict[str, object], words: str) -> None:
    seed(arm, arm_documents=[ARM_EXAMPLE_SEED])
    body = fresh(RESERVATION_EXAMPLE)
    body["paymentreservation"].update(change)
    r = arm.post(RESERVATIONS, json=body)
    assert r.status_code == 422
    assert r.json()["status"] == "ERROR" and r.json()["result"] == "REJECTED"
    assert words in r.json()["message"]
    assert ledger(arm, "arm.paymentreservations") == {}


def test_reservation_identifiers_must_agree(arm: httpx.Client) -> None:
    seed(arm, arm_documents=[ARM_EXAMPLE_SEED, {**ARM_EXAMPLE_SEED, "documentNo": "X2", "customerNo": "7", "kid": None, "accountNo": None, "referenceNo": None}])
    body = fresh(RESERVATION_EXAMPLE)
    body["paymentreservation"]["documentNo"] = "X2"
    r = arm.post(RESERVATIONS, json=body)
    assert r.status_code == 422
    assert "different documents" in r.json()["message"]


# --- autopostings -------------------------------------------------------------------------------------


def test_docs_autoposting_example_gives_the_docs_response(arm: httpx.Client) -> None:
    seed(arm, arm_documents=[ARM_EXAMPLE_SEED])
    r = arm.post("/arm/clients/2218/autopostings/payment", json=AUTOPOSTING_EXAMPLE)
    assert r.status_code == 200, r.text
    assert r.json() == AUTOPOSTING_RESPONSE_EXAMPLE
    item = ledger(arm, "arm.autopostings")["2218-500002-35078-0/2025-07-16"]
    assert (item["amount"], item["accepted"]) == ("150.00", 1)
    open_amount = arm.get("/arm/clients/2218/aritems", params={"aritemid": "2218-500002-35078-0"}).json()["arItems"][0]
    assert open_amount["currencyAmountOpen"] == 6350


def test_one_failing_posting_rejects_the_batch(arm: httpx.Client) -> None:
    seed(arm, arm_documents=[ARM_EXAMPLE_SEED])
    body = fresh(AUTOPOSTING_EXAMPLE)
    body["postings"].append({"arItemId": "2218-500002-99999-0", "currency": "NOK", "currencyAmount": 10})
    r = arm.post("/arm/clients/2218/autopostings/payment", json=body)
    assert r.status_code == 400
    postings = r.json()["autoPostings"]
    assert [(p["result"], p["resultType"]) for p in postings] == [("FAILED", "BATCH-REJECTED"), ("FAILED", "ERROR")]
    assert "not found" in postings[1]["message"]
    assert ledger(arm, "arm.autopostings") == {}


def test_validate_only_anywhere_stores_nothing(arm: httpx.Client) -> None:
    seed(arm, arm_documents=[ARM_EXAMPLE_SEED])
    body = fresh(AUTOPOSTING_EXAMPLE)
    body["postings"].append({**body["postings"][0], "voucherDate": "2025-07-17", "validateOnly": True})
    r = arm.post("/arm/clients/2218/autopostings/payment", json=body)
    assert r.status_code == 200
    assert r.json()["result"] == "VALIDATED"
    assert {p["result"] for p in r.json()["autoPostings"]} == {"VALIDATED"}
    assert ledger(arm, "arm.autopostings") == {}


def test_warnings_reject_unless_suppressed(arm: httpx.Client) -> None:
    seed(arm, arm_documents=[ARM_EXAMPLE_SEED])
    body = fresh(AUTOPOSTING_EXAMPLE)
    body["postings"][0]["currencyAmount"] = 7000  # more than the 6500 open: a warning
    r = arm.post("/arm/clients/2218/autopostings/payment", json=body)
    assert r.status_code == 400
    assert r.json()["autoPostings"][0]["resultType"] == "WARNING"
    body["postings"][0]["suppressWarnings"] = True
    assert arm.post("/arm/clients/2218/autopostings/payment", json=body).status_code == 200
    batch_level = fresh(AUTOPOSTING_EXAMPLE)
    batch_level["metadata"]["suppressWarnings"] = True
    batch_level["postings"][0].update(currencyAmount=1, voucherDate="2025-07-18")  # open is now -500
    assert arm.post("/arm/clients/2218/autopostings/payment", json=batch_level).status_code == 200


def test_two_postings_on_one_item_add_up(arm: httpx.Client) -> None:
    seed(arm, arm_documents=[ARM_EXAMPLE_SEED])
    body = fresh(AUTOPOSTING_EXAMPLE)
    body["postings"] = [{**body["postings"][0], "currencyAmount": 4000, "voucherNo": f"V{i}"} for i in range(2)]
    r = arm.post("/arm/clients/2218/autopostings/payment", json=body)
    assert r.status_code == 400
    assert [p["resultType"] for p in r.json()["autoPostings"]] == ["BATCH-REJECTED", "WARNING"]


@pytest.mark.parametrize(
    ("change", "words"),
    [({"currency": None}, "currency"), ({"currencyAmount": 0}, "zero"), ({"currency": "SEK"}, "currency"), ({"voucherDate": "16.07.2025"}, "voucherDate")],
)
def test_posting_refusals(arm: httpx.Client, change: dict[str, object], words: str) -> None:
    seed(arm, arm_documents=[ARM_EXAMPLE_SEED])
    body = fresh(AUTOPOSTING_EXAMPLE)
    body["postings"][0].update(change)
    r = arm.post("/arm/clients/2218/autopostings/payment", json=body)
    assert r.status_code == 400
    assert words in r.json()["autoPostings"][0]["message"]


def test_unknown_autoposting_method_is_404(arm: httpx.Client) -> None:
    r = arm.post("/arm/clients/2218/autopostings/refund", json=AUTOPOSTING_EXAMPLE)
    assert r.status_code == 404
    assert r.json()["result"] == "NOT_FOUND"


def test_autoposting_methods_are_configurable() -> None:
    with EmbeddedSandbox(SandboxConfig(autoposting_methods=("settle",))) as sb, httpx.Client(base_url=sb.base_url) as c:
        arm_login(c)
        seed(c, arm_documents=[ARM_EXAMPLE_SEED])
        assert c.post("/arm/clients/2218/autopostings/Settle", json=AUTOPOSTING_EXAMPLE).status_code == 200  # case-insensitive
        refused = c.post("/arm/clients/2218/autopostings/payment", json=AUTOPOSTING_EXAMPLE)
        assert refused.status_code == 404 and "settle" in refused.json()["message"]
