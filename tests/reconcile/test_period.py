"""reconcile_period over a real DuckDB file: breaks aged and marked new / persisting / resolved across two months."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from etl.config import load_config
from etl.errors import ConfigError
from etl.reconcile.period import period_bounds, reconcile_period
from etl.reconcile.readback import READBACK_SCHEMA
from etl.report.period_report import period_status
from tests.conftest import SAMPLE
from tests.reconcile.support import outbox, run


def _disc(store, run_id: str, category: str, key: str, **cols) -> None:
    store.insert_frame("discrepancies", pl.DataFrame([{"run_id": run_id, "category": category, "severity": "warning",
                                                       "stable_key": key, "api": cols.pop("api", None), **cols}]))


@pytest.fixture
def config():
    return load_config(SAMPLE / "amili-etl.toml", env={})


def test_new_persisting_resolved_and_age(store, config) -> None:
    run(store, "oct", dt.datetime(2026, 10, 20, 6))
    _disc(store, "oct", "unmatched_payment", "u-old", amount_minor=500, currency="NOK")
    _disc(store, "oct", "pending", "p-old", api="ada.creditor-payments")
    outbox(store, "p-old", "sent", api="ada.creditor-payments")
    _disc(store, "oct", "overpayment", "o-old")
    october = reconcile_period(store, config, "2026-10", None)
    assert sorted(october.breaks.get_column("status").to_list()) == ["new", "new", "new"]

    store.execute("UPDATE outbox SET state = 'confirmed' WHERE key = 'p-old'")  # November's rerun got the answer
    run(store, "nov", dt.datetime(2026, 11, 2, 6))
    _disc(store, "nov", "unmatched_payment", "u-new")
    nothing_held = lambda config, start, end: pl.DataFrame(schema=READBACK_SCHEMA)  # noqa: E731 (read back: empty)
    november = reconcile_period(store, config, "2026-11", nothing_held)
    got = {(r["category"], r["break_key"]): r for r in november.breaks.to_dicts()}
    assert set(got) == {("unmatched_payment", "u-old"), ("unmatched_payment", "u-new"), ("pending", "p-old")}
    old, new, resolved = got["unmatched_payment", "u-old"], got["unmatched_payment", "u-new"], got["pending", "p-old"]
    assert (old["status"], old["first_period"], old["first_seen"], old["age_days"]) == (
        "persisting", "2026-10", dt.date(2026, 10, 20), 41)
    assert (new["status"], new["first_period"], new["age_days"]) == ("new", "2026-11", 28)
    assert resolved["status"] == "resolved"
    assert period_status(november) == "discrepancies"
    stored = store.frame("SELECT period, status, count(*) AS n FROM period_breaks GROUP BY ALL ORDER BY ALL").rows()
    assert stored == [("2026-10", "new", 3), ("2026-11", "new", 1), ("2026-11", "persisting", 1),
                      ("2026-11", "resolved", 1)]


def test_balance_breaks_reported_and_skipped_cleanly_without_the_table(store, config) -> None:
    run(store, "nov", dt.datetime(2026, 11, 2, 6))
    store.insert_frame("statement_balances", pl.DataFrame([{
        "run_id": "nov", "source_file": "stmt.xml", "source_sha256": "s", "source_line": 7, "statement_id": "S1",
        "account": "1", "currency": "NOK", "opening_minor": 1_000, "closing_minor": 1_600,
        "opening_date": dt.date(2026, 11, 1), "closing_date": dt.date(2026, 11, 1), "entries_minor": 500, "entries": 2}]))
    result = reconcile_period(store, config, "2026-11", None)
    row = result.breaks.filter(pl.col("category") == "control_total_mismatch").row(0, named=True)
    assert (row["source_file"], row["amount_minor"], row["expected_minor"]) == ("stmt.xml", 1_500, 1_600)
    assert "opening + movements - closing = -100" in row["detail"]

    store.execute("DROP TABLE statement_balances")
    skipped = reconcile_period(store, config, "2026-11", None)
    assert not skipped.balances_checked and skipped.balances.height == 0


def test_incomplete_run_or_no_run_is_never_clean(store, config) -> None:
    assert period_status(reconcile_period(store, config, "2026-11", None)) == "incomplete"
    run(store, "nov", dt.datetime(2026, 11, 2, 6), status="incomplete")
    assert period_status(reconcile_period(store, config, "2026-11", None)) == "incomplete"


def test_period_bounds() -> None:
    assert period_bounds("2026-12") == (dt.date(2026, 12, 1), dt.date(2027, 1, 1), "2026-11")
    assert period_bounds("2027-01")[2] == "2026-12"
    with pytest.raises(ConfigError):
        period_bounds("2026-13")
