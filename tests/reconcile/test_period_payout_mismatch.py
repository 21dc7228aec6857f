"""sql/period/payout_mismatch.sql: ADA payout specification rows that do not add up to what ADA settled."""

from __future__ import annotations

from tests.reconcile.support import outbox, period_rows, readback


def test_paid_out_differs_from_settled(store) -> None:
    api = "ada.creditor-payments"
    outbox(store, "ok", "confirmed", api=api, amili_id="a1", settled_minor=10_000)
    outbox(store, "short", "confirmed", api=api, amili_id="a2", settled_minor=10_000)
    outbox(store, "later", "confirmed", api=api, amili_id="a3")                 # no payout row yet: not judged
    readback(store, "2026-11", "ada.payout-specifications", "a1", amount=10_000)
    readback(store, "2026-11", "ada.payout-specifications", "a2", amount=6_000)
    readback(store, "2026-11", "ada.payout-specifications", "a2", amount=3_000)
    rows = period_rows(store, "payout_mismatch", "2026-11")
    assert [(r["stable_key"], r["amount_minor"], r["expected_minor"]) for r in rows] == [("short", 9_000, 10_000)]
    assert rows[0]["category"] == "settled_amount_mismatch"
    assert rows[0]["detail"] == "paid out 90.00 in 2 payout row(s), settled 100.00"
    assert period_rows(store, "unknown_in_amili", "2026-11") == []  # payout rows are never 'unknown'
