"""Month-end: the work of every run by accounting period, read back from Amili, breaks aged and marked new /
persisting / resolved.

Periods follow the books, not the runs: a payment counts in the month it was booked, an invoice is due in the
month of its due date, whenever the run that read it happened (November's bank file imported on 6 December counts
in November; rerunning November's month-end after a late import reflects it). Only work counts: dry runs, and runs
that failed before anything went out to Amili, are left out of everything (work_runs.sql).
The period's open breaks are (each a query in sql/period/):
- the discrepancies of the work runs dated in the period, and those of the kinds that stay open until resolved
  (CARRIED) dated before its end, still open (open_breaks.sql),
- last period's breaks that stay open until something happens and still are (carried_breaks.sql),
- unpaid_invoice (unpaid_invoice.sql), missing_in_amili and unknown_in_amili against the read-back
  (missing_in_amili.sql, unknown_in_amili.sql), ADA payout specifications that do not add up to what ADA settled,
  re-judged until they do (payout_mismatch.sql, as settled_amount_mismatch),
- Collection payments against the settlements read back: confirmed but never settled within the settlement lag
  (settlement_missing.sql, as missing_in_amili; still unsettled from an earlier month: settlement_missing_carried.sql),
  settled for another amount (settlement_mismatch.sql, as settled_amount_mismatch; from an earlier month, re-judged on
  every settlement read so far: settlement_mismatch_carried.sql), settled under a uniqueSourcePaymentId we never sent
  or Amili rejected (settlement_unknown.sql, as unknown_in_amili); settlement_counts.sql says what was covered (and
  counts settlements paid to Amili directly),
- last period's unknown_in_amili breaks, still unknown: open until we send the key or Amili no longer holds the
  item, never resolved because the read-back window moved on (unknown_carried.sql),
- last period's read-back breaks (missing_in_amili, unknown_in_amili, payout and settlement mismatches) of what was
  not read this period (all of them under --no-readback): carried unchanged, still open (readback_carried.sql),
- statements whose opening balance + movements != closing balance, or whose opening differs from the previous
  statement's closing (statement_balances.sql), as control_total_mismatch.
Compared with last period's open breaks: in both -> persisting (first seen kept), only now -> new, only last period
(and of a kind that is carried) -> resolved. Age = days from first seen to the last day of the period.
What the month could not check (a month not ended yet, Amili not read back, Collection payments still within the
settlement lag) is listed in PeriodResult.unchecked: such a month is `incomplete`, never `clean`
(etl/report/period_report.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources

import polars as pl

from etl.config import Config
from etl.errors import ConfigError
from etl.reconcile.runner import CATEGORIES, DISCREPANCY_COLUMNS, STORED_COLUMNS, difference_expr
from etl.store import Store

__all__ = ["BREAK_COLUMNS", "CARRIED", "READBACK_MISMATCH", "PeriodResult", "create_work_runs_view", "period_bounds",
           "period_query", "reconcile_period", "settlement_params"]

# Kinds of break that stay open across periods until something resolves them (the others are facts of their period,
# except settled_amount_mismatch read back from ADA payouts or Collection settlements: see READBACK_MISMATCH).
CARRIED = ("pending", "rejected", "unmatched_payment", "ambiguous_match", "unpaid_invoice", "missing_in_amili",
           "unknown_in_amili")
# Break keys of the settled_amount_mismatch breaks that a read-back found: open until a later read-back shows the item
# paid out or settled right (payout_mismatch.sql, settlement_mismatch_carried.sql). The one a run finds at delivery
# (ADA settled less than was sent) is a fact of its period.
READBACK_MISMATCH = ("payout:", "settlement:")

BREAK_COLUMNS = ("category", "status", "age_days", "first_period", "first_seen", "break_key",
                 *[c for c in DISCREPANCY_COLUMNS if c != "category"])

Readback = Callable[[Config, dt.date, dt.date], pl.DataFrame]


@dataclass
class PeriodResult:
    """What a month-end produced: breaks (open and resolved), balances, runs of the period, read-back size."""

    period: str
    breaks: pl.DataFrame  # BREAK_COLUMNS
    balances: pl.DataFrame
    runs: pl.DataFrame
    readback_rows: int
    balances_checked: bool
    settlements: dict[str, int] | None = None  # settlement_counts.sql's row; None when nothing was read back
    # What could not be checked, by reason ('readback', 'settlement_lag'): a sentence for the accountant each.
    unchecked: dict[str, str] = field(default_factory=dict)


def period_bounds(period: str) -> tuple[dt.date, dt.date, str]:
    """'2026-11' -> (first day, first day of the next month, '2026-10'); ConfigError on anything else."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", period or "")
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ConfigError(f"--period {period!r}: expected YYYY-MM, e.g. 2026-11")
    year, month = int(m.group(1)), int(m.group(2))
    start = dt.date(year, month, 1)
    end = dt.date(year + (month == 12), month % 12 + 1, 1)
    previous = f"{year - (month == 1):04d}-{(month - 2) % 12 + 1:02d}"
    return start, end, previous


