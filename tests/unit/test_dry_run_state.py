"""A dry run leaves nothing a later run or month-end counts: no outbox intents, no payment origins, and its
invoices and allocations are not what later runs match against."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from etl.amili.outbox import record_intents, unfinished_items
from etl.match.stage import open_invoices
from etl.store import open_store
from tests.unit.test_outbox_report import NOW, _planned


def test_a_dry_run_plans_without_intents(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.duckdb") as store:
        dry = record_intents(store, "dry", _planned("K", '{"a":1}'), NOW, dry_run=True)
        assert dry.get_column("action").to_list() == ["deliver"]  # what a run would do
        assert store.execute("SELECT count(*) FROM outbox").fetchone() == (0,)
        assert store.execute("SELECT action FROM run_items WHERE run_id = 'dry'").fetchall() == [("dry_run",)]
        assert unfinished_items(store).height == 0  # `rerun --only-failed` finds nothing to send
        # The real run, with a payload built from changed data, is not a conflict with what the dry run planned.
        real = record_intents(store, "real", _planned("K", '{"a":2}'), NOW)
        assert real.get_column("action").to_list() == ["deliver"]
        # A dry run after it reports what a run would report: here, a conflict.
        again = record_intents(store, "dry2", _planned("K", '{"a":3}'), NOW, dry_run=True)
        assert again.get_column("action").to_list() == ["conflict"]


def test_later_runs_do_not_match_against_a_dry_run(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.duckdb") as store:
        for run_id, mode in (("a-real", "run"), ("b-dry", "dry-run"), ("c-real", "run")):
            store.execute("INSERT INTO runs (run_id, started_at, mode, status) VALUES (?, ?, ?, 'clean')",
                          [run_id, NOW, mode])
        row = {"creditor": "c", "currency": "NOK", "amount_minor": 10_000, "source_file": "inv.csv", "source_sha256": "s",
               "source_line": 2, "due_date": dt.date(2026, 11, 30)}
        store.insert_frame("invoices", pl.DataFrame([{**row, "run_id": "a-real", "invoice_number": "1"},
                                                     {**row, "run_id": "b-dry", "invoice_number": "2"}]))
        store.insert_frame("match_allocations", pl.DataFrame([
            {"run_id": "b-dry", "payment_key": "p", "creditor": "c", "invoice_number": "1", "amount_minor": 10_000}]))
        known = open_invoices(store, "c-real")
        assert known.select("invoice_number", "outstanding_minor").rows() == [("1", 10_000)]
        # The dry run itself sees its own invoices.
        assert open_invoices(store, "b-dry").get_column("invoice_number").to_list() == ["1", "2"]
