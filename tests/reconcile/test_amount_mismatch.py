"""amount_mismatch.sql: matched payments paying less or more than is open; exact and other-currency ones not."""

from __future__ import annotations

from tests.reconcile.support import match, payment, query


def test_under_and_over_against_what_is_open(store) -> None:
    payment(store, "under", source_line=1, amount_minor=4_000)
    match(store, "under", "reference", invoice_number="1", outstanding_minor=10_000, invoice_currency="NOK")
    payment(store, "over", source_line=2, amount_minor=11_500)
    match(store, "over", "amount_name", invoice_number="2", outstanding_minor=11_000, invoice_currency="NOK")
    payment(store, "exact", source_line=3, amount_minor=7_000)
    match(store, "exact", "multi_invoice", invoice_number="3", invoice_numbers="3, 4", outstanding_minor=7_000,
          invoice_currency="NOK")
    payment(store, "eur", source_line=4, amount_minor=1, currency="EUR")
    match(store, "eur", "reference", invoice_number="5", outstanding_minor=10_000, invoice_currency="NOK")
    rows = query(store, "amount_mismatch")
    assert [(r["category"], r["source_line"], r["expected_minor"]) for r in rows] == [
        ("underpayment", 1, 10_000), ("overpayment", 2, 11_000)]
    assert rows[1]["detail"] == "matched by amount_name; open on 2: 110.00"
