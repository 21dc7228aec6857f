"""sql/period/readback_carried.sql: last month's read-back breaks of what was not read this month are carried as open."""

from __future__ import annotations

import datetime as dt

import polars as pl

from tests.reconcile.support import outbox, period_rows


def _last_month(store, category: str, key: str, api: str, status: str = "new") -> None:
    store.insert_frame("period_breaks", pl.DataFrame([{
        "period": "2026-10", "category": category, "break_key": key, "first_period": "2026-09",
        "first_seen": dt.date(2026, 9, 3), "status": status, "age_days": 58, "source_file": "bank.txt", "source_line": 7,
        "reference": None, "invoice_number": "1", "amount_minor": 9_000, "currency": "NOK", "expected_minor": 10_000,
        "api": api, "api_status": "200", "detail": f"as found in October: {key}"}]))


def _planted(store) -> None:
    outbox(store, "lost", "confirmed", api="ada.creditor-payments")
    _last_month(store, "missing_in_amili", "ada.creditor-payments:lost", "ada.creditor-payments")
    outbox(store, "col", "confirmed", api="collection.payments")
    _last_month(store, "missing_in_amili", "collection.payments:col", "collection.payments")
    _last_month(store, "settled_amount_mismatch", "settlement:col", "collection.payments")
    outbox(store, "paid", "confirmed", api="ada.creditor-payments")
    _last_month(store, "settled_amount_mismatch", "payout:paid", "ada.creditor-payments")
    _last_month(store, "unknown_in_amili", "ada.creditor-payments:stranger", "ada.creditor-payments")
    _last_month(store, "unknown_in_amili", "collection.settlements:NOT-OURS", "collection.settlements")
    _last_month(store, "settled_amount_mismatch", "run-level-key", "ada.creditor-payments")  # a run's: not read back
    _last_month(store, "unmatched_payment", "u1", None)                                      # not a read-back kind
    _last_month(store, "missing_in_amili", "ada.creditor-payments:gone", "ada.creditor-payments", status="resolved")


def test_nothing_read_carries_every_open_read_back_break_unchanged(store) -> None:
    _planted(store)
    rows = period_rows(store, "readback_carried", "2026-11", scope=[])
    assert [(r["category"], r["break_key"], r["stable_key"]) for r in rows] == [
        ("missing_in_amili", "ada.creditor-payments:lost", "lost"),
        ("missing_in_amili", "collection.payments:col", "col"),
        ("settled_amount_mismatch", "payout:paid", "paid"),
        ("settled_amount_mismatch", "settlement:col", "col"),
        ("unknown_in_amili", "ada.creditor-payments:stranger", "stranger"),
        ("unknown_in_amili", "collection.settlements:NOT-OURS", "NOT-OURS")]
    row = rows[2]
    assert (row["first_seen"], row["amount_minor"], row["expected_minor"], row["source_line"], row["detail"]) == (
        dt.date(2026, 9, 3), 9_000, 10_000, 7, "as found in October: payout:paid")


def test_only_what_was_not_read_is_carried(store) -> None:
    _planted(store)
    # ADA of creditor c was read (its own queries judge those breaks again); Collection was not read for anyone.
    rows = period_rows(store, "readback_carried", "2026-11", scope=["ada.creditor-payments|c"])
    assert [r["break_key"] for r in rows] == [
        "collection.payments:col", "settlement:col", "collection.settlements:NOT-OURS"]
    # Collection read for another creditor only: our creditor's breaks are still carried; the unknown settlement
    # (no creditor of ours on record) counts as read.
    rows = period_rows(store, "readback_carried", "2026-11", scope=["collection.settlements|d"])
    assert {r["break_key"] for r in rows} == {"ada.creditor-payments:lost", "collection.payments:col", "settlement:col",
                                              "payout:paid", "ada.creditor-payments:stranger"}
