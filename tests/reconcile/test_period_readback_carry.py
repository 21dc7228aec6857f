"""reconcile_period over a real DuckDB file, Amili's read-back passed in as a frame: breaks only a read-back can decide
are never resolved by not reading (--no-readback, a read-back window that moved on), money settled under a key Amili
rejected is flagged, and a month that could not check everything is `incomplete`, never `clean`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest

from etl.config import load_config
from etl.reconcile.period import reconcile_period
from etl.reconcile.readback import READBACK_SCHEMA
from etl.report.period_report import period_status, period_summary, write_period_report
from tests.conftest import sample_config_text
from tests.reconcile.support import COLLECTION_CREDITOR, outbox, run

ADA, SE, NO = "ada.creditor-payments", "solkraft-se", "fjord-no"
LATE_READ = dt.date(2027, 3, 1)  # long after every settlement lag: every payment is judged


@pytest.fixture
def config(tmp_path: Path):
    """The sample creditors (ARM, ADA) and a Collection creditor; nothing is called: the read-back is passed in."""
    path = tmp_path / "amili-etl.toml"
    path.write_text(sample_config_text("https://amili.invalid") + COLLECTION_CREDITOR, encoding="utf-8")
    return load_config(path, env={})


def _reads(*rows: dict[str, Any]):
    """A read_back stand-in answering `rows` (READBACK_SCHEMA, other columns empty) for any period."""
    frame = pl.DataFrame([{k: r.get(k) for k in READBACK_SCHEMA} for r in rows], schema=READBACK_SCHEMA)
    return lambda config, start, end: frame


def _ada(key: str, booked: dt.date, amount: int = 10_000, amili_id: str | None = None) -> dict[str, Any]:
    return {"api": ADA, "creditor": SE, "key": key, "amili_id": amili_id or f"A-{key}", "amount_minor": amount,
            "currency": "SEK", "booked": booked}


def _settlement(key: str, booked: dt.date, amount: int = 10_000) -> dict[str, Any]:
    return {"api": "collection.settlements", "creditor": NO, "key": key, "amili_id": f"S-{key}", "amount_minor": amount,
            "currency": "NOK", "status": "REMINDER", "booked": booked, "batch_id": "B1"}


def _states(result) -> dict[tuple[str, str], tuple[str, str, dt.date]]:
    return {(r["category"], r["break_key"]): (r["status"], r["first_period"], r["first_seen"])
            for r in result.breaks.to_dicts()}


def test_no_readback_carries_readback_breaks_unchanged_and_is_incomplete(store, config) -> None:
    run(store, "oct", dt.datetime(2026, 10, 20, 6))
    october_day = dt.datetime(2026, 10, 10, 6)
    outbox(store, "lost", "confirmed", api=ADA, creditor=SE, updated_at=october_day)              # never read back
    outbox(store, "paid", "confirmed", api=ADA, creditor=SE, amili_id="A-paid", updated_at=october_day)
    outbox(store, "col-lost", "confirmed", api="collection.payments", creditor=NO, updated_at=october_day)
    october = reconcile_period(store, config, "2026-10", _reads(
        _ada("paid", dt.date(2026, 10, 10)), _ada("stranger", dt.date(2026, 10, 12)),
        {"api": "ada.payout-specifications", "creditor": SE, "key": "A-paid", "amili_id": "P1", "amount_minor": 9_000,
         "booked": dt.date(2026, 10, 15)}), today=LATE_READ)
    read_back_found = {("missing_in_amili", f"{ADA}:lost"), ("missing_in_amili", "collection.payments:col-lost"),
                       ("unknown_in_amili", f"{ADA}:stranger"), ("settled_amount_mismatch", "payout:paid")}
    assert read_back_found <= set(_states(october)), _states(october)

    run(store, "nov", dt.datetime(2026, 11, 2, 6), status="clean")
    november = reconcile_period(store, config, "2026-11", None, today=LATE_READ)
    got = _states(november)
    for key in read_back_found:  # nothing was checked: each carried as it was, still open, first seen kept
        assert got[key][:2] == ("persisting", "2026-10"), (key, got[key])
    assert got[("unknown_in_amili", f"{ADA}:stranger")][2] == dt.date(2026, 10, 31)  # ADA: first seen when read
    assert "resolved" not in {s for s, _, _ in got.values()}
    carried = november.breaks.filter(pl.col("break_key") == "payout:paid").row(0, named=True)
    assert (carried["amount_minor"], carried["expected_minor"]) == (9_000, 10_000)
    assert period_status(november) == "incomplete"
    reasons = period_summary(store, november)["totals"]["incomplete_because"]
    assert set(reasons) == {"readback"} and "not read back" in reasons["readback"]


def test_no_readback_month_with_nothing_open_is_still_not_clean(store, config) -> None:
    run(store, "nov", dt.datetime(2026, 11, 2, 6), status="clean")
    assert period_status(reconcile_period(store, config, "2026-11", None, today=LATE_READ)) == "incomplete"
    assert period_status(reconcile_period(store, config, "2026-11", _reads(), today=LATE_READ)) == "clean"


def test_unknown_in_amili_stays_open_until_something_resolves_it(store, config) -> None:
    run(store, "oct", dt.datetime(2026, 10, 20, 6))
    ada_items = [_ada("stranger", dt.date(2026, 10, 12)), _ada("sent-later", dt.date(2026, 10, 13)),
                 _ada("deleted", dt.date(2026, 10, 14))]
    settlements = [_settlement("NOT-OURS", dt.date(2026, 10, 5)), _settlement("col-sent-later", dt.date(2026, 10, 6))]
    october = reconcile_period(store, config, "2026-10", _reads(*ada_items, *settlements), today=LATE_READ)
    unknown = {k for c, k in _states(october) if c == "unknown_in_amili"}
    assert unknown == {f"{ADA}:stranger", f"{ADA}:sent-later", f"{ADA}:deleted", "collection.settlements:NOT-OURS",
                       "collection.settlements:col-sent-later"}

    # November: ADA still lists what it holds of every date, except the item deleted at Amili; the Collection
    # settlements of October are outside November's window. Two of the keys have been sent by us since.
    run(store, "nov", dt.datetime(2026, 11, 2, 6))
    outbox(store, "sent-later", "confirmed", api=ADA, creditor=SE, updated_at=dt.datetime(2026, 11, 2, 6))
    outbox(store, "col-sent-later", "confirmed", api="collection.payments", creditor=NO,
           updated_at=dt.datetime(2026, 10, 1, 6))
    november = reconcile_period(store, config, "2026-11", _reads(*ada_items[:2]), today=LATE_READ)
    got = {k: v for (c, k), v in _states(november).items() if c == "unknown_in_amili"}
    assert got == {
        f"{ADA}:stranger": ("persisting", "2026-10", dt.date(2026, 10, 31)),
        "collection.settlements:NOT-OURS": ("persisting", "2026-10", dt.date(2026, 10, 5)),
        f"{ADA}:sent-later": ("resolved", "2026-10", dt.date(2026, 10, 31)),          # we sent it since
        "collection.settlements:col-sent-later": ("resolved", "2026-10", dt.date(2026, 10, 6)),
        f"{ADA}:deleted": ("resolved", "2026-10", dt.date(2026, 10, 31)),             # Amili no longer holds it
    }
    assert period_status(november) == "discrepancies"


def test_payments_within_the_settlement_lag_make_the_month_incomplete(store, config, tmp_path: Path) -> None:
    run(store, "nov", dt.datetime(2026, 11, 28, 6), status="clean")
    outbox(store, "late-in-month", "confirmed", api="collection.payments", creditor=NO,
           updated_at=dt.datetime(2026, 11, 28, 6), answered_at=dt.datetime(2026, 11, 28, 6))
    early = reconcile_period(store, config, "2026-11", _reads(), today=dt.date(2026, 12, 1))
    assert early.settlements["payments_not_yet_due"] == 1 and early.breaks.height == 0
    assert period_status(early) == "incomplete"
    summary = period_summary(store, early)
    assert summary["status"] == "incomplete"
    assert "rerun on or after 2026-12-07" in summary["totals"]["incomplete_because"]["settlement_lag"]
    folder, written = write_period_report(store, early, tmp_path / "out", config, {"period": "2026-11"})
    assert json.loads((folder / "summary.json").read_text(encoding="utf-8"))["totals"]["incomplete_because"] == (
        written["totals"]["incomplete_because"])
    cells = {r[0]: r[1] for r in openpyxl.load_workbook(folder / "discrepancies.xlsx")["Summary"].iter_rows(
        max_col=2, values_only=True) if r[0]}
    assert cells["Status"] == "incomplete"
    assert cells["Incomplete because: settlement lag"] == summary["totals"]["incomplete_because"]["settlement_lag"]

    settled = reconcile_period(store, config, "2026-11", _reads(_settlement("late-in-month", dt.date(2026, 12, 2))),
                               today=dt.date(2026, 12, 7))
    assert settled.settlements["payments_not_yet_due"] == 0 and period_status(settled) == "clean"
    assert period_summary(store, settled)["totals"]["incomplete_because"] == {}
