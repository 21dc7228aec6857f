"""discrepancies.csv and summary.json, exactly as docs/contracts.md says."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from etl.money import format_minor_expr
from etl.reconcile.runner import break_key_expr
from etl.report.safe import escape_text_columns, utf8_text

__all__ = ["ACTIONS", "CSV_COLUMNS", "RESOLUTION_COLUMNS", "with_resolution_columns", "atomic_write", "discrepancy_table", "write_csv", "write_summary"]

# What the accountant fills in to act on a break (`amili-etl resolve` reads them back); break_key is written filled,
# the other three empty. The same columns end every category sheet of the workbooks.
RESOLUTION_COLUMNS = ("break_key", "action", "action_invoice", "action_note")
ACTIONS = ("match", "write_off", "refund", "explain", "reopen")

CSV_COLUMNS = (
    "category",
    "severity",
    "source_file",
    "source_line",
    "reference",
    "invoice_number",
    "amount",
    "currency",
    "expected_amount",
    "api",
    "api_status",
    "detail",
    "difference",
    *RESOLUTION_COLUMNS,
)


def with_resolution_columns(found: pl.DataFrame) -> pl.DataFrame:
    """`found` with RESOLUTION_COLUMNS: its break_key (computed where it has none yet), the action columns empty."""
    if "break_key" not in found.columns:
        lineage = {"stable_key", "source_file", "source_line"} <= set(found.columns)
        found = found.with_columns(break_key_expr() if lineage else pl.lit(None, pl.String).alias("break_key"))
    return found.with_columns(pl.lit(None, pl.String).alias(c) for c in RESOLUTION_COLUMNS[1:] if c not in found.columns)


def discrepancy_table(found: pl.DataFrame) -> pl.DataFrame:
    """Stored discrepancies -> the contract's columns, amounts as decimal strings with a point; the action columns
    written empty (a month-end break carries the resolution on its way, e.g. a match not yet confirmed: the workbook
    shows it, but the file a person fills and hands to `resolve` starts blank)."""
    return with_resolution_columns(found.drop(RESOLUTION_COLUMNS[1:], strict=False)).with_columns(
        format_minor_expr("amount_minor").alias("amount"),
        format_minor_expr("expected_minor").alias("expected_amount"),
        format_minor_expr("difference_minor").alias("difference"),
    ).select(CSV_COLUMNS)


def write_csv(found: pl.DataFrame, path: Path) -> None:
    """discrepancies.csv: the contract's columns in order, text cells escaped against formula injection. The text is
    kept as it is otherwise (polars strings are valid UTF-8: no surrogate can reach the file)."""
    table = escape_text_columns(discrepancy_table(found), keep=("amount", "expected_amount", "difference"))
    _atomic_write(path, table.write_csv().encode("utf-8"))


def write_summary(summary: dict[str, Any], path: Path) -> None:
    """summary.json, pretty-printed with stable key order; valid UTF-8 whatever the text (a lone surrogate, e.g.
    from a file name that is not UTF-8, becomes U+FFFD; control characters are JSON-escaped)."""
    _atomic_write(path, utf8_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """`write` a temporary file beside `path`, then rename it: a crash or a full disk never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no partial file
        raise


def _atomic_write(path: Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))
