"""Invoice exports from an ERP (CSV and .xlsx) through a layout, e.g. mappings/invoices_generic.toml.

Dates that do not parse become null (validation rejects the row; the raw frame keeps the original text).
"""

from __future__ import annotations

from pathlib import Path

from etl.mapping import Layout
from etl.sources.base import INVOICE_SCHEMA, SourceResult
from etl.sources.common import with_lineage
from etl.sources.tables import Table, map_table, read_csv_table, read_xlsx_table

__all__ = ["read_invoices_csv", "read_invoices_xlsx"]


def _invoice_result(path: Path, sha256: str, fmt: str, layout: Layout, table: Table) -> SourceResult:
    rows = map_table(table, layout)
    return SourceResult(
        path=path,
        format=fmt,
        kind="invoices",
        sha256=sha256,
        rows=with_lineage(rows, INVOICE_SCHEMA, path=path, sha256=sha256, fmt=fmt),
        raw=table.raw,
        layout=layout.name,
    )


def read_invoices_csv(path: Path, data: bytes, sha256: str, layout: Layout) -> SourceResult:
    """An invoice CSV export in `layout`."""
    return _invoice_result(path, sha256, "invoices_csv", layout, read_csv_table(data, layout))


def read_invoices_xlsx(path: Path, data: bytes, sha256: str, layout: Layout) -> SourceResult:
    """An invoice .xlsx export in `layout` (cells may be numbers or dates: all read as text)."""
    return _invoice_result(path, sha256, "invoices_xlsx", layout, read_xlsx_table(data, layout))
