"""control_totals.sql: file = planned = delivered = accepted per file, day and run; gross breaks beside the net."""

from __future__ import annotations

import datetime as dt

import polars as pl

from tests.reconcile.support import RUN, match, outbox, payment, query


def test_breaks_net_gross_and_explained(store) -> None:
    d1, d2 = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
    payment(store, "ok", source_file="a.txt", booking_date=d1, amount_minor=10_000)
    outbox(store, "ok", "confirmed")
    payment(store, "settled", source_file="a.txt", booking_date=d2, amount_minor=10_000)
    outbox(store, "settled", "confirmed", settled_minor=11_000)  # Amili took 10.00 more: a -10.00 break
    payment(store, "unmatched", source_file="b.txt", booking_date=d2, amount_minor=1_000)
    match(store, "unmatched", "none")
    store.insert_frame("discrepancies", pl.DataFrame([{"run_id": RUN, "category": "unmatched_payment",
                                                       "severity": "warning", "stable_key": "unmatched"}]))
    payment(store, "pending", source_file="b.txt", booking_date=d2, amount_minor=500)
    outbox(store, "pending", "sent", amount_minor=500)
    payment(store, "outgoing", source_file="b.txt", booking_date=d2, amount_minor=-9_999)

    rows = {(r["level"], r["scope"]): r for r in query(store, "control_totals")}
    assert set(rows) == {("file", "a.txt"), ("file", "b.txt"), ("day", "2026-11-19"), ("day", "2026-11-20"),
                         ("run", RUN)}
    run = rows[("run", RUN)]
    assert (run["rows"], run["file_total_minor"], run["planned_total_minor"], run["delivered_total_minor"],
            run["accepted_total_minor"]) == (4, 21_500, 20_500, 20_500, 21_000)
    assert run["net_break_minor"] == 500  # 1000 unmatched + 500 pending - 1000 over-settled: the net hides it
    assert run["gross_break_minor"] == 1_000 + 500 + 1_000
    assert run["explained_minor"] == 1_000
    assert run["unexplained_minor"] == 1_500  # the pending item and the over-settlement have no discrepancy here
    a = rows[("file", "a.txt")]
    assert (a["file_total_minor"], a["accepted_total_minor"], a["net_break_minor"]) == (20_000, 21_000, -1_000)


def test_duplicate_sighting_is_a_break_explained_and_does_not_borrow_the_first_delivery(store) -> None:
    payment(store, "k", source_file="a.csv", source_line=2)
    outbox(store, "k", "confirmed")
    payment(store, "k", source_file="b.csv", source_line=5, duplicate_of="a.csv:2")
    store.insert_frame("discrepancies", pl.DataFrame([{"run_id": RUN, "category": "duplicate_payment",
                                                       "severity": "warning", "stable_key": "k"}]))
    rows = {(r["level"], r["scope"]): r for r in query(store, "control_totals")}
    b = rows[("file", "b.csv")]
    assert (b["file_total_minor"], b["accepted_total_minor"], b["explained_minor"], b["unexplained_minor"]) == (
        10_000, 0, 10_000, 0)
    assert rows[("file", "a.csv")]["net_break_minor"] == 0
