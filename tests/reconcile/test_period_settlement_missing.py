"""sql/period/settlement_missing.sql: a Collection payment confirmed in the period with no settlement read back."""

from __future__ import annotations

import datetime as dt

import polars as pl

from tests.reconcile.support import outbox, period_rows, settlement

API = "collection.payments"
SCOPE = ["collection.settlements|c"]


def _confirmed(store, key: str, day: dt.date, **cols) -> None:
    outbox(store, key, cols.pop("state", "confirmed"), api=API, updated_at=dt.datetime.combine(day, dt.time(6)), **cols)


def test_confirmed_in_the_period_and_never_settled(store) -> None:
    _confirmed(store, "settled", dt.date(2026, 11, 20))
    settlement(store, "2026-11", "settled", dt.date(2026, 11, 21))
    _confirmed(store, "late", dt.date(2026, 11, 30))                      # settles after the period, within the lag
    settlement(store, "2026-11", "late", dt.date(2026, 12, 3))
    _confirmed(store, "gone", dt.date(2026, 11, 20), amili_id="case-1", http_status=200, batch_key="bk1")
    store.insert_frame("outbox_batches", pl.DataFrame([{
        "batch_key": "bk1", "api": API, "creditor": "c", "remote_id": "B-1", "state": "done", "items": 1,
        "created_at": dt.datetime(2026, 11, 20, 6), "updated_at": dt.datetime(2026, 11, 20, 6)}]))
    settlement(store, "2026-11", "gone", dt.date(2026, 11, 21), creditor="d")  # another organisation's: not ours
    settlement(store, "2026-10", "gone", dt.date(2026, 10, 21))               # another period's read
    _confirmed(store, "october", dt.date(2026, 10, 30))                     # judged in October
    _confirmed(store, "december", dt.date(2026, 12, 1))                     # judged in December
    _confirmed(store, "in-flight", dt.date(2026, 11, 20), state="acknowledged")
    _confirmed(store, "not-read", dt.date(2026, 11, 20), creditor="x")      # its settlements were not read
    rows = period_rows(store, "settlement_missing", "2026-11", scope=SCOPE)
    assert [(r["category"], r["break_key"], r["first_seen"], r["source_file"], r["source_line"], r["api_status"])
            for r in rows] == [("missing_in_amili", "collection.payments:gone", dt.date(2026, 11, 20), "bank.txt", 1, "200")]
    assert rows[0]["detail"] == ("confirmed 2026-11-20 in batch B-1 (case case-1), no settlement dated 2026-11-01 "
                                 "to 2026-12-07")
    assert period_rows(store, "settlement_missing", "2026-11", scope=[]) == []


def test_payments_within_the_lag_of_the_read_are_not_judged_yet(store) -> None:
    _confirmed(store, "early", dt.date(2026, 11, 20))
    _confirmed(store, "last-day", dt.date(2026, 11, 30))
    keys = [r["stable_key"] for r in period_rows(store, "settlement_missing", "2026-11", SCOPE, today=dt.date(2026, 12, 2))]
    assert keys == ["early"]                                                # 30 Nov + 7 days is not over on 2 Dec
    keys = [r["stable_key"] for r in period_rows(store, "settlement_missing", "2026-11", SCOPE, today=dt.date(2026, 12, 7))]
    assert keys == ["early", "last-day"]
