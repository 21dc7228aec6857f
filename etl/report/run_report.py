"""A run's report files from the state database: discrepancies.xlsx (every sheet), matched.parquet, unmatched.parquet.

Every row carries its lineage: source file, line (and sheet for Excel inputs), the stable key, and where it went
in Amili (API, state, HTTP status, Amili's id).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl

from etl.config import Config
from etl.reconcile import control_totals
from etl.reconcile.tie import tie_out
from etl.report.cover import Cover
from etl.report.refunds import refunds_frame
from etl.report.run_info import run_info_frame
from etl.report.scope import report_scope
from etl.report.tables import atomic_write
from etl.report.workbook import Sheet, write_workbook
from etl.store import Store

__all__ = ["MATCHED_SQL", "report_frames", "write_run_workbook", "write_parquet"]

_MATCHED = "('reference', 'invoice_number', 'multi_invoice', 'amount_name')"

# The payer's own breakdown by extra reference (BgMax TK22 +, TK23 -): the payer_breakdown macro (migration 0009).
EXTRA_AMOUNTS_SQL = "payer_breakdown(p.extra_references, p.extra_reference_amounts)"

MATCHED_SQL = f"""
SELECT p.source_file, p.source_line, p.source_sheet, p.booking_date, p.payer_name, p.reference, m.invoice_number,
       m.invoice_numbers, p.extra_references, {EXTRA_AMOUNTS_SQL} AS extra_reference_amounts, p.amount_minor,
       p.currency, m.outstanding_minor, m.rule, m.fields, m.score, m.evidence,
       m.target, m.route_reason, o.state AS api_state, o.http_status, o.amili_id, o.settled_minor,
       p.payment_key AS stable_key
FROM matches m JOIN payments p ON p.run_id = m.run_id AND p.payment_no = m.payment_no
LEFT JOIN run_items r ON r.run_id = m.run_id AND r.key = m.payment_key AND r.api = m.target
LEFT JOIN outbox o ON o.api = r.api AND o.key = r.key
WHERE m.run_id = $run_id AND m.rule IN {_MATCHED} AND p.duplicate_of IS NULL
ORDER BY p.source_file, p.source_line
"""

# Payments of the run that were not matched (or not sent), with why: for analysts, beside matched.parquet.
_UNMATCHED_SQL = f"""
SELECT p.source_file, p.source_line, p.source_sheet, p.booking_date, p.payer_name, p.reference, p.message,
       p.extra_references, {EXTRA_AMOUNTS_SQL} AS extra_reference_amounts, p.amount_minor, p.currency, p.creditor,
       p.account,
       CASE WHEN p.held_back THEN 'held_back' WHEN p.duplicate_of IS NOT NULL THEN 'duplicate_payment'
            WHEN p.creditor IS NULL THEN 'unmatched_payment' WHEN m.rule = 'ambiguous' THEN 'ambiguous_match'
            ELSE 'unmatched_payment' END AS reason,
       m.candidates, p.duplicate_of, p.payment_key AS stable_key
FROM payments p
LEFT JOIN matches m ON m.run_id = p.run_id AND m.payment_no = p.payment_no AND p.duplicate_of IS NULL
WHERE p.run_id = $run_id AND p.amount_minor > 0 AND (m.rule IS NULL OR m.rule NOT IN {_MATCHED})
ORDER BY p.source_file, p.source_line
"""

# The discrepancies with what Amili said about the item: its id and HTTP status (lineage to Amili).
_DISCREPANCIES_SQL = """
SELECT d.category, d.severity, d.source_file, d.source_line, d.reference, d.invoice_number, d.amount_minor, d.currency,
       d.expected_minor, d.api, d.api_status, d.detail, d.stable_key, o.amili_id, o.http_status
FROM discrepancies d LEFT JOIN outbox o ON o.api = d.api AND o.key = d.stable_key
WHERE d.run_id = $run_id
"""

# Bank files first, then invoice files: their totals in separate columns, so no total adds invoices to payments.
_FILES_SQL = """
SELECT path, format, layout, kind, creditor, status, rows, valid, rejected,
       CASE WHEN kind = 'payments' THEN total_minor END AS bank_total_minor,
       CASE WHEN kind = 'invoices' THEN total_minor END AS invoice_total_minor, currency,
       declared_total_minor, computed_total_minor, sha256, message
FROM files WHERE run_id = $run_id
ORDER BY CASE kind WHEN 'payments' THEN 0 WHEN 'invoices' THEN 1 ELSE 2 END, path
"""


def report_frames(store: Store, run_id: str) -> dict[str, pl.DataFrame]:
    """The frames a run's report shows, read back from the state database."""
    p = {"run_id": run_id}
    return {
        "matched": store.frame(MATCHED_SQL, p),
        "unmatched": store.frame(_UNMATCHED_SQL, p),
        "rejects": store.frame(
            "SELECT source_file, source_line, error_column, error_check, error_message FROM rejects "
            "WHERE run_id = $run_id ORDER BY source_file, source_line, error_column", p),
        "files": store.frame(_FILES_SQL, p),
        "control": control_totals(store, run_id),
        "discrepancies": store.frame(_DISCREPANCIES_SQL, p),
    }


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    """Parquet for analysts (money stays integer minor units), written atomically."""
    atomic_write(path, frame.write_parquet)


def write_run_workbook(store: Store, run_id: str, run_dir: Path, summary: dict[str, Any], found: pl.DataFrame,
                       config: Config, facts: dict[str, Any], written_off: pl.DataFrame | None = None) -> None:
    """discrepancies.xlsx, matched.parquet and unmatched.parquet of one run into `run_dir`; `written_off`: the
    run's breaks written off automatically (their own sheet, never silently)."""
    frames = report_frames(store, run_id)
    # Keep the report order of `found` (category order, then file and line); add Amili's id and HTTP status.
    lineage = frames["discrepancies"].select("category", "stable_key", "source_file", "source_line", "amili_id",
                                             "http_status").unique(["category", "stable_key", "source_file", "source_line"])
    shown = found.join(lineage, on=["category", "stable_key", "source_file", "source_line"], how="left",
                       nulls_equal=True, maintain_order="left")
    sheets = [
        *([Sheet("Written off", written_off, totals=True,
                 notes=("written off automatically: |difference| below the creditor's write_off_below; the payment "
                        "was delivered whole",))] if written_off is not None and written_off.height else []),
        Sheet("Refunds", refunds_frame(store), totals=True),
        Sheet("Matched", frames["matched"], totals=True),
        Sheet("Unmatched", frames["unmatched"], totals=True),
        Sheet("Rejects", frames["rejects"]),
        Sheet("Files", frames["files"], totals=True,  # per currency
              notes=("bank_total: the payments in a bank file; invoice_total: the invoices in an invoice export "
                     "(kept apart, never added together)",)),
        Sheet("Control totals", frames["control"], totals=False),
        Sheet("Run info", run_info_frame(facts, config)),
    ]
    creditors, booked = report_scope(store, [run_id])
    cover = Cover("Run", run_id, dt.datetime.now(dt.timezone.utc).astimezone(), creditors, booked,
                  tie_out(store, run_id))
    write_workbook(run_dir / "discrepancies.xlsx", summary, shown, sheets, frames["control"], cover)
    write_parquet(frames["matched"], run_dir / "matched.parquet")
    write_parquet(frames["unmatched"], run_dir / "unmatched.parquet")
