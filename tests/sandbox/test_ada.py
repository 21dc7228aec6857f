"""ADA: creditor payments in Eve style: the docs' example, 422 rules, bulk all-or-nothing, lists, payouts."""

from __future__ import annotations

import re
from typing import Any

import httpx
import orjson
import pytest

from .support import ADA_EXAMPLE, ADA_EXAMPLE_SEED, fresh, ledger, seed

PAYMENTS = "/ada/creditor--payments"
CREDITOR = ADA_EXAMPLE["creditor"]
RFC1123 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")


def example(**changes: Any) -> dict[str, Any]:
    """The docs' example with some fields changed (None removes a field)."""
    body = fresh(ADA_EXAMPLE)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def test_docs_example_is_stored(ada: httpx.Client) -> None:
    seed(ada, ada_cases=[ADA_EXAMPLE_SEED])
    r = ada.post(PAYMENTS, json=ADA_EXAMPLE)
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"_updated", "_created", "_etag", "_id", "_status", "_payment_status"}
    assert body["_status"] == "OK" and body["_payment_status"] == "completed"
    assert re.fullmatch(r"[0-9a-f]{24}", body["_id"]) and re.fullmatch(r"[0-9a-f]{40}", body["_etag"])
    assert RFC1123.match(body["_created"]) and RFC1123.match(body["_updated"])
    stored = ada.get(f"{PAYMENTS}/{body['_id']}").json()
    assert stored["status"] == "completed" and stored["settled_amount"] == 100
    assert stored["case_invoice_number"] == "INV-1001" and stored["case_reference_number"]
    assert RFC1123.match(stored["booking_date"])
    assert stored["creditor_payment_reference"] == "PAY-REF-001"
    assert stored["_etag"] == body["_etag"]
    item = ledger(ada, "ada.creditor-payments")["PAY-REF-001"]
    assert (item["amount"], item["currency"], item["accepted"]) == ("100.00", "SEK", 1)


def test_payment_by_invoice_number_and_overpayment_warning(ada: httpx.Client) -> None:
    seed(ada, ada_cases=[ADA_EXAMPLE_SEED])  # 250.00 outstanding
    first = ada.post(PAYMENTS, json=example(case=None, invoice_number="INV-1001", amount=200.5, creditor_payment_reference="R1"))
    assert first.json()["_payment_status"] == "completed"
    second = ada.post(PAYMENTS, json=example(amount=100, creditor_payment_reference="R2"))
    assert second.status_code == 201
    assert second.json()["_payment_status"] == "warning"
    stored = ada.get(f"{PAYMENTS}/{second.json()['_id']}").json()
    assert stored["settled_amount"] == 49.5 and stored["status"] == "warning"
    payouts = ada.get("/ada/finance--payout-specifications").json()["_items"]
    assert [(p["amount"], p["total_amount"], p["finance_category"], p["invoice_number"]) for p in payouts] == [
        (200.5, 200.5, "capital", "INV-1001"),
        (49.5, 49.5, "capital", "INV-1001"),
    ]
    assert all(p["reference_number"] == stored["case_reference_number"] for p in payouts)


@pytest.mark.parametrize("field", ["creditor", "currency", "amount", "bank_transaction_date", "origin"])
def test_required_fields(ada: httpx.Client, field: str) -> None:
    seed(ada, ada_cases=[ADA_EXAMPLE_SEED])
    r = ada.post(PAYMENTS, json=example(**{field: None}))
    assert r.status_code == 422
    body = r.json()
    assert body["_status"] == "ERR"
    assert body["_issues"][field] == "required field"
    assert body["_error"] == {"code": 422, "message": "Insertion failure: 1 document(s) contain(s) error(s)"}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"invoice_number": "INV-1001"}, "case", "must not be present"),
        ({"case": None}, "case", "required"),
        ({"currency": "NOK"}, "currency", "unallowed value NOK"),
        ({"origin": "bank"}, "origin", "unallowed value bank"),
        ({"bank_transaction_date": "2025-07-04"}, "bank_transaction_date", "datetime"),
        ({"client_registration_date": "04.07.2025"}, "client_registration_date", "datetime"),
        ({"case": "000000000000000000000000"}, "case", "must exist"),
        ({"case": None, "invoice_number": "NOPE"}, "invoice_number", "no case"),
        ({"creditor": "someone-else"}, "case", "does not belong"),
        ({"amount": 0}, "amount", "min value"),
        ({"amount": -10}, "amount", "min value"),
        ({"amount": "100"}, "amount", "number"),
        ({"surprise": 1}, "surprise", "unknown field"),
    ],
)
def test_validation_rules(ada: httpx.Client, changes: dict[str, Any], field: str, words: str) -> None:
    seed(ada, ada_cases=[ADA_EXAMPLE_SEED])
    r = ada.post(PAYMENTS, json=example(**changes))
    assert r.status_code == 422
    assert words in r.json()["_issues"][field]
    assert ada.get(PAYMENTS).json()["_meta"]["total"] == 0


