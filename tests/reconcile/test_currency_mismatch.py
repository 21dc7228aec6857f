"""currency_mismatch.sql: matched, but paid in another currency than the invoice's."""

from __future__ import annotations

from tests.reconcile.support import match, payment, query


def test_other_currency_reported(store) -> None:
    payment(store, "eur", currency="EUR")
    match(store, "eur", "reference", invoice_number="5", outstanding_minor=10_000, invoice_currency="NOK")
    payment(store, "nok", source_line=2)
    match(store, "nok", "reference", invoice_number="6", outstanding_minor=10_000, invoice_currency="NOK")
    rows = query(store, "currency_mismatch")
    assert [(r["source_line"], r["currency"], r["detail"]) for r in rows] == [(1, "EUR", "invoice is in NOK")]
