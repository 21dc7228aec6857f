"""Month-end outputs under OUT/period-YYYY-MM/: discrepancies.xlsx, discrepancies.csv, summary.json, breaks.parquet.

Same contracts as a run's report: discrepancies.csv has the contract's columns (one row per OPEN break);
summary.json has run_id (`period-YYYY-MM`), status, counts, files, totals, sent (all zero: month-end sends nothing).
A month that could not be checked in full is `incomplete`, never `clean`; totals.incomplete_because says why.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl

from etl.amili import APIS
from etl.config import Config
from etl.money import format_minor
from etl.reconcile.period import PeriodResult, period_bounds
from etl.reconcile.runner import CATEGORIES
from etl.reconcile.tie import TIE_COLUMNS, tie_out
from etl.report.cover import Cover
from etl.report.refunds import refunds_frame
from etl.report.run_info import run_info_frame
from etl.report.run_report import write_parquet
from etl.report.scope import report_scope
from etl.report.tables import write_csv, write_summary
from etl.report.workbook import Sheet, write_workbook
from etl.store import Store

__all__ = ["incomplete_reasons", "period_status", "period_summary", "period_tie_out", "write_period_report"]

# A run that ended in one of these was checked in full; any other status (incomplete, failed, still running) was not.
# A run that read nothing new (every file imported before) checked nothing and left nothing unchecked.
_FINISHED = ("clean", "discrepancies", "nothing_new")


def _unfinished_runs(result: PeriodResult) -> list[str]:
    """The period's work runs that did not finish with a full check (and were not finished by a rerun since)."""
    runs = result.runs
    if "superseded" in runs.columns:
        runs = runs.filter(~pl.col("superseded"))
    return runs.filter(~pl.col("status").is_in(_FINISHED)).get_column("run_id").to_list()


def incomplete_reasons(result: PeriodResult) -> dict[str, str]:
    """Why the month could not be checked in full, by reason ('period_open', 'runs', 'readback', 'settlement_lag');
    empty when it was. Runs are those whose work counts in the period (by booking and due dates; dry runs and runs
    that failed before sending anything never count)."""
    reasons: dict[str, str] = {}
    if not result.runs.height:
        reasons["runs"] = (f"nothing of {result.period} imported: no run read a payment booked or an invoice due in "
                           "it (import the month's files, then rerun)")
    else:
        unfinished = _unfinished_runs(result)
        if unfinished:
            reasons["runs"] = f"{len(unfinished)} run(s) not complete: {', '.join(map(str, unfinished))}"
    first = {k: v for k, v in result.unchecked.items() if k == "period_open"}  # the first thing to know
    return first | reasons | result.unchecked


def period_status(result: PeriodResult) -> str:
    """incomplete when something could not be checked (the month not ended, a run incomplete or none, Amili not read
    back, Collection payments within the settlement lag); else discrepancies when a break is open; else clean."""
    if incomplete_reasons(result):
        return "incomplete"
    return "discrepancies" if result.breaks.filter(pl.col("status") != "resolved").height else "clean"


