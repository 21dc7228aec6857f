"""discrepancies.xlsx: Summary (with a chart), one sheet per category with rows, then the given sheets (Matched,
Rejects, Files, Control totals, Run info, ...).

Structure, formats, the Summary and its chart are written with xlsxwriter (constant-memory mode); the table rows are
rendered vectorised (sheetxml.py) and spliced in: 100k rows in seconds, not minutes. Every text cell is escaped
against formula injection (vectorised, before writing), amounts in `*_minor` columns are numbers in major units
(exact decimals) with a number format, dates have a date format; header frozen, autofilter on, widths from the
content, a totals row under every money column. No text can break the workbook: every character XML 1.0 forbids
(C0 controls but TAB/LF/CR, lone surrogates, U+FFFE, U+FFFF) becomes U+FFFD in every cell, header, label, note and
chart name (safe.py; the spliced rows in sheetxml.py).
"""

from __future__ import annotations

import re

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from etl.reconcile.runner import CATEGORIES
from etl.report.safe import escape_cell, escape_text_columns, xml_safe, xml_text, xml_text_expr
from etl.report.sheetxml import render_rows, splice_rows

__all__ = ["Sheet", "write_workbook"]

_MAX_WIDTH = 60
_WIDTH_SAMPLE = 2_000  # widths are measured on the first rows: enough to look right, cheap on 100k rows


@dataclass
class Sheet:
    """A table sheet: its name, its rows, and whether to add a totals row under the money columns."""

    name: str
    frame: pl.DataFrame
    totals: bool = False
    notes: Sequence[str] = field(default_factory=tuple)  # lines written above the table (e.g. 'balances not checked')


_DECIMAL = re.compile(r"-?\d+\.\d{2}")


def _is_money(name: str) -> bool:
    return name.endswith("_minor")


def _header(name: str) -> str:
    """Column header as shown: `amount_minor` -> `amount` (the cell is in major units)."""
    return name[: -len("_minor")] if _is_money(name) else name


def _table(book: Any, sheet: Sheet, fmts: dict[str, Any], number: int, inserts: dict[int, tuple[int, int, str]]) -> None:
    """One table sheet: bold frozen header, autofilter, widths from the content, money and dates formatted.

    xlsxwriter writes the header, the formats and the totals row; the data rows are rendered vectorised and go
    into `inserts` for sheet `number` (see sheetxml.py).
    """
    ws = book.add_worksheet(xml_text(sheet.name)[:31])
    frame = escape_text_columns(sheet.frame, numbers_too=True)
    cols = frame.columns
    top = 0
    for note in sheet.notes:
        ws.write_string(top, 0, str(escape_cell(xml_text(str(note)), numbers_too=True)), fmts["note"])
        top += 1
    money = [i for i, c in enumerate(cols) if _is_money(c)]
    shown = frame
    sample = shown.head(_WIDTH_SAMPLE)
    for i, c in enumerate(cols):
        ws.write_string(top, i, xml_text(_header(c)), fmts["header"])
        width = max(len(_header(c)) + 2, 8)
        dtype = shown.schema[c]
        if i in money:
            width, fmt = max(width, 14), fmts["money"]
        elif dtype == pl.Date:
            width, fmt = max(width, 11), fmts["date"]
        elif dtype == pl.Datetime:
            width, fmt = max(width, 19), fmts["datetime"]
        else:
            fmt = None
            if dtype == pl.String and sample.height:
                longest = sample.get_column(c).str.len_chars().max() or 0
                width = max(width, min(int(longest) + 2, _MAX_WIDTH))
        ws.set_column(i, i, width, fmt)
    styles = {k: fmts[k]._get_xf_index() for k in ("money", "date", "datetime")}
    last = top + shown.height
    inserts[number] = (last + 2, last + 1, render_rows(frame, top + 2, styles))
    if sheet.totals and shown.height and money:
        # One totals row per currency: NOK and SEK never add up into one number.
        groups = (frame.group_by("currency").agg(pl.col(cols[i]).sum() for i in money).sort("currency", nulls_last=True)
                  if "currency" in cols else frame.select(pl.lit(None, pl.String).alias("currency"),
                                                          *[pl.col(cols[i]).sum() for i in money]))
        for r, row in enumerate(groups.iter_rows(named=True), start=last + 1):
            label = "Total" if groups.height == 1 else f"Total {row['currency'] or '(no currency)'}"
            ws.write_string(r, 0, str(escape_cell(xml_text(label), numbers_too=True)), fmts["bold"])
            for i in money:
                ws.write_number(r, i, (row[cols[i]] or 0) / 100, fmts["money_total"])
    ws.freeze_panes(top + 1, 0)
    ws.autofilter(top, 0, max(last, top + 1), max(len(cols) - 1, 0))


