"""The Summary sheet: what the report covers, the breaks per category (their differences per currency, with a chart),
the tie-out per currency with its check cell, open breaks by age (month-end), the totals and the control totals.

Every label is for a person ("Unmatched payment"); the machine key (`unmatched_payment`) stays beside it in a Key
column, for filtering and lookups. xlsxwriter runs in constant-memory mode here: rows are written top to bottom.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl
from xlsxwriter.utility import xl_rowcol_to_cell

from etl.reconcile.runner import CATEGORIES
from etl.report.cover import Cover, generated_text
from etl.report.labels import category_label, total_label
from etl.report.safe import escape_cell, xml_text, xml_text_expr

__all__ = ["AGE_BUCKETS", "write_summary_sheet"]

# Open breaks by age in days (month-end): label, lowest and highest age of the bucket.
AGE_BUCKETS = (("0-1 days", 0, 1), ("2-7 days", 2, 7), ("8-30 days", 8, 30), ("over 30 days", 31, None))
_TIE_OUT = (("bank_total_minor", "Bank total"), ("delivered_minor", "Delivered"), ("unmatched_minor", "Unmatched"),
            ("held_back_minor", "Held back"), ("rejected_minor", "Rejected"))
_CONTROL = (("file_total_minor", "File total"), ("planned_total_minor", "Planned"),
            ("delivered_total_minor", "Delivered"), ("accepted_total_minor", "Accepted"),
            ("net_break_minor", "Net break"), ("gross_break_minor", "Gross break"),
            ("unexplained_minor", "Unexplained"))
_DECIMAL = re.compile(r"-?\d+\.\d{2}")
_PALETTE = ("#4F81BD", "#C0504D", "#9BBB59", "#8064A2")
_ROW_PX = 20  # xlsxwriter's default row height in pixels: the chart is as tall as the category table


def _text(value: object) -> str:
    """Text for a Summary cell: XML-safe and never a formula."""
    return str(escape_cell(xml_text(str(value)), numbers_too=True))


class _Rows:
    """The sheet's next free row (constant-memory mode: rows are written in order, never revisited)."""

    def __init__(self, ws: Any, fmts: dict[str, Any]) -> None:
        self.ws, self.fmts, self.r = ws, fmts, 0

    def heads(self, heads: list[str], numbers: range | None = None) -> None:
        """A header row; the heads of the `numbers` columns right-aligned, over their figures."""
        for i, h in enumerate(heads):
            self.ws.write_string(self.r, i, _text(h), self.fmts["header_num" if numbers and i in numbers else "header"])
        self.r += 1

    def title(self, text: str) -> None:
        self.r += 1  # a blank row before each section
        self.ws.write_string(self.r, 0, _text(text), self.fmts["section"])
        self.r += 1

    def money(self, col: int, minor: int | None, fmt: str = "money") -> None:
        self.ws.write_number(self.r, col, (minor or 0) / 100, self.fmts[fmt])


def _difference_column(found: pl.DataFrame) -> tuple[str, str]:
    """The column the Summary adds up per category, and its heading: the difference (amount - expected for over-
    and underpayments, elsewhere the amount at stake) where the frame has it."""
    return ("difference_minor", "Difference") if "difference_minor" in found.columns else ("amount_minor", "Amount")


