"""Run every reconciliation query for one run and store the discrepancies it finds."""

from __future__ import annotations

from importlib import resources

import polars as pl

from etl.store import Store

__all__ = ["CATEGORIES", "DISCREPANCY_COLUMNS", "QUERIES", "control_summary", "control_totals", "reconcile_run", "run_query"]

# The fixed vocabulary of DESIGN.md, in report order.
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
    "stable_key",
)

# Per-run questions, each a file in sql/ answering with DISCREPANCY_COLUMNS.
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


def run_query(store: Store, name: str, run_id: str) -> pl.DataFrame:
    """Run one reconciliation query for `run_id`."""
    sql = resources.files("etl.reconcile").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
    return store.frame(sql, {"run_id": run_id})


def reconcile_run(store: Store, run_id: str) -> pl.DataFrame:
    """All discrepancies of `run_id`, stored in the discrepancies table and returned in report order."""
    frames = [run_query(store, name, run_id) for name in QUERIES]
    found = pl.concat([f.select(DISCREPANCY_COLUMNS) for f in frames], how="vertical_relaxed")
    order = pl.DataFrame({"category": list(CATEGORIES), "_order": list(range(len(CATEGORIES)))})
    found = (
        found.join(order, on="category", how="left")
        .sort("_order", "source_file", "source_line", nulls_last=True, maintain_order=True)
        .drop("_order")
    )
    with store.transaction():
        store.execute("DELETE FROM discrepancies WHERE run_id = $run_id", {"run_id": run_id})
        store.insert_frame("discrepancies", found.with_columns(pl.lit(run_id).alias("run_id")))
    return found


def control_totals(store: Store, run_id: str) -> pl.DataFrame:
    """Per file, per day and per run: file total = planned = delivered = accepted, net and gross breaks (after reconcile_run)."""
    return run_query(store, "control_totals", run_id)


def control_summary(store: Store, run_id: str) -> dict[str, dict[str, str]]:
    """summary.json's totals.control: per currency, the run-level control totals as decimal strings."""
    from etl.money import format_minor

    run = control_totals(store, run_id).filter(pl.col("level") == "run")
    cols = ["file_total_minor", "planned_total_minor", "delivered_total_minor", "accepted_total_minor",
            "net_break_minor", "gross_break_minor", "explained_minor", "unexplained_minor"]
    return {row["currency"]: {c.removesuffix("_minor"): format_minor(int(row[c] or 0)) for c in cols}
            for row in run.select("currency", *cols).to_dicts()}