def _period_sql(name: str) -> str:
    """The text of one month-end question in sql/period/."""
    return resources.files("etl.reconcile").joinpath("sql", "period", f"{name}.sql").read_text(encoding="utf-8")


def create_work_runs_view(store: Store) -> None:
    """The temporary view work_runs (work_runs.sql): the runs whose work counts (not dry runs, not runs that failed
    before anything went out to Amili)."""
    store.execute(f"CREATE OR REPLACE TEMP VIEW work_runs AS {_period_sql('work_runs')}")


def period_query(store: Store, name: str, params: dict[str, object]) -> pl.DataFrame:
    """Run one month-end question from sql/period/ with bound parameters (work_runs.sql as the view work_runs)."""
    sql = _period_sql(name)
    if "work_runs" in sql:
        create_work_runs_view(store)
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    return store.frame(sql, used)


def _has_table(store: Store, name: str) -> bool:
    found = store.frame("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = $name", {"name": name})
    return bool(found.item())


def _balance_breaks(balances: pl.DataFrame) -> pl.DataFrame:
    """control_total_mismatch rows for statements that do not tie or do not follow on from the previous one."""
    bad = balances.filter((pl.col("balance_break_minor") != 0) | (pl.col("gap_minor").fill_null(0) != 0))
    detail = (pl.lit("statement ") + pl.col("statement_id").fill_null("?") + " of account " + pl.col("account").fill_null("?")
              + pl.when(pl.col("balance_break_minor") != 0)
              .then(pl.lit(": opening + movements - closing = ") + pl.col("balance_break_minor").cast(pl.String) + " (minor units)")
              .otherwise(pl.lit(": opening differs from the previous closing by ") + pl.col("gap_minor").cast(pl.String)
                         + " (minor units)"))
    return bad.select(
        pl.lit("control_total_mismatch").alias("category"),
        (pl.lit("balance:") + pl.col("account").fill_null("") + ":" + pl.col("statement_id").fill_null("")).alias("break_key"),
        pl.coalesce("closing_date", "opening_date").alias("first_seen"), pl.lit("error").alias("severity"),
        "source_file", "source_line", pl.lit(None, pl.String).alias("reference"),
        pl.lit(None, pl.String).alias("invoice_number"), (pl.col("opening_minor") + pl.col("entries_minor")).alias("amount_minor"),
        "currency", pl.col("closing_minor").alias("expected_minor"), pl.lit(None, pl.String).alias("api"),
        pl.lit(None, pl.String).alias("api_status"), detail.alias("detail"), pl.lit(None, pl.String).alias("stable_key"),
    )


def settlement_params(start: dt.date, end: dt.date, today: dt.date) -> dict[str, object]:
    """The settlement window read for [start, end) and $due_before: payments confirmed before it had the whole lag."""
    from etl.reconcile.readback import SETTLEMENT_LAG_DAYS, settlement_window

    read_from, read_to = settlement_window(start, end)
    # Confirmed on day d, a payment has settled by d + lag; only those whose lag has run out by today are judged.
    due_before = min(end, today - dt.timedelta(days=SETTLEMENT_LAG_DAYS - 1))
    return {"read_from": read_from, "read_to": read_to, "due_before": due_before}


