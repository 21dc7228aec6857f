"""discrepancies.xlsx: Summary, one sheet per category with rows, Matched, Rejects, and Run info.

Written with xlsxwriter in constant-memory mode (rows stream to disk), every text cell escaped against
formula injection, amounts as numbers with a number format, headers frozen, autofilter on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from etl.reconcile import CATEGORIES
from etl.report.safe import escape_cell

__all__ = ["write_workbook"]

_MAX_WIDTH = 60


def _sheet(book: Any, name: str, frame: pl.DataFrame, fmts: dict[str, Any], money_cols: set[str],
           totals: bool = False) -> None:
    """One table sheet: bold frozen header, autofilter, widths from the content, money as numbers."""
    ws = book.add_worksheet(name[:31])
    cols = frame.columns
    widths = [max(len(c), 8) for c in cols]
    for i, c in enumerate(cols):
        ws.write_string(0, i, c, fmts["header"])
    for r, row in enumerate(frame.iter_rows(), start=1):
        for i, v in enumerate(row):
            if v is None:
                continue
            if cols[i] in money_cols:
                ws.write_number(r, i, v / 100, fmts["money"])
                widths[i] = max(widths[i], 12)
            elif isinstance(v, (int, float)):
                ws.write_number(r, i, v)
            else:
                text = str(escape_cell(str(v)))
                ws.write_string(r, i, text)
                widths[i] = max(widths[i], min(len(text) + 2, _MAX_WIDTH))
    last = frame.height
    if totals and last:
        ws.write_string(last + 1, 0, "Total", fmts["header"])
        for i, c in enumerate(cols):
            if c in money_cols:
                total = frame.get_column(c).sum() or 0
                ws.write_number(last + 1, i, total / 100, fmts["money_total"])
    for i, w in enumerate(widths):
        ws.set_column(i, i, w)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(last, 1), max(len(cols) - 1, 0))


def write_workbook(
    path: Path,
    summary: dict[str, Any],
    discrepancies: pl.DataFrame,
    matched: pl.DataFrame,
    rejects: pl.DataFrame,
    files: pl.DataFrame,
    run_info: dict[str, Any],
) -> None:
    """Write the accountant's workbook; amounts in `*_minor` columns become numbers in major units."""
    tmp = path.with_name(path.name + ".tmp.xlsx")
    book = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "strings_to_formulas": False,
                                          "strings_to_urls": False, "strings_to_numbers": False})
    fmts = {
        "header": book.add_format({"bold": True, "bg_color": "#DDE5F0", "border": 1}),
        "money": book.add_format({"num_format": "#,##0.00"}),
        "money_total": book.add_format({"num_format": "#,##0.00", "bold": True, "top": 1}),
        "title": book.add_format({"bold": True, "font_size": 14}),
        "bold": book.add_format({"bold": True}),
    }
    # Summary first: status, counts per category, totals.
    ws = book.add_worksheet("Summary")
    ws.write_string(0, 0, "amili-etl discrepancy report", fmts["title"])
    rows: list[tuple[str, Any]] = [
        ("Run", summary["run_id"]),
        ("Status", summary["status"]),
        ("Files", len(summary["files"])),
    ]
    r = 2
    for label, value in rows:
        ws.write_string(r, 0, label, fmts["bold"])
        ws.write(r, 1, str(escape_cell(str(value))))
        r += 1
    r += 1
    ws.write_string(r, 0, "Category", fmts["header"])
    ws.write_string(r, 1, "Rows", fmts["header"])
    ws.write_string(r, 2, "Amount", fmts["header"])
    r += 1
    amounts = discrepancies.group_by("category").agg(pl.col("amount_minor").sum()).rows_by_key("category")
    for cat in CATEGORIES:
        n = summary["counts"].get(cat, 0)
        ws.write_string(r, 0, cat)
        ws.write_number(r, 1, n)
        ws.write_number(r, 2, ((amounts.get(cat, [[0]])[0][0]) or 0) / 100, fmts["money"])
        r += 1
    r += 1
    ws.write_string(r, 0, "Totals", fmts["header"])
    r += 1
    for label, value in _flatten(summary.get("totals", {})):
        ws.write_string(r, 0, label)
        ws.write(r, 1, value)
        r += 1
    ws.set_column(0, 0, 34)
    ws.set_column(1, 2, 22)

    money = {"amount_minor", "expected_minor", "invoice_amount_minor", "outstanding_minor", "total_minor"}
    for cat in CATEGORIES:
        rows_cat = discrepancies.filter(pl.col("category") == cat)
        if rows_cat.height:
            _sheet(book, cat, rows_cat.drop("category"), fmts, money, totals=True)
    _sheet(book, "Matched", matched, fmts, money, totals=True)
    _sheet(book, "Rejects", rejects, fmts, money)
    _sheet(book, "Files", files, fmts, money)
    info = pl.DataFrame({"key": list(run_info.keys()), "value": [str(v) for v in run_info.values()]})
    _sheet(book, "Run info", info, fmts, set())
    book.close()
    tmp.replace(path)


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += _flatten(v, f"{prefix}{k}.")
        else:
            out.append((f"{prefix}{k}", v if isinstance(v, (int, float)) else str(v)))
    return out
