"""sql/period/carried_breaks.sql: last period's open breaks that stay open until resolved, if still open."""

from __future__ import annotations

import datetime as dt

import polars as pl

from tests.reconcile.support import match, outbox, payment


def _break(store, period: str, category: str, key: str, status: str = "new", **cols) -> None:
    store.insert_frame("period_breaks", pl.DataFrame([{"period": period, "category": category, "break_key": key,
                                                       "first_period": "2026-09", "first_seen": dt.date(2026, 9, 3),
                                                       "status": status, "api": cols.get("api")}]))


def test_only_open_carried_kinds_come_along(store) -> None:
    from tests.reconcile.support import period_rows

    _break(store, "2026-10", "unmatched_payment", "u1")                       # still unmatched: carried
    _break(store, "2026-10", "unmatched_payment", "u2")                       # matched since: not carried
    payment(store, "u2")
    match(store, "u2", "amount_name", invoice_number="7")
    _break(store, "2026-10", "pending", "p1", api="ada.creditor-payments")    # confirmed since
    outbox(store, "p1", "confirmed", api="ada.creditor-payments")
    _break(store, "2026-10", "overpayment", "o1")                             # a fact of its period: not carried
    _break(store, "2026-10", "unmatched_payment", "u3", status="resolved")    # already resolved
    _break(store, "2026-09", "unmatched_payment", "u4")                       # not last period
    rows = period_rows(store, "carried_breaks", "2026-11")
    assert [(r["category"], r["break_key"], r["first_seen"]) for r in rows] == [
        ("unmatched_payment", "u1", dt.date(2026, 9, 3))]
