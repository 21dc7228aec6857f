"""Run every reconciliation query for one run and store the discrepancies it finds."""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources

import polars as pl

from etl.store import Store

__all__ = ["CATEGORIES", "DIFFERENCE_OF_TWO", "DISCREPANCY_COLUMNS", "QUERIES", "STORED_COLUMNS", "by_currency_text",
           "break_key_expr", "control_summary", "control_totals", "difference_expr", "query_text", "reconcile_run",
           "run_query"]

# The fixed vocabulary of docs/contracts.md, in report order.
CATEGORIES = (
    "invalid_row",
    "control_total_mismatch",
    "duplicate_payment",
    "invalid_reference",
    "unmatched_payment",
    "ambiguous_match",
    "underpayment",
    "overpayment",
    "currency_mismatch",
    "rejected",
    "pending",
    "settled_amount_mismatch",
    "missing_in_amili",
    "unknown_in_amili",
    "unpaid_invoice",
)

DISCREPANCY_COLUMNS = (
    "category",
    "severity",
    "source_file",
    "source_line",
    "reference",
    "invoice_number",
    "amount_minor",
    "currency",
    "expected_minor",
    "api",
    "api_status",
    "detail",
    "difference_minor",
    "stable_key",
)

# What the questions answer and the discrepancies table stores: `difference_minor` is derived from these (one rule,
# difference_expr, for the run and the month-end alike), never stored.
STORED_COLUMNS = tuple(c for c in DISCREPANCY_COLUMNS if c != "difference_minor")

# Categories whose stake is the gap between two amounts: amount - expected (overpayment +, underpayment -; settled -
# sent; a file's computed - declared total, a statement's opening + movements - closing).
DIFFERENCE_OF_TWO = ("underpayment", "overpayment", "settled_amount_mismatch", "control_total_mismatch")

# Per-run questions, each a file in sql/ answering with STORED_COLUMNS.
QUERIES = (
    "invalid_row",
    "control_total_mismatch",
    "duplicate_payment",
    "invalid_reference",
    "unmatched_payment",
    "ambiguous_match",
    "amount_mismatch",
    "currency_mismatch",
    "rejected",
    "pending",
    "settled_amount_mismatch",
)


def difference_expr() -> pl.Expr:
    """`difference_minor`: what is at stake in a discrepancy, signed, in minor units.

    amount - expected for DIFFERENCE_OF_TWO; the open amount (expected) for unpaid_invoice, which has no amount;
    elsewhere the amount itself (the payment's, the item's). Null only when the row carries no amount at all (an
    invalid row whose amount could not be read).
    """
    amount, expected = pl.col("amount_minor"), pl.col("expected_minor")
    return (pl.when(pl.col("category").is_in(DIFFERENCE_OF_TWO)).then(amount - expected)
            .when(pl.col("category") == "unpaid_invoice").then(expected)
            .otherwise(amount).cast(pl.Int64).alias("difference_minor"))


def break_key_expr() -> pl.Expr:
    """`break_key`: a break's key as the reports write it, `coalesce(stable_key, source_file || ':' || source_line)`
    (the month-end's key, sql/period/open_breaks.sql): what a filled `action` row is matched back to."""
    where = pl.col("source_file") + ":" + pl.col("source_line").cast(pl.String).fill_null("")
    return pl.coalesce(pl.col("stable_key"), where).alias("break_key")


def query_text(name: str) -> str:
    """The text of one question in sql/."""
    return resources.files("etl.reconcile").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")


_sql = query_text


def run_query(store: Store, name: str, run_id: str) -> pl.DataFrame:
    """Run one reconciliation query for `run_id`."""
    return store.frame(_sql(name), {"run_id": run_id})


# A question's own trailing ORDER BY: dropped when it runs inside the union (reconcile_run sorts the whole once).
_TRAILING_ORDER = re.compile(r"\bORDER BY\b[^;()]*;?\s*$", re.IGNORECASE)
_COLS = ", ".join(STORED_COLUMNS)
# Report order: category (CATEGORIES), then file and line; api and key break the ties the way each question orders.
# That is unique: each question answers at most one row per file and line, or per (api, key). The detail is not a
# sort key: sorting on a long text would cost more than the rest of the sort.
_CATEGORY = pl.Enum(CATEGORIES)
_REPORT_ORDER = (pl.col("category").cast(_CATEGORY), "source_file", "source_line", "api", "stable_key")


def _union_sql() -> str:
    """Every per-run question as one statement (DuckDB runs the questions in one plan, in parallel), then one break
    per cause: a payment several questions flag becomes one row (sql/one_break_per_cause.sql)."""
    parts = [f"SELECT {_COLS} FROM (\n{_TRAILING_ORDER.sub('', _sql(name)).rstrip()}\n)" for name in QUERIES]
    found = "\nUNION ALL\n".join(parts)
    return f"WITH found AS (\n{found}\n)\nSELECT {_COLS} FROM (\n{_sql('one_break_per_cause').rstrip()}\n)"


def reconcile_run(store: Store, run_id: str) -> pl.DataFrame:
    """All discrepancies of `run_id`, stored in the discrepancies table and returned in report order.

    The questions run as one DuckDB statement (one plan, in parallel) whose rows go straight into the table, without
    crossing to Python; what was stored is then read once and put in report order by polars, which moves its string
    views where DuckDB's sort copies every text (a million rows: a third less time than crossing to polars and back
    to insert, and 0.1 s less than DuckDB's ORDER BY).
    """
    with store.transaction():
        store.execute("DELETE FROM discrepancies WHERE run_id = $run_id", {"run_id": run_id})
        store.execute(f"INSERT INTO discrepancies ({_COLS}, run_id) SELECT {_COLS}, $run_id FROM ({_union_sql()})",
                      {"run_id": run_id})
    found = store.frame(f"SELECT {_COLS} FROM discrepancies WHERE run_id = $run_id", {"run_id": run_id})
    # Every row is in CATEGORIES (the questions answer only those): an unknown category fails the cast, loudly.
    return found.with_columns(difference_expr()).select(DISCREPANCY_COLUMNS).sort(*_REPORT_ORDER, nulls_last=True)


def control_totals(store: Store, run_id: str) -> pl.DataFrame:
    """Per file, per day and per run: file total = planned = delivered = accepted, net and gross breaks (after reconcile_run)."""
    return run_query(store, "control_totals", run_id)


def control_summary(store: Store, run_id: str) -> dict[str, dict[str, str]]:
    """summary.json's totals.control: per currency, the run-level control totals as decimal strings."""
    run = control_totals(store, run_id).filter(pl.col("level") == "run")
    cols = ["file_total_minor", "planned_total_minor", "delivered_total_minor", "accepted_total_minor",
            "net_break_minor", "gross_break_minor", "explained_minor", "unexplained_minor"]
    return by_currency_text(run, cols)


def by_currency_text(frame: pl.DataFrame, cols: Sequence[str]) -> dict[str, dict[str, str]]:
    """{currency: {column without _minor: decimal string}} of a frame with one row per currency (for summary.json)."""
    from etl.money import format_minor

    return {row["currency"]: {c.removesuffix("_minor"): format_minor(int(row[c] or 0)) for c in cols}
            for row in frame.select("currency", *cols).to_dicts()}