def _summary(book: Any, summary: dict[str, Any], found: pl.DataFrame, control: pl.DataFrame | None,
             fmts: dict[str, Any]) -> None:
    """Status, counts and amounts per category (with a chart), the totals that tie, and the control totals."""
    ws = book.add_worksheet("Summary")
    found = found.with_columns(xml_text_expr(pl.col("currency").cast(pl.String)))  # it names columns and series
    ws.write_string(0, 0, "amili-etl discrepancy report", fmts["title"])
    r = 2
    for label, value in (("Run", summary["run_id"]), ("Status", summary["status"])):
        ws.write_string(r, 0, label, fmts["bold"])
        ws.write_string(r, 1, str(escape_cell(str(value), numbers_too=True)),
                        fmts.get("status_" + str(summary["status"])) if label == "Status" else None)
        r += 1
    ws.write_string(r, 0, "Files", fmts["bold"])
    ws.write_number(r, 1, len(summary.get("files", [])))
    r += 1
    r += 1
    table_top = r
    # Amounts per currency, side by side: a total over NOK and SEK together would tie out to nothing.
    currencies = sorted(found.get_column("currency").drop_nulls().unique().to_list()) or ["NOK"]
    heads = ["Category", "Rows"] + [f"{kind} {cur}" for cur in currencies for kind in ("Amount", "Expected")]
    for i, h in enumerate(heads):
        ws.write_string(r, i, h, fmts["header"])
    r += 1
    sums = found.group_by("category", "currency").agg(pl.col("amount_minor").sum(), pl.col("expected_minor").sum())
    money = {(cat, cur): (a or 0, e or 0) for cat, cur, a, e in sums.iter_rows()}
    first = r
    for cat in CATEGORIES:
        ws.write_string(r, 0, cat)
        ws.write_number(r, 1, summary["counts"].get(cat, 0))
        for j, cur in enumerate(currencies):
            amount, expected = money.get((cat, cur), (0, 0))
            ws.write_number(r, 2 + 2 * j, amount / 100, fmts["money"])
            ws.write_number(r, 3 + 2 * j, expected / 100, fmts["money"])
        r += 1
    ws.write_string(r, 0, "Total", fmts["bold"])
    ws.write_number(r, 1, sum(summary["counts"].values()), fmts["bold"])
    for j, cur in enumerate(currencies):  # the column's own sums, so the Total row ties to the rows above
        ws.write_number(r, 2 + 2 * j, sum(a for (_, c), (a, _) in money.items() if c == cur) / 100, fmts["money_total"])
        ws.write_number(r, 3 + 2 * j, sum(e for (_, c), (_, e) in money.items() if c == cur) / 100, fmts["money_total"])
    chart = book.add_chart({"type": "bar"})
    palette = ("#4F81BD", "#C0504D", "#9BBB59", "#8064A2")
    for j, cur in enumerate(currencies):
        chart.add_series({"name": f"Amount {cur}", "categories": ["Summary", first, 0, r - 1, 0],
                          "values": ["Summary", first, 2 + 2 * j, r - 1, 2 + 2 * j],
                          "fill": {"color": palette[j % len(palette)]}})
    chart.set_title({"name": "Amounts by category"})
    chart.set_legend({"position": "bottom"})
    chart.set_y_axis({"reverse": True})
    chart.set_size({"width": 620, "height": 380})
    ws.insert_chart(table_top, len(heads) + 1, chart)
    r += 2
    ws.write_string(r, 0, "Totals (every row accounted for once)", fmts["header"])
    ws.write_string(r, 1, "", fmts["header"])
    r += 1
    for label, value in _flatten(summary.get("totals", {})):
        ws.write_string(r, 0, label)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            ws.write_number(r, 1, value)
        elif isinstance(value, str) and _DECIMAL.fullmatch(value):  # summary.json's money: a number in Excel
            ws.write_number(r, 1, float(value), fmts["money"])
        else:
            ws.write_string(r, 1, str(escape_cell(str(value), numbers_too=True)))
        r += 1
    if control is not None and control.height:
        r += 1
        ws.write_string(r, 0, "Control totals per run: file = planned = delivered = accepted", fmts["bold"])
        r += 1
        run_level = control.filter(pl.col("level") == "run")
        heads = ["currency", "file_total_minor", "planned_total_minor", "delivered_total_minor", "accepted_total_minor",
                 "net_break_minor", "gross_break_minor", "unexplained_minor"]
        for i, h in enumerate(heads):
            ws.write_string(r, i, _header(h), fmts["header"])
        for row in run_level.select(heads).iter_rows():
            r += 1
            ws.write_string(r, 0, str(escape_cell(xml_text(str(row[0])), numbers_too=True)))
            for i, v in enumerate(row[1:], start=1):
                ws.write_number(r, i, (v or 0) / 100, fmts["money"])
    ws.set_column(0, 0, 38)
    ws.set_column(1, 4, 16)
    ws.set_column(5, 8, 16)


