"""sql/period/open_breaks.sql: the work runs' discrepancies by the date of what they are about, one per break,
resolved ones left out."""

from __future__ import annotations

import datetime as dt

import polars as pl

from tests.reconcile.support import match, outbox, payment, period_rows, run


def _disc(store, run_id: str, category: str, key: str, **cols) -> None:
    store.insert_frame("discrepancies", pl.DataFrame([{"run_id": run_id, "category": category, "severity": "warning",
                                                       "stable_key": key, "api": cols.pop("api", None), **cols}]))


def test_dedup_first_seen_and_resolutions(store) -> None:
    run(store, "r1", dt.datetime(2026, 11, 3, 6))
    run(store, "r2", dt.datetime(2026, 11, 4, 6))
    run(store, "r0", dt.datetime(2026, 10, 30, 6))
    _disc(store, "r0", "duplicate_payment", "old")                 # a fact of October: not November's
    _disc(store, "r0", "unmatched_payment", "since-october")       # still unmatched: open in November too
    _disc(store, "r1", "unmatched_payment", "u1")
    _disc(store, "r2", "unmatched_payment", "u1")                  # the same break seen twice
    _disc(store, "r1", "unmatched_payment", "u2")                  # matched by a later run: resolved
    payment(store, "u2")
    match(store, "u2", "reference", invoice_number="9")
    store.execute("UPDATE matches SET run_id = 'r2'")
    _disc(store, "r1", "pending", "p1", api="arm.paymentreservations")   # since confirmed: resolved
    outbox(store, "p1", "confirmed", source_line=7)
    _disc(store, "r2", "pending", "p2", api="arm.paymentreservations")   # still sent: open
    outbox(store, "p2", "sent")  # its payment (bank.txt line 1 of r1, the run that planned it) was booked on 20.11
    rows = period_rows(store, "open_breaks", "2026-11")
    assert [(r["category"], r["break_key"], r["first_seen"]) for r in rows] == [
        ("pending", "p2", dt.date(2026, 11, 20)), ("unmatched_payment", "since-october", dt.date(2026, 10, 30)),
        ("unmatched_payment", "u1", dt.date(2026, 11, 3))]