def _heading(rows: _Rows, summary: dict[str, Any], cover: Cover) -> None:
    """Title and the facts an accountant signs against: scope, status, creditors, booking dates, generated time."""
    ws, fmts = rows.ws, rows.fmts
    ws.write_string(0, 0, "Discrepancy report", fmts["title"])
    status = str(summary.get("status", ""))
    booked = f"{cover.booked[0]:%Y-%m-%d} to {cover.booked[1]:%Y-%m-%d}" if cover.booked else "no bank payments"
    facts: list[tuple[str, object, Any]] = [
        (cover.scope, cover.name, fmts["bold"]),
        ("Status", status, fmts.get("status_" + status)),
        ("Creditor" if len(cover.creditors) == 1 else "Creditors", ", ".join(cover.creditors) or "none", None),
        ("Bank booking dates", booked, None),
        ("Generated", generated_text(cover.generated), None),
        ("Files", len(summary.get("files", [])), fmts["left"]),
    ]
    # Why the report is incomplete, at the top where it is read first (and not again under Totals).
    facts += [(total_label(("incomplete_because", str(reason))), why, fmts["warn"])
              for reason, why in (summary.get("totals", {}).get("incomplete_because") or {}).items()]
    rows.r = 2
    for label, value, fmt in facts:
        ws.write_string(rows.r, 0, _text(label), fmts["bold"])
        if isinstance(value, int):
            ws.write_number(rows.r, 1, value, fmt)
        else:
            ws.write_string(rows.r, 1, _text(value), fmt)
        rows.r += 1


def _categories(rows: _Rows, book: Any, summary: dict[str, Any], found: pl.DataFrame, seen: set[str]) -> list[str]:
    """Rows and differences per category and currency (those of the breaks and `seen`), categories with rows first;
    the chart beside it. Returns the categories with rows, in the order shown."""
    ws, fmts = rows.ws, rows.fmts
    column, word = _difference_column(found)
    currencies = sorted(seen | set(found.get_column("currency").drop_nulls().to_list())) or ["NOK"]
    counts = {c: int(n) for c, n in summary.get("counts", {}).items()}
    busy = [c for c in CATEGORIES if counts.get(c)]
    order = busy + [c for c in CATEGORIES if not counts.get(c)]
    sums = found.group_by("category", "currency").agg(pl.col(column).sum())
    money = {(cat, cur): int(v or 0) for cat, cur, v in sums.iter_rows()}
    rows.title(f"Breaks by category ({word.lower()} per currency; categories with rows first)")
    table_top = rows.r
    rows.heads(["Category", "Rows", *[f"{word} {cur}" for cur in currencies], "Key"], range(1, 2 + len(currencies)))
    first = rows.r
    for cat in order:
        muted = None if counts.get(cat) else fmts["muted"]
        ws.write_string(rows.r, 0, category_label(cat), muted)
        ws.write_number(rows.r, 1, counts.get(cat, 0), muted)
        for j, cur in enumerate(currencies):
            rows.money(2 + j, money.get((cat, cur)), "money" if counts.get(cat) else "money_muted")
        ws.write_string(rows.r, 2 + len(currencies), cat, fmts["key"])
        rows.r += 1
    ws.write_string(rows.r, 0, "Total", fmts["bold"])
    ws.write_number(rows.r, 1, sum(counts.get(c, 0) for c in CATEGORIES), fmts["bold_total"])
    for j, cur in enumerate(currencies):  # the column's own sums: the Total row ties to the rows above
        rows.money(2 + j, sum(v for (_, c), v in money.items() if c == cur), "money_total")
    rows.r += 1
    if busy:
        _chart(book, ws, table_top, first, len(busy), currencies, word)
    return busy


def _chart(book: Any, ws: Any, top: int, first: int, n: int, currencies: list[str], word: str) -> None:
    """Bars of the differences per category (with rows) and currency, on a money axis."""
    chart = book.add_chart({"type": "bar"})
    for j, cur in enumerate(currencies):
        chart.add_series({"name": f"{word} {cur}", "categories": ["Summary", first, 0, first + n - 1, 0],
                          "values": ["Summary", first, 2 + j, first + n - 1, 2 + j],
                          "fill": {"color": _PALETTE[j % len(_PALETTE)]}, "gap": 60})
    chart.set_title({"name": f"{word}s by category", "name_font": {"size": 11}})
    chart.set_legend({"position": "bottom"})
    # A bar chart's x axis is the value axis: money, in major units with two decimals.
    chart.set_x_axis({"num_format": "#,##0.00", "name": f"{word} ({', '.join(currencies)})",
                      "name_font": {"size": 9, "bold": False}, "num_font": {"size": 8}, "major_gridlines": {"visible": True}})
    # Category names at the left edge, clear of bars that go below zero (underpayments).
    chart.set_y_axis({"reverse": True, "num_font": {"size": 9}, "label_position": "low"})
    chart.set_size({"width": 600, "height": (len(CATEGORIES) + 2) * _ROW_PX})
    ws.insert_chart(top, 3 + len(currencies) + 1, chart, {"x_offset": 10})


