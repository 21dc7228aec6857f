"""sql/period/statement_balances.sql: opening + movements = closing, and no gap between consecutive statements."""

from __future__ import annotations

import datetime as dt

import polars as pl

from tests.reconcile.support import RUN, period_rows, run


def _statement(store, sid: str, day: int, opening: int, entries: int, closing: int) -> None:
    store.insert_frame("statement_balances", pl.DataFrame([{
        "run_id": RUN, "source_file": f"{sid}.xml", "source_sha256": "s", "source_line": 1, "statement_id": sid,
        "account": "15062995960", "currency": "NOK", "opening_minor": opening, "closing_minor": closing,
        "opening_date": dt.date(2026, 11, day), "closing_date": dt.date(2026, 11, day), "entries_minor": entries,
        "entries": 3}]))


def test_ties_breaks_and_gaps(store) -> None:
    run(store, RUN, dt.datetime(2026, 11, 21, 6))
    _statement(store, "s1", 18, 100_000, 5_000, 105_000)     # ties
    _statement(store, "s2", 19, 105_000, 2_000, 106_000)     # 1 000 short
    _statement(store, "s3", 20, 110_000, 0, 110_000)         # ties, but opens 4 000 above s2's closing
    rows = period_rows(store, "statement_balances", "2026-11")
    assert [(r["statement_id"], r["balance_break_minor"], r["gap_minor"]) for r in rows] == [
        ("s1", 0, None), ("s2", 1_000, 0), ("s3", 0, 4_000)]
    assert period_rows(store, "statement_balances", "2026-10") == []