def write_workbook(path: Path, summary: dict[str, Any], discrepancies: pl.DataFrame, sheets: Sequence[Sheet],
                   control: pl.DataFrame | None = None) -> None:
    """Write the accountant's workbook atomically: Summary, one sheet per category with rows, then `sheets`."""
    summary = xml_safe(summary)  # type: ignore[assignment]  # (the frames' text is made safe where it is written)
    tmp = path.with_name(path.name + ".tmp.xlsx")
    book = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "strings_to_formulas": False,
                                          "strings_to_urls": False, "strings_to_numbers": False,
                                          "default_date_format": "yyyy-mm-dd", "remove_timezone": True})
    fmts = {
        "header": book.add_format({"bold": True, "bg_color": "#DDE5F0", "border": 1}),
        "money": book.add_format({"num_format": "#,##0.00"}),
        "money_total": book.add_format({"num_format": "#,##0.00", "bold": True, "top": 1}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        "title": book.add_format({"bold": True, "font_size": 14}),
        "bold": book.add_format({"bold": True}),
        "note": book.add_format({"italic": True, "font_color": "#7F7F7F"}),
        "status_clean": book.add_format({"bold": True, "font_color": "#006100", "bg_color": "#C6EFCE"}),
        "status_discrepancies": book.add_format({"bold": True, "font_color": "#9C5700", "bg_color": "#FFEB9C"}),
        "status_incomplete": book.add_format({"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE"}),
        "status_failed": book.add_format({"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE"}),
    }
    try:
        _summary(book, summary, discrepancies, control, fmts)
        tables = [Sheet(cat, rows.drop("category"), totals=True)
                  for cat in CATEGORIES if (rows := discrepancies.filter(pl.col("category") == cat)).height]
        inserts: dict[int, tuple[int, int, str]] = {}
        for number, sheet in enumerate([*tables, *sheets], start=2):  # sheet1 is the Summary
            _table(book, sheet, fmts, number, inserts)
        book.close()
        splice_rows(tmp, inserts)
        tmp.replace(path)
    except BaseException:
        # A full disk (or anything else): no half-written workbook or splice file stays behind.
        for leftover in (tmp, tmp.with_name(tmp.name + ".splice")):
            leftover.unlink(missing_ok=True)
        raise


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += _flatten(v, f"{prefix}{k}.")
        else:
            out.append((f"{prefix}{k}", v if isinstance(v, (int, float)) else str(v)))
    return out
