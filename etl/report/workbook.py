"""discrepancies.xlsx: Summary (summary_sheet.py), one sheet per category with rows (named by its label, e.g.
"Unmatched payment"), then the given sheets (Matched, Rejects, Files, Control totals, Run info, ...). Every sheet
prints landscape, one page wide, its header row on every page, run (or period) and page number in the header.

Structure, formats, the Summary and its chart are written with xlsxwriter (constant-memory mode); the table rows are
rendered vectorised (sheetxml.py) and spliced in: 100k rows in seconds, not minutes. Every text cell is escaped
against formula injection (vectorised, before writing), amounts in `*_minor` columns are numbers in major units
(exact decimals) with a number format, dates have a date format; header frozen, autofilter on, widths from the
content, a totals row under every money column. Every category sheet ends with the resolution columns (break_key,
action, action_invoice, action_note; tables.py): the three to fill shaded and unlocked, `action` a drop-down list. No text can break the workbook: every character XML 1.0 forbids
(C0 controls but TAB/LF/CR, lone surrogates, U+FFFE, U+FFFF) becomes U+FFFD in every cell, header, label, note and
chart name (safe.py; the spliced rows in sheetxml.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from etl.reconcile.runner import CATEGORIES
from etl.report.cover import Cover, print_setup
from etl.report.labels import category_label
from etl.report.safe import escape_cell, escape_text_columns, xml_safe, xml_text
from etl.report.sheetxml import render_rows, splice_rows
from etl.report.summary_sheet import write_summary_sheet
from etl.report.tables import ACTIONS, RESOLUTION_COLUMNS, with_resolution_columns

__all__ = ["Cover", "Sheet", "write_workbook"]

_MAX_WIDTH = 60
_WIDTH_SAMPLE = 2_000  # widths are measured on the first rows: enough to look right, cheap on 100k rows


@dataclass
class Sheet:
    """A table sheet: its name, its rows, and whether to add a totals row under the money columns."""

    name: str
    frame: pl.DataFrame
    totals: bool = False
    notes: Sequence[str] = field(default_factory=tuple)  # lines written above the table (e.g. 'balances not checked')
    fillable: tuple[str, ...] = ()  # columns the accountant fills (a light fill, unlocked; `action` from a list)


def _is_money(name: str) -> bool:
    return name.endswith("_minor")


def _header(name: str) -> str:
    """Column header as shown: `amount_minor` -> `amount` (the cell is in major units)."""
    return name[: -len("_minor")] if _is_money(name) else name


def _table(book: Any, sheet: Sheet, fmts: dict[str, Any], number: int, inserts: dict[int, tuple[int, int, str]],
           cover: Cover) -> None:
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
    styles = {k: fmts[k]._get_xf_index() for k in ("money", "date", "datetime", "fill")}
    last = top + shown.height
    inserts[number] = (last + 2, last + 1, render_rows(frame, top + 2, styles, sheet.fillable))
    if "action" in sheet.fillable and shown.height:
        at = cols.index("action")
        ws.data_validation(top + 1, at, last, at, {
            "validate": "list", "source": list(ACTIONS), "ignore_blank": True,
            "input_title": "action", "input_message": "match, write_off, refund, explain or reopen; then run "
                                                       "amili-etl resolve on this file",
            "error_title": "Not an action", "error_message": "One of: " + ", ".join(ACTIONS)})
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
    print_setup(ws, cover, top)


def write_workbook(path: Path, summary: dict[str, Any], discrepancies: pl.DataFrame, sheets: Sequence[Sheet],
                   control: pl.DataFrame | None = None, cover: Cover | None = None) -> None:
    """Write the accountant's workbook atomically: Summary, one sheet per category with rows, then `sheets`.

    `cover` says what the report covers (run or period, creditors, booking dates, the tie-out); without one the
    Summary names the run of `summary` and the time of writing.
    """
    summary = xml_safe(summary)  # type: ignore[assignment]  # (the frames' text is made safe where it is written)
    if cover is None:
        cover = Cover("Run", str(summary.get("run_id", "")), dt.datetime.now(dt.timezone.utc))
    tmp = path.with_name(path.name + ".tmp.xlsx")
    book = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "strings_to_formulas": False,
                                          "strings_to_urls": False, "strings_to_numbers": False,
                                          "default_date_format": "yyyy-mm-dd", "remove_timezone": True})
    fmts = {
        "header": book.add_format({"bold": True, "bg_color": "#DDE5F0", "border": 1}),
        "header_num": book.add_format({"bold": True, "bg_color": "#DDE5F0", "border": 1, "align": "right", "indent": 1}),
        "money": book.add_format({"num_format": "#,##0.00"}),
        "money_total": book.add_format({"num_format": "#,##0.00", "bold": True, "top": 1}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        "title": book.add_format({"bold": True, "font_size": 14}),
        "section": book.add_format({"bold": True, "font_size": 11, "font_color": "#1F3864"}),
        "bold": book.add_format({"bold": True}),
        "bold_total": book.add_format({"bold": True, "top": 1}),
        "left": book.add_format({"align": "left"}),
        "muted": book.add_format({"font_color": "#8C8C8C"}),
        "money_muted": book.add_format({"num_format": "#,##0.00", "font_color": "#8C8C8C"}),
        "money_check": book.add_format({"num_format": "#,##0.00", "bold": True, "border": 1}),
        "check": book.add_format({"bold": True, "border": 1, "align": "center"}),
        "key": book.add_format({"font_color": "#7F7F7F", "font_size": 9, "indent": 1}),
        "ok": book.add_format({"font_color": "#006100", "bg_color": "#C6EFCE"}),
        "bad": book.add_format({"font_color": "#9C0006", "bg_color": "#FFC7CE"}),
        "warn": book.add_format({"font_color": "#9C0006"}),
        "note": book.add_format({"italic": True, "font_color": "#7F7F7F"}),
        "fill": book.add_format({"bg_color": "#FFF2CC", "locked": False, "border": 1, "border_color": "#D9D9D9"}),
        "status_clean": book.add_format({"bold": True, "font_color": "#006100", "bg_color": "#C6EFCE"}),
        "status_discrepancies": book.add_format({"bold": True, "font_color": "#9C5700", "bg_color": "#FFEB9C"}),
        "status_incomplete": book.add_format({"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE"}),
        "status_failed": book.add_format({"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE"}),
    }
    try:
        print_setup(write_summary_sheet(book, summary, discrepancies, control, cover, fmts), cover, 0)
        # A category's sheet is named by its label; its `category` column keeps the key for filtering. Its last four
        # columns are the break's key and what the accountant decides (RESOLUTION_COLUMNS).
        breaks = with_resolution_columns(discrepancies)
        breaks = breaks.select(*[c for c in breaks.columns if c not in RESOLUTION_COLUMNS], *RESOLUTION_COLUMNS)
        tables = [Sheet(category_label(cat), rows, totals=True, fillable=RESOLUTION_COLUMNS[1:])
                  for cat in CATEGORIES if (rows := breaks.filter(pl.col("category") == cat)).height]
        inserts: dict[int, tuple[int, int, str]] = {}
        for number, sheet in enumerate([*tables, *sheets], start=2):  # sheet1 is the Summary
            _table(book, sheet, fmts, number, inserts, cover)
        book.close()
        splice_rows(tmp, inserts)
        tmp.replace(path)
    except BaseException:
        # A full disk (or anything else): no half-written workbook or splice file stays behind.
        for leftover in (tmp, tmp.with_name(tmp.name + ".splice")):
            leftover.unlink(missing_ok=True)
        raise
