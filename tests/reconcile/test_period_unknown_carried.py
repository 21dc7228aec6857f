"""sql/period/unknown_carried.sql: last month's unknown_in_amili stays open until we send the key or Amili drops it."""

from __future__ import annotations

import datetime as dt

import polars as pl

from tests.reconcile.support import outbox, period_rows, readback

ADA = "ada.creditor-payments"
SCOPE = [f"{ADA}|c", "collection.settlements|c", "arm.documents|c"]


def _last_month(store, api: str, key: str, status: str = "new", category: str = "unknown_in_amili") -> None:
    store.insert_frame("period_breaks", pl.DataFrame([{
        "period": "2026-10", "category": category, "break_key": f"{api}:{key}", "first_period": "2026-10",
        "first_seen": dt.date(2026, 10, 5), "status": status, "age_days": 26, "source_file": None, "source_line": None,
        "reference": None, "invoice_number": None, "amount_minor": 4_200, "currency": "NOK", "expected_minor": None,
        "api": api, "api_status": "ok", "detail": f"in Amili as id-{key} (c), never sent by us"}],
        schema_overrides={"source_file": pl.String, "source_line": pl.Int64, "reference": pl.String,
                          "invoice_number": pl.String, "expected_minor": pl.Int64}))


def test_unknown_stays_open_until_resolved(store) -> None:
    _last_month(store, "collection.settlements", "NOT-OURS")          # out of November's window: stays open
    _last_month(store, "collection.settlements", "sent-since")        # we sent it since: resolved
    outbox(store, "sent-since", "confirmed", api="collection.payments")
    _last_month(store, "collection.settlements", "still-refused")     # ours, but Amili rejected it: stays open
    outbox(store, "still-refused", "rejected", api="collection.payments")
    _last_month(store, ADA, "stranger")                               # still held by Amili (booked in October)
    readback(store, "2026-11", ADA, "stranger", booked=dt.date(2026, 10, 12))
    _last_month(store, ADA, "deleted")                                # no longer held by Amili: resolved
    readback(store, "2026-10", ADA, "deleted", booked=dt.date(2026, 10, 14))
    _last_month(store, "arm.documents", "2218:77")                    # ARM: read whatever the date; held
    readback(store, "2026-11", "arm.documents", "2218:77")
    _last_month(store, ADA, "old", status="resolved")                 # already resolved
    _last_month(store, ADA, "lost", category="missing_in_amili")      # another category
    rows = period_rows(store, "unknown_carried", "2026-11", scope=SCOPE)
    assert [(r["break_key"], r["stable_key"], r["first_seen"]) for r in rows] == [
        (f"{ADA}:stranger", "stranger", dt.date(2026, 10, 5)),
        ("arm.documents:2218:77", "2218:77", dt.date(2026, 10, 5)),
        ("collection.settlements:NOT-OURS", "NOT-OURS", dt.date(2026, 10, 5)),
        ("collection.settlements:still-refused", "still-refused", dt.date(2026, 10, 5))]
    # An API not read this month is not judged here (readback_carried.sql carries it unchanged).
    assert [r["break_key"] for r in period_rows(store, "unknown_carried", "2026-11", scope=[f"{ADA}|c"])] == [
        f"{ADA}:stranger"]
