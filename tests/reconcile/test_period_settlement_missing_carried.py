"""sql/period/settlement_missing_carried.sql: last month's never-settled Collection payments stay open until settled."""

from __future__ import annotations

import datetime as dt

import polars as pl

from tests.reconcile.support import outbox, period_rows, settlement

SCOPE = ["collection.settlements|c"]


def _last_month(store, key: str, status: str = "new", category: str = "missing_in_amili") -> None:
    outbox(store, key, "confirmed", api="collection.payments", updated_at=dt.datetime(2026, 10, 20, 6))
    store.insert_frame("period_breaks", pl.DataFrame([{
        "period": "2026-10", "category": category, "break_key": f"collection.payments:{key}", "first_period": "2026-10",
        "first_seen": dt.date(2026, 10, 20), "status": status, "age_days": 11, "source_file": "bank.txt",
        "source_line": 7, "reference": None, "invoice_number": "1", "amount_minor": 10_000, "currency": "NOK",
        "expected_minor": None, "api": "collection.payments", "api_status": "200", "detail": "confirmed 2026-10-20"}]))


def test_still_unsettled_stays_open_a_late_settlement_resolves(store) -> None:
    _last_month(store, "still-lost")
    _last_month(store, "settled-late")
    settlement(store, "2026-11", "settled-late", dt.date(2026, 11, 9))
    _last_month(store, "already-resolved", status="resolved")
    _last_month(store, "ada-style", category="unknown_in_amili")
    rows = period_rows(store, "settlement_missing_carried", "2026-11", scope=SCOPE)
    assert [(r["category"], r["break_key"], r["first_seen"], r["source_line"], r["stable_key"]) for r in rows] == [
        ("missing_in_amili", "collection.payments:still-lost", dt.date(2026, 10, 20), 7, "still-lost")]
    assert period_rows(store, "settlement_missing_carried", "2026-11", scope=[]) == []  # not read: not judged
