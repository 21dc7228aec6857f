"""settled_amount_mismatch.sql: Amili confirmed but settled another amount than was sent."""

from __future__ import annotations

from tests.reconcile.support import outbox, query


def test_settled_differs(store) -> None:
    outbox(store, "k1", "confirmed", settled_minor=9_000, http_status=201, source_line=1, api="ada.creditor-payments")
    outbox(store, "k2", "confirmed", settled_minor=10_000, source_line=2, api="ada.creditor-payments")
    outbox(store, "k3", "confirmed", source_line=3, api="ada.creditor-payments")
    rows = query(store, "settled_amount_mismatch")
    assert [(r["source_line"], r["amount_minor"], r["expected_minor"]) for r in rows] == [(1, 9_000, 10_000)]
    assert rows[0]["detail"] == "Amili settled 90.00 of 100.00"
