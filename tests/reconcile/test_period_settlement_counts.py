"""sql/period/settlement_counts.sql: what the Collection settlement check covered."""

from __future__ import annotations

import datetime as dt

from tests.reconcile.support import outbox, period_rows, settlement

SCOPE = ["collection.settlements|c"]


def test_counts_settlements_direct_payments_and_what_is_not_due_yet(store) -> None:
    settlement(store, "2026-11", "a", dt.date(2026, 11, 3))
    settlement(store, "2026-11", "b", dt.date(2026, 11, 30))
    settlement(store, "2026-11", None, dt.date(2026, 11, 4), sid="direct-1")
    settlement(store, "2026-11", None, dt.date(2026, 12, 2), sid="direct-2")   # read for the lag, not the period's
    settlement(store, "2026-10", None, dt.date(2026, 10, 4), sid="direct-0")   # another period's read
    for key, day, state in (("p1", dt.date(2026, 11, 10), "confirmed"), ("p2", dt.date(2026, 11, 29), "confirmed"),
                            ("p3", dt.date(2026, 10, 30), "confirmed"), ("p4", dt.date(2026, 11, 10), "sent")):
        outbox(store, key, state, api="collection.payments", updated_at=dt.datetime.combine(day, dt.time(6)))
    row, = period_rows(store, "settlement_counts", "2026-11", SCOPE, today=dt.date(2026, 12, 3))
    assert row == {"settlements": 3, "settlements_direct": 1, "payments_judged": 1, "payments_not_yet_due": 1}
    row, = period_rows(store, "settlement_counts", "2026-11", [], today=dt.date(2026, 12, 3))
    assert (row["payments_judged"], row["payments_not_yet_due"]) == (0, 0)
