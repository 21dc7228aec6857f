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
    assert rows[1]["detail"] == "matched by amount_name; expected = what was open before this payment"


def test_a_multi_invoice_payment_names_its_invoices(store) -> None:
    payment(store, "short", source_line=1, amount_minor=6_000)
    match(store, "short", "multi_invoice", invoice_number="3", invoice_numbers="3, 4", outstanding_minor=7_000,
          invoice_currency="NOK")
    [row] = query(store, "amount_mismatch")
    assert (row["category"], row["amount_minor"], row["expected_minor"]) == ("underpayment", 6_000, 7_000)
    assert row["detail"] == "matched by multi_invoice (3, 4); expected = what was open before this payment"


def test_a_duplicate_sighting_is_not_joined_to_the_first_ones_match(store) -> None:
    # The same key twice in the run: the second is a duplicate (no match of its own). The join on payment_no must
    # pair the match with the first sighting only, never report the duplicate as underpaid.
    payment(store, "k", source_line=1, amount_minor=4_000)
    payment(store, "k", source_line=2, amount_minor=4_000, duplicate_of="bank.txt:1")
    match(store, "k", "reference", invoice_number="1", outstanding_minor=10_000, invoice_currency="NOK")
    assert [(r["source_line"], r["category"]) for r in query(store, "amount_mismatch")] == [(1, "underpayment")]