def test_creditor_payment_reference_is_unique(ada: httpx.Client) -> None:
    seed(ada, ada_cases=[ADA_EXAMPLE_SEED])
    assert ada.post(PAYMENTS, json=ADA_EXAMPLE).status_code == 201
    r = ada.post(PAYMENTS, json=ADA_EXAMPLE)
    assert r.status_code == 422
    assert r.json()["_issues"] == {"creditor_payment_reference": "value 'PAY-REF-001' is not unique"}
    item = ledger(ada, "ada.creditor-payments")["PAY-REF-001"]
    assert (item["accepted"], item["duplicates_refused"]) == (1, 1)


def test_bulk_insert_is_all_or_nothing(ada: httpx.Client) -> None:
    seed(ada, ada_cases=[ADA_EXAMPLE_SEED])
    good = [example(creditor_payment_reference=f"B{i}", amount=10) for i in range(3)]
    bad = example(creditor_payment_reference="B9", currency="EUR")
    r = ada.post(PAYMENTS, json=[*good, bad])
    assert r.status_code == 422
    body = r.json()
    assert body["_status"] == "ERR" and body["_error"]["code"] == 422
    assert [i["_status"] for i in body["_items"]] == ["OK", "OK", "OK", "ERR"]
    assert body["_items"][3]["_issues"] == {"currency": "unallowed value EUR"}
    assert ada.get(PAYMENTS).json()["_meta"]["total"] == 0
    ok = ada.post(PAYMENTS, json=good)
    assert ok.status_code == 201
    assert ok.json()["_status"] == "OK"
    assert [i["_status"] for i in ok.json()["_items"]] == ["OK", "OK", "OK"]
    assert ada.get(PAYMENTS).json()["_meta"]["total"] == 3


def test_bulk_refuses_a_repeat_within_the_request(ada: httpx.Client) -> None:
    seed(ada, ada_cases=[ADA_EXAMPLE_SEED])
    r = ada.post(PAYMENTS, json=[example(amount=1), example(amount=2)])
    assert r.status_code == 422
    assert r.json()["_items"][1]["_issues"]["creditor_payment_reference"].endswith("is not unique")


def test_empty_bulk_is_400(ada: httpx.Client) -> None:
    r = ada.post(PAYMENTS, json=[])
    assert r.status_code == 400
    assert r.json() == {"_status": "ERR", "_error": {"code": 400, "message": "Empty bulk insert"}}


def test_where_sort_and_max_results(ada: httpx.Client) -> None:
    seed(ada, ada_cases=[{**ADA_EXAMPLE_SEED, "amount": 100000}])
    docs = [example(creditor_payment_reference=f"R{i:03d}", amount=i + 1) for i in range(130)]
    assert ada.post(PAYMENTS, json=docs).status_code == 201
    default = ada.get(PAYMENTS).json()
    assert default["_meta"] == {"page": 1, "max_results": 25, "total": 130}
    assert len(default["_items"]) == 25 and "next" in default["_links"]
    clamped = ada.get(PAYMENTS, params={"max_results": 500, "page": 2}).json()
    assert clamped["_meta"] == {"page": 2, "max_results": 100, "total": 130}
    assert len(clamped["_items"]) == 30
    found = ada.get(PAYMENTS, params={"where": orjson.dumps({"creditor_payment_reference": "R042"}).decode()}).json()
    assert [d["amount"] for d in found["_items"]] == [43]
    assert found["_meta"]["total"] == 1
    by_amount = ada.get(PAYMENTS, params={"sort": "-amount", "max_results": 3}).json()
    assert [d["amount"] for d in by_amount["_items"]] == [130, 129, 128]
    newest = ada.get(PAYMENTS, params={"sort": "-_created", "max_results": 1}).json()
    assert newest["_meta"]["total"] == 130
    assert ada.get(PAYMENTS, params={"where": "{nope"}).status_code == 400


def test_unknown_payment_is_404(ada: httpx.Client) -> None:
    r = ada.get(f"{PAYMENTS}/0123456789abcdef01234567")
    assert r.status_code == 404
    assert r.json()["_error"]["code"] == 404


def test_payment_to_a_closed_case_is_stored_with_status_error(ada: httpx.Client) -> None:
    seed(ada, ada_cases=[{**ADA_EXAMPLE_SEED, "closed": True}])
    r = ada.post(PAYMENTS, json=ADA_EXAMPLE)
    assert r.status_code == 201 and r.json()["_payment_status"] == "error"
    stored = ada.get(f"{PAYMENTS}/{r.json()['_id']}").json()
    assert (stored["status"], stored["settled_amount"], stored["status_reason_locale"]) == ("error", 0, "creditor_payment.case_closed")
    assert ada.get("/ada/finance--payout-specifications").json()["_items"] == []  # nothing settled, nothing paid out