def _tie_out(rows: _Rows, cover: Cover) -> None:
    """Bank total = delivered + unmatched + held back + rejected, per currency; the Unexplained cell is a formula
    over the row (so anyone can see it recomputed) and must show 0.00."""
    ws, fmts = rows.ws, rows.fmts
    scope = f" ({cover.tie_out_scope})" if cover.tie_out_scope else ""
    rows.title(f"Tie-out per currency{scope}: Bank total = Delivered + Unmatched + Held back + Rejected")
    if cover.tie_out is None:
        ws.write_string(rows.r, 0, "not available for this report", fmts["note"])
        rows.r += 1
        return
    rows.heads(["Currency", *[label for _, label in _TIE_OUT], "Unexplained", "Check"], range(1, len(_TIE_OUT) + 2))
    if not cover.tie_out.height:
        ws.write_string(rows.r, 0, "no payments", fmts["note"])
        rows.r += 1
        return
    for row in cover.tie_out.sort("currency", nulls_last=True).iter_rows(named=True):
        ws.write_string(rows.r, 0, _text(row["currency"] or "(no currency)"), fmts["bold"])
        values = [int(row[c] or 0) for c, _ in _TIE_OUT]
        for i, v in enumerate(values, start=1):
            rows.money(i, v)
        unexplained = values[0] - sum(values[1:])
        cells = [xl_rowcol_to_cell(rows.r, i) for i in range(1, len(_TIE_OUT) + 1)]
        at = len(_TIE_OUT) + 1
        ws.write_formula(rows.r, at, f"={cells[0]}-{'-'.join(cells[1:])}", fmts["money_check"], unexplained / 100)
        check = xl_rowcol_to_cell(rows.r, at)
        ws.write_formula(rows.r, at + 1, f'=IF(ROUND({check},2)=0,"ties","does not tie")', fmts["check"],
                         "ties" if unexplained == 0 else "does not tie")
        ws.conditional_format(rows.r, at, rows.r, at + 1, {"type": "formula", "criteria": f"=ROUND({check},2)=0",
                                                            "format": fmts["ok"]})
        ws.conditional_format(rows.r, at, rows.r, at + 1, {"type": "formula", "criteria": f"=ROUND({check},2)<>0",
                                                            "format": fmts["bad"]})
        rows.r += 1


def _ages(rows: _Rows, found: pl.DataFrame, busy: list[str]) -> None:
    """Month-end: open breaks per category and age bucket (days from first seen to the period's last day)."""
    ws, fmts = rows.ws, rows.fmts
    rows.title("Open breaks by age (days since first seen)")
    rows.heads(["Category", *[label for label, _, _ in AGE_BUCKETS], "Total", "Key"], range(1, len(AGE_BUCKETS) + 2))
    age = pl.col("age_days")
    bucket = pl.when(age <= AGE_BUCKETS[0][2]).then(pl.lit(0))
    for i, (_, low, high) in enumerate(AGE_BUCKETS[1:], start=1):
        bucket = bucket.when(age >= low if high is None else age <= high).then(pl.lit(i))
    counted = found.group_by("category", bucket.alias("bucket")).len()
    n = {(cat, b): int(k) for cat, b, k in counted.iter_rows()}
    totals = [0] * (len(AGE_BUCKETS) + 1)
    for cat in busy:
        ws.write_string(rows.r, 0, category_label(cat))
        counts = [n.get((cat, b), 0) for b in range(len(AGE_BUCKETS))]
        for i, v in enumerate([*counts, sum(counts)], start=1):
            ws.write_number(rows.r, i, v, fmts["bold"] if i > len(AGE_BUCKETS) else None)
            totals[i - 1] += v
        ws.write_string(rows.r, len(AGE_BUCKETS) + 2, cat, fmts["key"])
        rows.r += 1
    ws.write_string(rows.r, 0, "Total", fmts["bold"])
    for i, v in enumerate(totals, start=1):
        ws.write_number(rows.r, i, v, fmts["bold_total"])
    rows.r += 1