def reconcile_period(store: Store, config: Config, period: str, readback: Readback | None,
                     today: dt.date | None = None) -> PeriodResult:
    """Month-end over the state database; stores the period's breaks in period_breaks and returns them.

    `today` (default: today in UTC) is the day Amili is read back; it decides whether the month has ended (else it
    is `incomplete`, to be rerun on the first day of the next month) and which Collection payments have had the
    whole settlement lag to settle.
    """
    start, end, previous = period_bounds(period)
    today = today or dt.datetime.now(dt.timezone.utc).date()
    params: dict[str, object] = {"start": start, "end": end, "period": period, "previous": previous,
                                 "carried": list(CARRIED)}
    runs = period_query(store, "runs", params)
    read_rows = 0
    settlements: dict[str, int] | None = None
    if readback is not None:
        rb = readback(config, start, end)
        read_rows = rb.height
        with store.transaction():
            store.execute("DELETE FROM amili_readback WHERE period = ?", [period])
            store.insert_frame("amili_readback", rb.with_columns(
                pl.lit(period).alias("period"), pl.lit(dt.datetime.combine(end, dt.time()) - dt.timedelta(seconds=1)).alias("read_at")))
    balances_checked = _has_table(store, "statement_balances")
    balances = period_query(store, "statement_balances", params) if balances_checked else pl.DataFrame()
    parts = [period_query(store, name, params) for name in ("open_breaks", "carried_breaks", "unpaid_invoice")]
    from etl.reconcile.readback import readback_scope

    scope = readback_scope(config)
    unchecked: dict[str, str] = {}
    if today < end:  # the month is still running: payments may yet be booked in it
        unchecked["period_open"] = f"the month has not ended: rerun on or after {end.isoformat()}"
    params["scope"] = scope if readback is not None else []  # what was read: nothing without a read-back
    if readback is not None:
        params |= settlement_params(start, end, today)
        # Fresh answers first: a carried row only stands for a break this month's read did not find again.
        parts += [period_query(store, name, params) for name in (
            "missing_in_amili", "unknown_in_amili", "payout_mismatch", "settlement_missing",
            "settlement_missing_carried", "settlement_mismatch", "settlement_mismatch_carried", "settlement_unknown",
            "unknown_carried")]
        settlements = period_query(store, "settlement_counts", params).row(0, named=True)
        if settlements["payments_not_yet_due"]:
            unchecked["settlement_lag"] = (
                f"Collection: {settlements['payments_not_yet_due']} payment(s) within the settlement lag, not judged "
                f"yet: rerun on or after {params['read_to']}")
    elif scope:
        unchecked["readback"] = ("Amili not read back (--no-readback): missing_in_amili, unknown_in_amili and settled "
                                 "amounts not checked; last month's such breaks are carried unchanged, still open")
    parts.append(period_query(store, "readback_carried", params))
    if balances.height:
        parts.append(_balance_breaks(balances))
    cols = ["category", "break_key", "first_seen", *[c for c in STORED_COLUMNS if c != "category"]]
    current = pl.concat([p.select(cols) for p in parts], how="vertical_relaxed").unique(
        ["category", "break_key"], keep="first", maintain_order=True)

    before = store.frame("SELECT * FROM period_breaks WHERE period = $previous AND status IN ('new', 'persisting')",
                         {"previous": previous})
    known = before.select("category", "break_key", "first_period", pl.col("first_seen").alias("_first_seen_before"))
    last_day = end - dt.timedelta(days=1)
    now = current.join(known, on=["category", "break_key"], how="left").with_columns(
        pl.when(pl.col("first_period").is_null()).then(pl.lit("new")).otherwise(pl.lit("persisting")).alias("status"),
        pl.col("first_period").fill_null(period),
        pl.coalesce("_first_seen_before", "first_seen").alias("first_seen"),
    ).drop("_first_seen_before")
    from_readback = pl.any_horizontal(pl.col("break_key").str.starts_with(k) for k in READBACK_MISMATCH)
    carried = pl.col("category").is_in(CARRIED) | ((pl.col("category") == "settled_amount_mismatch") & from_readback)
    resolved = before.filter(carried).join(
        current.select("category", "break_key"), on=["category", "break_key"], how="anti"
    ).with_columns(pl.lit("resolved").alias("status"), pl.col("source_line").cast(pl.Int64),
                   pl.lit("info").alias("severity"), pl.col("break_key").alias("stable_key"))
    breaks = pl.concat([now, resolved.select(now.columns)], how="vertical_relaxed").with_columns(
        (pl.lit(last_day) - pl.col("first_seen")).dt.total_days().cast(pl.Int32).alias("age_days"), difference_expr())
    order = pl.DataFrame({"category": list(CATEGORIES), "_o": list(range(len(CATEGORIES)))})
    status_order = pl.col("status").replace_strict({"new": 0, "persisting": 1, "resolved": 2}, return_dtype=pl.Int8)
    from etl.reconcile.resolutions import RESOLUTION_DETAIL_COLUMNS, apply_resolutions

    breaks = apply_resolutions(store, breaks, start)  # what `amili-etl resolve` closed: resolved, then gone
    breaks = breaks.join(order, on="category", how="left").sort(
        "_o", status_order, "source_file", "source_line", "break_key", nulls_last=True).drop("_o").select(
        *BREAK_COLUMNS, *RESOLUTION_DETAIL_COLUMNS)
    with store.transaction():
        store.execute("DELETE FROM period_breaks WHERE period = ?", [period])
        store.insert_frame("period_breaks", breaks.drop("severity", "stable_key", "difference_minor",
                                                        *RESOLUTION_DETAIL_COLUMNS).with_columns(pl.lit(period).alias("period")))
    return PeriodResult(period, breaks, balances, runs, read_rows, balances_checked, settlements, unchecked)
