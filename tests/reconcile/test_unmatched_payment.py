"""unmatched_payment.sql: no rule matched, or the account belongs to no creditor; outgoing rows never count."""

from __future__ import annotations

from tests.reconcile.support import match, payment, query


def test_unmatched_and_foreign_account_reported_outgoing_not(store) -> None:
    payment(store, "k1", source_line=1)
    match(store, "k1", "none")
    payment(store, "k2", source_line=2, creditor=None, account="999")
    payment(store, "k3", source_line=3, amount_minor=-500)
    payment(store, "k4", source_line=4)
    match(store, "k4", "reference", invoice_number="1")
    rows = query(store, "unmatched_payment")
    assert [r["source_line"] for r in rows] == [1, 2]
    assert "account 999 belongs to no configured creditor" in rows[1]["detail"]
