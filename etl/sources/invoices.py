"""Invoice exports from an ERP (CSV and .xlsx) through a layout, e.g. mappings/invoices_generic.toml.

Dates that do not parse become null (validation rejects the row; the raw frame keeps the original text).
A line-level export (a layout with [line_columns], e.g. Tripletex) has one row per invoice line: its rows are
grouped into one invoice per invoice number (header fields from the invoice's first line, money summed over
its lines unless the export repeats the invoice totals), and the lines are kept in SourceResult.lines for
the ARM documents' documentLines (built by etl/plan.py).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from etl.mapping import Layout
from etl.mapping.apply import LINE_PREFIX, split_amount_problems
from etl.sources.base import INVOICE_LINE_SCHEMA, INVOICE_SCHEMA, SourceResult
from etl.sources.common import reader_result, sheets_result
from etl.sources.tables import Table, map_table, read_csv_table, read_xlsx_tables

__all__ = ["read_invoices_csv", "read_invoices_xlsx", "group_lines"]

_MONEY = ("amount_excl_vat_minor", "vat_minor", "amount_minor")
_HEADER = [c for c in INVOICE_SCHEMA if c not in _MONEY and c != "source_line"]


def group_lines(rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Mapped rows of a line-level export -> (one row per invoice, INVOICE_LINE_SCHEMA lines).

    An invoice is identified by its number; its source_line is its first line's. Its money is the export's own
    invoice total where the layout maps one (first line), else the sum of its lines (missing if a line's is).
    """
    line_cols = [c for c in rows.columns if c.startswith(LINE_PREFIX)]
    numbered = rows.with_columns(
        pl.col("source_line").min().over("invoice_number").alias("invoice_line"),
        (pl.int_range(pl.len()).over("invoice_number") + 1).cast(pl.Int64).alias("_line_seq"),
    )
    lines = numbered.select(
        "source_line",
        "invoice_line",
        "invoice_number",
        pl.coalesce(pl.col(LINE_PREFIX + "line_no"), pl.col("_line_seq")).alias("line_no"),
        *[pl.col(c).alias(c.removeprefix(LINE_PREFIX)) for c in line_cols if c != LINE_PREFIX + "line_no"],
    ).select([pl.col(c).cast(t) for c, t in INVOICE_LINE_SCHEMA.items()])
    header = [c for c in _HEADER if c in rows.columns]
    # A line whose amount is missing leaves its invoice's total missing too (validation rejects it): a sum
    # that skipped it would be wrong.
    summed = {m: pl.when(pl.col(LINE_PREFIX + m).is_null().any()).then(None).otherwise(pl.col(LINE_PREFIX + m).sum())
              for m in _MONEY}
    money = [pl.coalesce(pl.col(m).first(), summed[m]).alias(m) for m in _MONEY]
    invoices = (
        numbered.group_by("invoice_line", maintain_order=True)
        .agg(*[pl.col(c).first() for c in header], *money)
        .rename({"invoice_line": "source_line"})
    )
    return invoices, lines


def _invoice_result(path: Path, fmt: str, layout: Layout, table: Table) -> SourceResult:
    rows, problems = split_amount_problems(map_table(table, layout))
    lines = None
    if layout.line_columns:
        rows, lines = group_lines(rows)
    return reader_result(path, fmt, rows, table.raw, layout=layout.name, lines=lines, problems=problems)


def read_invoices_csv(path: Path, data: bytes, layout: Layout) -> SourceResult:
    """An invoice CSV export in `layout`."""
    return _invoice_result(path, "invoices_csv", layout, read_csv_table(data, layout))


def read_invoices_xlsx(path: Path, data: bytes, layout: Layout) -> SourceResult:
    """An invoice .xlsx export in `layout` (cells may be numbers or dates: all read as text)."""
    return sheets_result([_invoice_result(path, "invoices_xlsx", layout, t) for t in read_xlsx_tables(data, layout)])
