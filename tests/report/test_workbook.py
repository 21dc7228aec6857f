"""The workbook, read back with openpyxl: a golden text dump, escaping of every text cell, totals, lineage, memory."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from etl.reconcile.runner import DISCREPANCY_COLUMNS
from etl.report.workbook import Sheet, write_workbook
from tests.report.dump import dump_workbook

GOLDEN = Path(__file__).parent / "golden" / "workbook.txt"


def _found() -> pl.DataFrame:
    rows = [
        ("invalid_row", "error", "inv.xlsx", 25, None, None, None, None, None, None, None, "bad date", None),
        ("overpayment", "warning", "ocr.txt", 19, "5432591000112", "100011", 511_081, "NOK", 496_081, None, None,
         "matched by reference", "K1"),
        ("unmatched_payment", "warning", "=HYPERLINK(\"http://x\")", 21, "+4799", None, 295_321, "NOK", None, None, None,
         "@SUM(A1)", "K2"),
        ("rejected", "error", "bg.txt", 9, "7050107", "705010", 188_364, "SEK", None, "ada.creditor-payments", "422",
         "-1+1 case closed", "K3"),
    ]
    return pl.DataFrame(rows, schema=list(DISCREPANCY_COLUMNS), orient="row")


def _summary() -> dict:
    return {"run_id": "20261121T050000Z-abcd", "status": "discrepancies",
            "counts": {"invalid_row": 1, "overpayment": 1, "unmatched_payment": 1, "rejected": 1},
            "files": [{"path": "ocr.txt"}], "totals": {"rows_read": 40, "incoming_amount": {"NOK": "8063.02"}}}


def _write(path: Path) -> None:
    matched = pl.DataFrame({"source_file": ["ocr.txt"], "source_line": [3], "booking_date": [dt.date(2026, 11, 20)],
                            "amount_minor": [472_735], "rule": ["reference"], "stable_key": ["K0"]})
    control = pl.DataFrame({"level": ["run"], "scope": ["r"], "currency": ["NOK"], "rows": [3],
                            "file_total_minor": [100], "planned_total_minor": [90], "delivered_total_minor": [90],
                            "accepted_total_minor": [90], "net_break_minor": [10], "gross_break_minor": [10],
                            "explained_minor": [10], "unexplained_minor": [0]})
    write_workbook(path, _summary(), _found(), [Sheet("Matched", matched, totals=True),
                                                Sheet("Balances", pl.DataFrame({"account": []}, schema={"account": pl.String}),
                                                      notes=("balances not checked",))], control)


def test_golden_dump(tmp_path: Path) -> None:
    _write(tmp_path / "d.xlsx")
    got = dump_workbook(tmp_path / "d.xlsx")
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(got, encoding="utf-8")
    assert got == GOLDEN.read_text(encoding="utf-8")


def test_every_text_cell_is_escaped_and_money_ties(tmp_path: Path) -> None:
    _write(tmp_path / "d.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "d.xlsx")
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)  # no formula anywhere
                if isinstance(c.value, str) and c.value:
                    assert c.value[0] not in "=+-@\t\r", (ws.title, c.coordinate, c.value)
    ws = wb["unmatched_payment"]
    assert ws["B2"].value == "'=HYPERLINK(\"http://x\")" and ws["K2"].value == "'@SUM(A1)"
    assert ws["D2"].value == "'+4799"  # even a signed number: a text cell never starts with a sign
    rejected = wb["rejected"]
    assert rejected["K2"].value == "'-1+1 case closed"
    over = wb["overpayment"]
    assert (over["F2"].value, over["F2"].number_format) == (5110.81, "#,##0.00")
    assert over["A3"].value == "Total" and over["F3"].value == 5110.81
    summary = {r[0]: r[1:6] for r in wb["Summary"].iter_rows(values_only=True) if r and r[0]}
    # Amounts per currency side by side: NOK and SEK are never added together.
    assert summary["Category"] == ("Rows", "Amount NOK", "Expected NOK", "Amount SEK", "Expected SEK")
    assert summary["overpayment"] == (1, 5110.81, 4960.81, 0, 0)
    assert summary["rejected"] == (1, 0, 0, 1883.64, 0)
    assert summary["Total"][0] == 4 and summary["Total"][1] == pytest.approx(5110.81 + 2953.21)
    assert summary["Total"][3] == pytest.approx(1883.64)


def test_run_workbook_has_every_sheet_and_lineage(tmp_path: Path) -> None:
    """The real pipeline's workbook (the demo): sheets, lineage columns on every table, Run info without secrets."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("AMILI_")}
    proc = subprocess.run([sys.executable, "-m", "etl", "demo", "--out", str(tmp_path)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir() and p.name != "demo-state")
    wb = openpyxl.load_workbook(run_dir / "discrepancies.xlsx")
    assert wb.sheetnames == ["Summary", "invalid_row", "duplicate_payment", "invalid_reference", "unmatched_payment",
                             "underpayment", "overpayment", "Matched", "Unmatched", "Rejects", "Files",
                             "Control totals", "Run info"]
    for name in wb.sheetnames[1:7] + ["Matched", "Unmatched"]:
        header = [c.value for c in wb[name][1]]
        assert {"source_file", "source_line", "stable_key"} <= set(header), (name, header)
        assert wb[name].freeze_panes == "A2" and wb[name].auto_filter.ref
    matched = [c.value for c in wb["Matched"][1]]
    assert {"rule", "fields", "score", "evidence", "target", "route_reason", "http_status", "amili_id"} <= set(matched)
    info = {r[0]: r[1] for r in wb["Run info"].iter_rows(min_row=2, values_only=True)}
    assert info["config.creditors[nordlys-no].payments_to"] == "arm" and info["version.polars"]
    assert not any("secret" in k.lower() and not k.endswith("_env") for k in info)
    assert "sandbox" not in {str(v) for k, v in info.items() if "secret" in k.lower() or "api_code" in k.lower()}
    m = pl.read_parquet(run_dir / "matched.parquet")
    u = pl.read_parquet(run_dir / "unmatched.parquet")
    assert m.height == 25 and set(u.get_column("reason")) == {"unmatched_payment", "duplicate_payment"}


def test_totals_are_per_currency(tmp_path: Path) -> None:
    rows = _found().filter(pl.col("category") == "overpayment")
    sek = rows.with_columns(pl.lit("SEK").alias("currency"), pl.lit(100, pl.Int64).alias("amount_minor"),
                              pl.lit(9, pl.Int64).alias("source_line"))
    write_workbook(tmp_path / "d.xlsx", _summary(), pl.concat([rows, sek]), [])
    ws = openpyxl.load_workbook(tmp_path / "d.xlsx")["overpayment"]
    totals = [(r[0], r[5]) for r in ws.iter_rows(min_row=4, values_only=True)]
    assert totals == [("Total NOK", 5110.81), ("Total SEK", 1.0)]
