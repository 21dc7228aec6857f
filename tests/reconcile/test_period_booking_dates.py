"""Month-end by accounting period: payments by booking date, invoices by due date, whenever the runs happened;
only work runs count (work_runs.sql): dry runs and runs that failed before sending anything never do."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from etl.config import load_config
from etl.reconcile.period import reconcile_period
from etl.report.period_report import incomplete_reasons, period_status
from tests.conftest import SAMPLE
from tests.reconcile.support import allocation, invoice, outbox, payment, period_rows


@pytest.fixture
def config():
    return load_config(SAMPLE / "amili-etl.toml", env={})


def _run(store, run_id: str, started: dt.datetime, status: str = "discrepancies", mode: str = "run",
         exit_code: int | None = 1) -> None:
    store.execute("INSERT INTO runs (run_id, started_at, mode, status, exit_code) VALUES (?, ?, ?, ?, ?)",
                  [run_id, started, mode, status, exit_code])


def _disc(store, run_id: str, category: str, key: str, **cols) -> None:
    store.insert_frame("discrepancies", pl.DataFrame([{"run_id": run_id, "category": category, "severity": "warning",
                                                       "stable_key": key, "api": cols.pop("api", None), **cols}]))


def _dated(rows: list[dict]) -> list[tuple]:
    return [(r["category"], r["break_key"], r["first_seen"]) for r in rows]


def test_a_late_import_counts_in_the_month_it_was_booked(store) -> None:
    _run(store, "dec6", dt.datetime(2026, 12, 6, 5))
    payment(store, "late", run_id="dec6", source_file="nov.csv", source_line=4, booking_date=dt.date(2026, 11, 30))
    _disc(store, "dec6", "overpayment", "late", source_file="nov.csv", source_line=4)
    payment(store, "dec", run_id="dec6", source_file="dec.csv", source_line=2, booking_date=dt.date(2026, 12, 5))
    _disc(store, "dec6", "overpayment", "dec", source_file="dec.csv", source_line=2)
    # A row the file could not give a payment for: the file's latest booking date.
    _disc(store, "dec6", "invalid_row", None, source_file="nov.csv", source_line=9)
    assert _dated(period_rows(store, "open_breaks", "2026-11")) == [
        ("invalid_row", "nov.csv:9", dt.date(2026, 11, 30)), ("overpayment", "late", dt.date(2026, 11, 30))]
    assert _dated(period_rows(store, "open_breaks", "2026-12")) == [("overpayment", "dec", dt.date(2026, 12, 5))]
    runs = period_rows(store, "runs", "2026-11")
    assert [(r["run_id"], r["payments_booked"]) for r in runs] == [("dec6", 1)]


def test_a_pending_item_reported_by_a_rerun_is_dated_by_its_payment(store) -> None:
    _run(store, "nov30", dt.datetime(2026, 11, 30, 5), status="incomplete", exit_code=4)
    payment(store, "k", run_id="nov30", source_file="b.csv", source_line=3, booking_date=dt.date(2026, 11, 28))
    outbox(store, "k", "sent", source_file="b.csv", source_line=3, first_run_id="nov30")
    _run(store, "rerun", dt.datetime(2026, 12, 2, 5), status="incomplete", mode="rerun", exit_code=4)
    _disc(store, "rerun", "pending", "k", api="arm.paymentreservations", source_file="b.csv", source_line=3)
    assert _dated(period_rows(store, "open_breaks", "2026-11")) == [("pending", "k", dt.date(2026, 11, 28))]
    # Still pending in December: a pending item stays open until Amili answers.
    assert _dated(period_rows(store, "open_breaks", "2026-12")) == [("pending", "k", dt.date(2026, 11, 28))]


def test_paid_by_booking_date_not_by_run(store) -> None:
    _run(store, "nov", dt.datetime(2026, 11, 5, 5))
    invoice(store, "A", dt.date(2026, 11, 20), run_id="nov")
    invoice(store, "B", dt.date(2026, 11, 20), run_id="nov")
    invoice(store, "C", dt.date(2026, 11, 20), run_id="nov")
    _run(store, "dec6", dt.datetime(2026, 12, 6, 5))
    payment(store, "pa", run_id="dec6", booking_date=dt.date(2026, 11, 30))   # booked in November, imported in December
    allocation(store, "pa", "A", run_id="dec6")
    payment(store, "pb", run_id="dec6", booking_date=dt.date(2026, 12, 1))    # booked in December
    allocation(store, "pb", "B", run_id="dec6")
    assert [r["invoice_number"] for r in period_rows(store, "unpaid_invoice", "2026-11")] == ["B", "C"]
    assert [r["invoice_number"] for r in period_rows(store, "unpaid_invoice", "2026-12")] == ["C"]


def test_dry_runs_and_runs_that_sent_nothing_do_not_count(store) -> None:
    _run(store, "real", dt.datetime(2026, 11, 20, 5))
    payment(store, "p", run_id="real", booking_date=dt.date(2026, 11, 19))
    _run(store, "dry", dt.datetime(2026, 11, 21, 5), status="clean", mode="dry-run", exit_code=0)
    invoice(store, "D", dt.date(2026, 11, 22), run_id="dry")
    _disc(store, "dry", "unmatched_payment", "dry-u")
    _run(store, "bad-path", dt.datetime(2026, 11, 22, 5), status="failed", exit_code=3)
    _run(store, "no-secret", dt.datetime(2026, 11, 23, 5), status="failed", exit_code=2)
    invoice(store, "E", dt.date(2026, 11, 22), run_id="no-secret")
    payment(store, "q", run_id="no-secret", booking_date=dt.date(2026, 11, 22))
    outbox(store, "q", "intent", first_run_id="no-secret", last_run_id="no-secret")  # planned, never sent
    # A run that failed after something went out did work: it counts (and did not finish).
    _run(store, "cut-off", dt.datetime(2026, 11, 24, 5), status="failed", exit_code=75)
    outbox(store, "r", "sent", first_run_id="cut-off", last_run_id="cut-off", sent_at=dt.datetime(2026, 11, 24, 5, 1))
    assert [r["run_id"] for r in period_rows(store, "work_runs", "2026-11")] == ["real", "cut-off"]
    assert [r["run_id"] for r in period_rows(store, "runs", "2026-11")] == ["cut-off", "real"]
    assert period_rows(store, "unpaid_invoice", "2026-11") == []
    assert period_rows(store, "open_breaks", "2026-11") == []


def test_month_not_ended_is_incomplete_with_the_rerun_date(store, config) -> None:
    _run(store, "nov", dt.datetime(2026, 11, 20, 5), status="clean", exit_code=0)
    payment(store, "p", run_id="nov", booking_date=dt.date(2026, 11, 19))
    running = reconcile_period(store, config, "2026-11", None, today=dt.date(2026, 11, 30))
    assert period_status(running) == "incomplete"
    assert incomplete_reasons(running)["period_open"] == "the month has not ended: rerun on or after 2026-12-01"
    ended = reconcile_period(store, config, "2026-11", None, today=dt.date(2026, 12, 1))
    assert "period_open" not in incomplete_reasons(ended)
    nothing = reconcile_period(store, config, "2026-10", None, today=dt.date(2026, 12, 1))
    assert incomplete_reasons(nothing)["runs"].startswith("nothing of 2026-10 imported")


def test_an_unfinished_run_finished_by_its_rerun_no_longer_makes_the_month_incomplete(store, config) -> None:
    _run(store, "nov", dt.datetime(2026, 11, 20, 5), status="incomplete", exit_code=4)
    payment(store, "p", run_id="nov", booking_date=dt.date(2026, 11, 19))
    outbox(store, "p", "sent", first_run_id="nov", last_run_id="nov", sent_at=dt.datetime(2026, 11, 20, 5, 1))
    before = reconcile_period(store, config, "2026-11", None, today=dt.date(2026, 12, 10))
    assert incomplete_reasons(before)["runs"] == "1 run(s) not complete: nov"
    _run(store, "again", dt.datetime(2026, 11, 21, 5), status="clean", mode="rerun", exit_code=0)
    store.execute("INSERT INTO run_meta (run_id, inputs, forced, rerun_of) VALUES ('again', '[]', false, 'nov')")
    after = reconcile_period(store, config, "2026-11", None, today=dt.date(2026, 12, 10))
    assert "runs" not in incomplete_reasons(after)