def period_summary(store: Store, result: PeriodResult) -> dict[str, Any]:
    """summary.json of a month-end: open breaks per category, the period's files, aging and read-back totals."""
    open_ = result.breaks.filter(pl.col("status") != "resolved")
    counts = dict(open_.group_by("category").len().iter_rows())
    run_ids = result.runs.get_column("run_id").to_list()
    files = store.frame(
        "SELECT DISTINCT path, sha256, format, status, rows, valid, rejected, message FROM files "
        "WHERE list_contains($runs, run_id) ORDER BY path, sha256", {"runs": run_ids}) if run_ids else pl.DataFrame()
    by_status = dict(result.breaks.group_by("status").len().iter_rows())
    amounts = open_.filter(pl.col("amount_minor").is_not_null()).group_by("currency").agg(pl.col("amount_minor").sum())
    return {
        "run_id": f"period-{result.period}",
        "status": period_status(result),
        "counts": {c: int(counts[c]) for c in CATEGORIES if c in counts},
        "files": files.to_dicts() if files.height else [],
        "totals": {
            "runs": len(run_ids),
            "runs_incomplete": len(_unfinished_runs(result)) if result.runs.height else 0,
            "breaks_new": int(by_status.get("new", 0)),
            "breaks_persisting": int(by_status.get("persisting", 0)),
            "breaks_resolved": int(by_status.get("resolved", 0)),
            "oldest_open_days": int(open_.get_column("age_days").max() or 0) if open_.height else 0,
            "open_amount": {str(cur): format_minor(int(v)) for cur, v in amounts.sort("currency").iter_rows()},
            "readback_items": result.readback_rows,
            # Collection: settlements of the period (those paid to Amili directly are counted, never reported) and
            # the period's confirmed payments judged against them or not yet due (docs/month-end.md, the lag rule).
            "collection_settlements": result.settlements,
            "statements_checked": int(result.balances.height) if result.balances_checked else None,
            # Why the status is `incomplete` (empty otherwise): what to do is in each sentence.
            "incomplete_because": incomplete_reasons(result),
        },
        "sent": {api: 0 for api in APIS},
    }


def period_tie_out(store: Store, run_ids: list[str]) -> pl.DataFrame:
    """The tie-outs of the period's runs added up per currency (each run's ties, so their sum does)."""
    money = [c for c in TIE_COLUMNS if c != "currency"]
    parts = [tie_out(store, r).select(TIE_COLUMNS) for r in run_ids]
    if not parts:
        return pl.DataFrame(schema={c: pl.String if c == "currency" else pl.Int64 for c in TIE_COLUMNS})
    return pl.concat(parts).group_by("currency").agg(pl.col(money).sum()).select(TIE_COLUMNS)


def _cover(store: Store, result: PeriodResult, facts: dict[str, Any]) -> Cover:
    """The month-end Summary's heading: the period, its creditors and bank booking dates, when it was made."""
    start, end, _ = period_bounds(result.period)
    run_ids = result.runs.get_column("run_id").to_list() if result.runs.height else []
    creditors, booked = report_scope(store, run_ids, (start, end))
    made = facts.get("generated_at")
    generated = dt.datetime.fromisoformat(made) if isinstance(made, str) else dt.datetime.now(dt.timezone.utc)
    return Cover("Period", f"{result.period} ({start:%Y-%m-%d} to {end - dt.timedelta(days=1):%Y-%m-%d})",
                 generated.astimezone(), creditors, booked, period_tie_out(store, run_ids),
                 tie_out_scope=f"the period's {len(run_ids)} run(s)")


def write_period_report(store: Store, result: PeriodResult, out_dir: Path, config: Config,
                        facts: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """Write the month-end folder; returns it and the summary."""
    folder = out_dir / f"period-{result.period}"
    folder.mkdir(parents=True, exist_ok=True)
    summary = period_summary(store, result)
    open_ = result.breaks.filter(pl.col("status") != "resolved")
    write_csv(open_, folder / "discrepancies.csv")
    notes = () if result.balances_checked else ("statement balances not checked: this state database has no statement_balances table",)
    if result.balances_checked and not result.balances.height:
        notes = ("no bank statement with balances (camt.053, MT940) in this period: balances not checked",)
    sheets = [
        # The breaks carry what resolved them (action, note, who, when: etl/reconcile/resolutions.py).
        Sheet("Resolved", result.breaks.filter(pl.col("status") == "resolved"), totals=True),
        Sheet("Refunds", refunds_frame(store), totals=True),
        Sheet("Balances", result.balances if result.balances.height else pl.DataFrame({"account": []}, schema={"account": pl.String}),
              totals=False, notes=notes),
        Sheet("Runs", result.runs),
        Sheet("Run info", run_info_frame(facts, config)),
    ]
    write_workbook(folder / "discrepancies.xlsx", summary, open_, sheets, cover=_cover(store, result, facts))
    write_parquet(result.breaks, folder / "breaks.parquet")
    write_summary(summary, folder / "summary.json")
    return folder, summary
