"""The workbook, read back with openpyxl: a golden text dump, escaping of every text cell, totals, lineage, memory;
the Summary an accountant signs (labels, order, tie-out check, chart of differences), print setup on every sheet."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from etl.reconcile.runner import CATEGORIES, DISCREPANCY_COLUMNS
from etl.report.cover import Cover
from etl.report.labels import CATEGORY_LABELS
from etl.report.workbook import Sheet, write_workbook
from tests.report.dump import dump_workbook

GOLDEN = Path(__file__).parent / "golden" / "workbook.txt"
RUN = "20261121T050000Z-abcd"
WHEN = dt.datetime(2026, 11, 21, 5, 0, 7, tzinfo=dt.timezone.utc)


def _found() -> pl.DataFrame:
    rows = [
        ("invalid_row", "error", "inv.xlsx", 25, None, None, None, None, None, None, None, "bad date", None, None),
        ("overpayment", "warning", "ocr.txt", 19, "5432591000112", "100011", 511_081, "NOK", 496_081, None, None,
         "matched by reference", 15_000, "K1"),
        ("unmatched_payment", "warning", "=HYPERLINK(\"http://x\")", 21, "+4799", None, 295_321, "NOK", None, None, None,
         "@SUM(A1)", 295_321, "K2"),
        ("rejected", "error", "bg.txt", 9, "7050107", "705010", 188_364, "SEK", None, "ada.creditor-payments", "422",
         "-1+1 case closed", 188_364, "K3"),
    ]
    return pl.DataFrame(rows, schema=list(DISCREPANCY_COLUMNS), orient="row")


def _summary() -> dict:
    return {"run_id": RUN, "status": "discrepancies",
            "counts": {"invalid_row": 1, "overpayment": 1, "unmatched_payment": 1, "rejected": 1},
            "files": [{"path": "ocr.txt"}], "totals": {"rows_read": 40, "incoming_amount": {"NOK": "8063.02"}}}


def _tie_out(**changes: int) -> pl.DataFrame:
    """NOK ties (1,000.00 = 400 + 300 + 200 + 100); SEK ties too unless `changes` break it."""
    rows = {"currency": ["NOK", "SEK"], "bank_total_minor": [100_000, 188_364], "delivered_minor": [40_000, 0],
            "unmatched_minor": [30_000, 0], "held_back_minor": [20_000, 0], "rejected_minor": [10_000, 188_364],
            "unexplained_minor": [0, 0]}
    for col, v in changes.items():
        rows[col][1] = v
    return pl.DataFrame(rows, schema_overrides={c: pl.Int64 for c in rows if c != "currency"})


def _cover(tie_out: pl.DataFrame | None = None) -> Cover:
    return Cover("Run", RUN, WHEN, ("nordlys-no", "solkraft-se"), (dt.date(2026, 11, 18), dt.date(2026, 11, 20)),
                 _tie_out() if tie_out is None else tie_out)


def _write(path: Path, cover: Cover | None = None) -> None:
    matched = pl.DataFrame({"source_file": ["ocr.txt"], "source_line": [3], "booking_date": [dt.date(2026, 11, 20)],
                            "amount_minor": [472_735], "rule": ["reference"], "stable_key": ["K0"]})
    control = pl.DataFrame({"level": ["run"], "scope": ["r"], "currency": ["NOK"], "rows": [3],
                            "file_total_minor": [100], "planned_total_minor": [90], "delivered_total_minor": [90],
                            "accepted_total_minor": [90], "net_break_minor": [10], "gross_break_minor": [10],
                            "explained_minor": [10], "unexplained_minor": [0]})
    write_workbook(path, _summary(), _found(), [Sheet("Matched", matched, totals=True),
                                                Sheet("Balances", pl.DataFrame({"account": []}, schema={"account": pl.String}),
                                                      notes=("balances not checked",))], control, cover or _cover())


def _rows(ws: openpyxl.worksheet.worksheet.Worksheet) -> list[tuple]:
    return [r for r in ws.iter_rows(values_only=True)]


def _section(ws: openpyxl.worksheet.worksheet.Worksheet, title: str) -> list[tuple]:
    """The rows of a Summary section: from its header row (under `title`) to the first empty row."""
    rows = _rows(ws)
    at = next(i for i, r in enumerate(rows) if r[0] and str(r[0]).startswith(title))
    out = []
    for r in rows[at + 1:]:
        if r[0] is None:
            break
        out.append(r)
    return out


def test_golden_dump(tmp_path: Path) -> None:
    _write(tmp_path / "d.xlsx")
    got = dump_workbook(tmp_path / "d.xlsx")
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(got, encoding="utf-8")
    assert got == GOLDEN.read_text(encoding="utf-8")


def test_every_category_has_a_label_fit_for_a_sheet_name() -> None:
    assert set(CATEGORY_LABELS) == set(CATEGORIES)
    labels = list(CATEGORY_LABELS.values())
    assert len(set(labels)) == len(labels) and all(len(x) <= 31 for x in labels)
    fixed = {"Summary", "Matched", "Unmatched", "Rejects", "Files", "Control totals", "Run info", "Resolved",
             "Balances", "Runs"}
    assert not {x.lower() for x in labels} & {x.lower() for x in fixed}


def test_every_text_cell_is_escaped_and_money_ties(tmp_path: Path) -> None:
    _write(tmp_path / "d.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "d.xlsx")
    formulas = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    formulas.append((ws.title, c.value))
                elif isinstance(c.value, str) and c.value:
                    assert c.value[0] not in "=+-@\t\r", (ws.title, c.coordinate, c.value)
    # The only formulas are the tie-out's own: Unexplained and its check, one pair per currency.
    assert [(t, re.sub(r"\d+", "n", f)) for t, f in formulas] == [
        ("Summary", "=Bn-Cn-Dn-En-Fn"), ("Summary", '=IF(ROUND(Gn,n)=n,"ties","does not tie")')] * 2
    ws = wb["Unmatched payment"]
    assert ws["C2"].value == "'=HYPERLINK(\"http://x\")" and ws["L2"].value == "'@SUM(A1)"
    assert ws["E2"].value == "'+4799"  # even a signed number: a text cell never starts with a sign
    assert wb["Rejected by Amili"]["L2"].value == "'-1+1 case closed"
    over = wb["Overpayment"]
    header = [c.value for c in over[1]]
    assert header[:2] == ["category", "severity"] and over["A2"].value == "overpayment"  # the key, for filtering
    amount, difference = header.index("amount") + 1, header.index("difference") + 1
    assert (over.cell(2, amount).value, over.cell(2, amount).number_format) == (5110.81, "#,##0.00")
    assert over.cell(2, difference).value == 150.00 and over.cell(2, difference).number_format == "#,##0.00"
    assert over["A3"].value == "Total" and over.cell(3, amount).value == 5110.81


def test_summary_heading_labels_and_order(tmp_path: Path) -> None:
    _write(tmp_path / "d.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "d.xlsx")["Summary"]
    head = {r[0]: r[1] for r in _rows(ws)[:10] if r[0]}
    assert head["Run"] == RUN and head["Status"] == "discrepancies"
    assert head["Creditors"] == "nordlys-no, solkraft-se"
    assert head["Bank booking dates"] == "2026-11-18 to 2026-11-20"
    assert head["Generated"] == "2026-11-21 05:00:07 UTC"
    table = _section(ws, "Breaks by category")
    assert table[0][:5] == ("Category", "Rows", "Difference NOK", "Difference SEK", "Key")
    body = table[1:-1]
    # Categories with rows first (in the report's order), then the rest; each with its machine key beside it.
    assert [r[0] for r in body[:4]] == ["Invalid row", "Unmatched payment", "Overpayment", "Rejected by Amili"]
    assert [r[4] for r in body] == ["invalid_row", "unmatched_payment", "overpayment", "rejected"] + [
        c for c in CATEGORIES if c not in ("invalid_row", "unmatched_payment", "overpayment", "rejected")]
    assert all(r[1] == 0 for r in body[4:]) and [r[0] for r in body] == [CATEGORY_LABELS[r[4]] for r in body]
    by_key = {r[4]: r[1:4] for r in body}
    # The difference, not the whole payment: an overpayment of 150.00 on a 5,110.81 payment shows 150.00.
    assert by_key["overpayment"] == (1, 150.0, 0) and by_key["rejected"] == (1, 0, 1883.64)
    assert table[-1][:4] == ("Total", 4, pytest.approx(150.0 + 2953.21), pytest.approx(1883.64))
    # No label a person reads is a machine key: column A holds words, never snake_case.
    for r in _rows(ws):
        assert not (isinstance(r[0], str) and re.fullmatch(r"[a-z]+(_[a-z]+)+(\.\w+)*", r[0])), r[0]
    totals = {r[2]: (r[0], r[1]) for r in _section(ws, "Totals")[1:]}
    assert totals["rows_read"] == ("Rows read", 40) and totals["incoming_amount.NOK"] == ("Incoming amount: NOK", 8063.02)
    control = _section(ws, "Control totals of the run")
    assert control[0][:3] == ("Currency", "File total", "Planned") and control[1][:3] == ("NOK", 1.0, 0.9)


def test_tie_out_shows_the_check_and_catches_a_break(tmp_path: Path) -> None:
    _write(tmp_path / "ok.xlsx")
    _write(tmp_path / "bad.xlsx", _cover(_tie_out(delivered_minor=100)))  # SEK: 1.00 delivered too many
    for name, sek in (("ok.xlsx", (0.0, "ties")), ("bad.xlsx", (-1.0, "does not tie"))):
        formulas = openpyxl.load_workbook(tmp_path / name)["Summary"]
        values = openpyxl.load_workbook(tmp_path / name, data_only=True)["Summary"]  # the values Excel shows
        table = _section(values, "Tie-out per currency")
        assert table[0] == ("Currency", "Bank total", "Delivered", "Unmatched", "Held back", "Rejected", "Unexplained",
                            "Check", *([None] * (len(table[0]) - 8)))
        assert table[1][:8] == ("NOK", 1000.0, 400.0, 300.0, 200.0, 100.0, 0.0, "ties")
        assert table[2][0] == "SEK" and table[2][6:8] == sek
        at = next(r for r in range(1, values.max_row + 1) if values.cell(r, 1).value == "SEK"
                  and values.cell(r, 8).value in ("ties", "does not tie"))
        assert formulas.cell(at, 7).value == f"=B{at}-C{at}-D{at}-E{at}-F{at}"
        assert formulas.cell(at, 7).number_format == "#,##0.00"


def test_without_a_tie_out_the_summary_says_so(tmp_path: Path) -> None:
    cover = Cover("Run", RUN, WHEN)
    _write(tmp_path / "d.xlsx", cover)
    ws = openpyxl.load_workbook(tmp_path / "d.xlsx")["Summary"]
    assert _section(ws, "Tie-out per currency") == [("not available for this report", *([None] * (ws.max_column - 1)))]
    head = {r[0]: r[1] for r in _rows(ws)[:10] if r[0]}
    assert head["Creditors"] == "none" and head["Bank booking dates"] == "no bank payments"


def test_chart_plots_differences_per_category_on_a_money_axis(tmp_path: Path) -> None:
    _write(tmp_path / "d.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "d.xlsx")["Summary"]
    (chart,) = ws._charts
    assert chart.tagname == "barChart" and chart.barDir == "bar"
    assert chart.y_axis.tagname == "valAx" and chart.y_axis.numFmt.formatCode == "#,##0.00"
    assert not chart.y_axis.numFmt.sourceLinked
    top = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "Category")
    # One series per currency over the Difference columns; categories: only the four with rows.
    assert [(s.val.numRef.f, (s.cat.strRef or s.cat.numRef).f) for s in chart.series] == [
        (f"Summary!$C${top + 1}:$C${top + 4}", f"Summary!$A${top + 1}:$A${top + 4}"),
        (f"Summary!$D${top + 1}:$D${top + 4}", f"Summary!$A${top + 1}:$A${top + 4}")]
    assert [ws[f"{c}{top}"].value for c in "CD"] == ["Difference NOK", "Difference SEK"]


def test_print_setup_on_every_sheet(tmp_path: Path) -> None:
    _write(tmp_path / "d.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "d.xlsx")
    assert wb.sheetnames == ["Summary", "Invalid row", "Unmatched payment", "Overpayment", "Rejected by Amili",
                             "Matched", "Balances"]
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert (ws.page_setup.fitToWidth or 1, ws.page_setup.fitToHeight) == (1, 0), ws.title  # 1 wide, n long
        header_row = 1 if ws.title == "Summary" else ws.freeze_panes and int(ws.freeze_panes[1:]) - 1
        assert ws.print_title_rows == f"$1:$1" if header_row == 1 else f"${header_row}:${header_row}", ws.title
        assert ws.oddHeader.left.text == f"Run {RUN}" and ws.oddHeader.right.text == "Page &P of &N", ws.title
        assert ws.oddHeader.center.text == "&A" and "2026-11-21 05:00:07 UTC" in ws.oddFooter.right.text
    assert wb["Balances"].print_title_rows == "$2:$2"  # the note above it is not the header


def test_open_breaks_by_age(tmp_path: Path) -> None:
    """Month-end: open breaks per category in the buckets 0-1, 2-7, 8-30 and over 30 days."""
    ages = {"unmatched_payment": [0, 1, 2, 7, 8, 30, 31, 400], "unpaid_invoice": [3, 45]}
    frames = []
    for cat, days in ages.items():
        frames.append(pl.DataFrame({"category": [cat] * len(days), "status": "persisting", "age_days": days,
                                    "amount_minor": 1_000, "currency": "NOK", "difference_minor": 1_000}))
    breaks = pl.concat(frames).with_columns(pl.col("age_days").cast(pl.Int64))
    summary = {"run_id": "period-2026-11", "status": "discrepancies", "counts": {k: len(v) for k, v in ages.items()},
               "files": [], "totals": {}}
    write_workbook(tmp_path / "d.xlsx", summary, breaks, [], cover=Cover("Period", "2026-11", WHEN))
    ws = openpyxl.load_workbook(tmp_path / "d.xlsx")["Summary"]
    table = _section(ws, "Open breaks by age")
    assert table[0][:7] == ("Category", "0-1 days", "2-7 days", "8-30 days", "over 30 days", "Total", "Key")
    assert [r[:7] for r in table[1:]] == [("Unmatched payment", 2, 2, 2, 2, 8, "unmatched_payment"),
                                          ("Unpaid invoice", 0, 1, 0, 1, 2, "unpaid_invoice"),
                                          ("Total", 2, 3, 2, 3, 10, None)]
    assert ws.oddHeader.left.text == "Period 2026-11"


def test_totals_are_per_currency(tmp_path: Path) -> None:
    rows = _found().filter(pl.col("category") == "overpayment")
    sek = rows.with_columns(pl.lit("SEK").alias("currency"), pl.lit(100, pl.Int64).alias("amount_minor"),
                              pl.lit(9, pl.Int64).alias("source_line"))
    write_workbook(tmp_path / "d.xlsx", _summary(), pl.concat([rows, sek]), [])
    ws = openpyxl.load_workbook(tmp_path / "d.xlsx")["Overpayment"]
    col = [c.value for c in ws[1]].index("amount")
    totals = [(r[0], r[col]) for r in ws.iter_rows(min_row=4, values_only=True)]
    assert totals == [("Total NOK", 5110.81), ("Total SEK", 1.0)]


def test_generated_time_names_its_zone() -> None:
    from zoneinfo import ZoneInfo

    from etl.report.cover import generated_text

    oslo = ZoneInfo("Europe/Oslo")
    assert generated_text(dt.datetime(2026, 12, 6, 17, 25, 48, tzinfo=oslo)) == "2026-12-06 17:25:48 CET (UTC+01:00)"
    assert generated_text(dt.datetime(2026, 7, 6, 17, 25, tzinfo=oslo)) == "2026-07-06 17:25:00 CEST (UTC+02:00)"
    assert generated_text(WHEN) == "2026-11-21 05:00:07 UTC"
    assert generated_text(dt.datetime(2026, 11, 21, 5, 0, 7)) == "2026-11-21 05:00:07 UTC"  # naive: UTC throughout


def test_a_clean_run_has_no_chart_and_every_category_at_zero(tmp_path: Path) -> None:
    empty = pl.DataFrame(schema={c: pl.String for c in DISCREPANCY_COLUMNS}).cast(
        {"source_line": pl.Int64, "amount_minor": pl.Int64, "expected_minor": pl.Int64, "difference_minor": pl.Int64})
    clean = {"run_id": RUN, "status": "clean", "counts": {}, "files": [], "totals": {}}
    write_workbook(tmp_path / "d.xlsx", clean, empty, [], cover=_cover(_tie_out().head(1)))
    wb = openpyxl.load_workbook(tmp_path / "d.xlsx")
    assert wb.sheetnames == ["Summary"] and not wb["Summary"]._charts  # nothing to chart
    table = _section(wb["Summary"], "Breaks by category")
    assert table[0][:4] == ("Category", "Rows", "Difference NOK", "Key")  # the tie-out's currency (NOK)
    assert [r[3] for r in table[1:-1]] == list(CATEGORIES) and {r[1:3] for r in table[1:-1]} == {(0, 0)}
    write_workbook(tmp_path / "se.xlsx", clean, empty, [], cover=_cover(_tie_out().tail(1)))
    table = _section(openpyxl.load_workbook(tmp_path / "se.xlsx")["Summary"], "Breaks by category")
    assert table[0][:4] == ("Category", "Rows", "Difference SEK", "Key")  # a Swedish run: SEK, not a default
    assert table[-1][:2] == ("Total", 0)
