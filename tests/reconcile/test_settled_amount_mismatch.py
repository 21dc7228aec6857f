"""settled_amount_mismatch.sql: Amili confirmed but settled another amount than was sent."""

from __future__ import annotations

from tests.reconcile.support import match, outbox, payment, query

ADA = "ada.creditor-payments"


def test_settled_differs(store) -> None:
    outbox(store, "k1", "confirmed", settled_minor=9_000, http_status=201, source_line=1, api=ADA)
    outbox(store, "k2", "confirmed", settled_minor=10_000, source_line=2, api=ADA)
    outbox(store, "k3", "confirmed", source_line=3, api=ADA)
    rows = query(store, "settled_amount_mismatch")
    assert [(r["source_line"], r["amount_minor"], r["expected_minor"]) for r in rows] == [(1, 9_000, 10_000)]
    assert rows[0]["detail"] == "Amili settled 90.00 of 100.00 sent"


def test_an_overpayment_settled_up_to_what_was_open_says_so(store) -> None:
    # settled_what_was_open: sent 100.00 on an invoice with 80.00 open, Amili settled 80.00.
    payment(store, "over", source_line=1, amount_minor=10_000)
    match(store, "over", "reference", invoice_number="1", outstanding_minor=8_000, invoice_currency="NOK", target=ADA)
    outbox(store, "over", "confirmed", settled_minor=8_000, api=ADA)
    # Settled something else again: not what was open, no such note.
    payment(store, "odd", source_line=2, amount_minor=10_000)
    match(store, "odd", "reference", invoice_number="2", outstanding_minor=8_000, invoice_currency="NOK", target=ADA)
    outbox(store, "odd", "confirmed", settled_minor=7_000, api=ADA, source_line=2)
    rows = {r["stable_key"]: r["detail"] for r in query(store, "settled_amount_mismatch")}
    assert rows == {"over": "Amili settled 80.00 of 100.00 sent, what was open on the invoice",
                    "odd": "Amili settled 70.00 of 100.00 sent"}
