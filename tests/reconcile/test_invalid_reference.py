"""invalid_reference.sql: a reference failing its check digit, saying how the payment was matched anyway."""

from __future__ import annotations

from tests.reconcile.support import match, payment, query


def test_bad_check_digit_reported_with_the_rule_that_matched(store) -> None:
    payment(store, "k1", reference="7050092", reference_valid=False, source_line=12)
    match(store, "k1", "invoice_number", invoice_number="705009", evidence="invoice number given in the payment")
    payment(store, "k2", reference="7050107", reference_valid=True, source_line=9)
    payment(store, "k3", reference="1234", reference_valid=False, source_line=3, duplicate_of="x:1")
    rows = query(store, "invalid_reference")
    assert len(rows) == 1
    assert (rows[0]["source_line"], rows[0]["invoice_number"]) == (12, "705009")
    assert rows[0]["detail"].startswith("check digit fails; matched by invoice number")