def _flatten(d: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out: list[tuple[tuple[str, ...], Any]] = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += _flatten(v, (*prefix, str(k)))
        else:
            out.append(((*prefix, str(k)), v))
    return out


def _totals(rows: _Rows, summary: dict[str, Any], skip: tuple[str, ...]) -> None:
    """summary.json's totals, one per row: label, value (money as a number with two decimals), key."""
    ws, fmts = rows.ws, rows.fmts
    rows.title("Totals (every row accounted for once)")
    rows.heads(["Total", "Value", "Key"], range(1, 2))
    for path, value in _flatten(summary.get("totals", {})):
        if path[0] in skip:
            continue
        ws.write_string(rows.r, 0, _text(total_label(path)))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            ws.write_number(rows.r, 1, value)
        elif isinstance(value, str) and _DECIMAL.fullmatch(value):  # summary.json's money: a number in Excel
            ws.write_number(rows.r, 1, float(value), fmts["money"])
        else:
            ws.write_string(rows.r, 1, _text("" if value is None else value))
        ws.write_string(rows.r, 2, _text(".".join(path)), fmts["key"])
        rows.r += 1


def _control(rows: _Rows, control: pl.DataFrame) -> None:
    """The run's control totals per currency: file = planned = delivered = accepted, and what is unexplained."""
    rows.title("Control totals of the run: file = planned = delivered = accepted")
    rows.heads(["Currency", *[label for _, label in _CONTROL]], range(1, len(_CONTROL) + 1))
    for row in control.filter(pl.col("level") == "run").select("currency", *[c for c, _ in _CONTROL]).iter_rows():
        rows.ws.write_string(rows.r, 0, _text(row[0]), rows.fmts["bold"])
        for i, v in enumerate(row[1:], start=1):
            rows.money(i, v)
        rows.r += 1


def write_summary_sheet(book: Any, summary: dict[str, Any], found: pl.DataFrame, control: pl.DataFrame | None,
                        cover: Cover, fmts: dict[str, Any]) -> Any:
    """Add the Summary sheet to `book` (first) and return it."""
    ws = book.add_worksheet("Summary")
    found = found.with_columns(xml_text_expr(pl.col("currency").cast(pl.String)))  # it names columns and series
    rows = _Rows(ws, fmts)
    _heading(rows, summary, cover)
    # The tie-out's currencies too: a clean Swedish run shows SEK columns, not a default.
    seen = set() if cover.tie_out is None else {xml_text(str(c)) for c in cover.tie_out.get_column("currency").drop_nulls()}
    busy = _categories(rows, book, summary, found, seen)
    _tie_out(rows, cover)
    if "age_days" in found.columns:
        _ages(rows, found, busy)
    with_control = control is not None and bool(control.height)
    # Shown in their own tables above and below, not again as a list: the reasons, the tie-out, the control totals.
    skip = ("incomplete_because", "tie", "control") if with_control else ("incomplete_because", "tie")
    _totals(rows, summary, skip=skip)
    if with_control:
        _control(rows, control)  # type: ignore[arg-type]
    ws.set_column(0, 0, 42)
    ws.set_column(1, 8, 15)
    return ws
