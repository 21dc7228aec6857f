"""ERP invoice layouts: Tripletex (one row per invoice line, grouped; lines kept for ARM documentLines) and
Visma (one row per invoice), as CSV and as .xlsx."""

from __future__ import annotations

import datetime as dt

import openpyxl
import polars as pl

from etl.sources.base import INVOICE_LINE_SCHEMA, INVOICE_SCHEMA

from .conftest import DATA

TRIPLETEX = DATA / "invoices" / "tripletex.csv"
VISMA = DATA / "invoices" / "visma.csv"


def test_tripletex_lines_are_grouped_into_invoices(read):
    r = read(TRIPLETEX)
    assert (r.status, r.format, r.layout) == ("ok", "invoices_csv", "invoices_tripletex"), r.message
    assert r.rows.columns == list(INVOICE_SCHEMA)
    assert r.rows["invoice_number"].to_list() == ["1000", "1001", "1002"]
    assert r.rows["source_line"].to_list() == [2, 4, 5]  # each invoice's first line
    # 1000: 7.5 h x 1200.00 at 25% + 2 x 49.90 at 15%; 1001: 3 x 135.00 at 12% + 25.00 without VAT (line 6).
    first, second = r.rows.row(0, named=True), r.rows.row(1, named=True)
    assert (first["amount_excl_vat_minor"], first["vat_minor"], first["amount_minor"]) == (
        900_000 + 9_980, 225_000 + 1_497, 1_125_000 + 11_477)
    assert (second["amount_excl_vat_minor"], second["vat_minor"], second["amount_minor"]) == (
        40_500 + 2_500, 4_860, 45_360 + 2_500)
    assert first["customer_org_number"] == "914286018" and first["kid"] == "10009"
    assert first["invoice_date"] == dt.date(2026, 11, 1) and first["due_date"] == dt.date(2026, 11, 15)


def test_tripletex_lines_keep_their_source_lines_and_invoice(read):
    lines = read(TRIPLETEX).lines
    assert lines is not None and lines.schema == pl.Schema(INVOICE_LINE_SCHEMA)
    assert lines.select("source_line", "invoice_line", "invoice_number", "line_no").rows() == [
        (2, 2, "1000", 1), (3, 2, "1000", 2), (4, 4, "1001", 1), (5, 5, "1002", 1), (6, 4, "1001", 2)]
    assert lines["quantity_hundredths"].to_list() == [750, 200, 300, 100, 100]
    assert lines["vat_code"].to_list() == ["3", "31", "33", "3", "5"]


def test_a_line_without_amount_leaves_its_invoice_without_total(read, tmp_path):
    text = TRIPLETEX.read_text(encoding="utf-8").replace(";49.90;", ";49,9x;")
    f = tmp_path / "broken.csv"
    f.write_text(text, encoding="utf-8")
    rows = read(f).rows
    assert rows.filter(pl.col("invoice_number") == "1000")["amount_minor"].to_list() == [None]
    assert rows.filter(pl.col("invoice_number") == "1001")["amount_minor"].to_list() == [47_860]


def test_visma_cp1252_invoice_level(read):
    r = read(VISMA)
    assert (r.status, r.layout, r.lines) == ("ok", "invoices_visma", None)
    assert r.rows["amount_minor"].to_list() == [391_338, 110_465, 13_000]
    assert r.rows["customer_name"].to_list()[1] == "Åsa Prövsson"
    assert r.rows["customer_org_number"].to_list() == ["5560360793", None, None]
    assert r.rows["kid"].to_list() == ["7050073", "7050172", "7050271"]


def test_tripletex_as_xlsx_with_numbers(read, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    rows = [line.split(";") for line in TRIPLETEX.read_text(encoding="utf-8").splitlines()]
    ws.append(rows[0])
    for row in rows[1:3]:
        ws.append([*row[:9], float(row[9]), float(row[10]), int(row[11])])  # real numbers, as Excel keeps them
    f = tmp_path / "tripletex.xlsx"
    wb.save(f)
    r = read(f)
    assert (r.status, r.format, r.layout) == ("ok", "invoices_xlsx", "invoices_tripletex"), r.message
    assert r.rows["amount_minor"].to_list() == [1_125_000 + 11_477]
    assert r.lines["quantity_hundredths"].to_list() == [750, 200]


def test_a_missing_line_column_names_file_column_and_what_is_there(read, tmp_path):
    text = TRIPLETEX.read_text(encoding="utf-8").replace("ORDER LINE - COUNT", "ANTALL", 1)
    f = tmp_path / "tt.csv"
    f.write_text(text, encoding="utf-8")
    r = read(f)
    assert (r.status, r.layout) == ("unreadable", "invoices_tripletex")
    assert r.message.startswith(
        f"{f}: line 1: column 'ORDER LINE - COUNT' (mapped as line quantity by layout 'invoices_tripletex') is "
        "missing; the file has: 'INVOICE NO', 'INVOICE DATE'"
    )
    assert "'ANTALL'" in r.message


def test_visma_norway_invoice_level(read):
    """Visma for Norway as well as Sweden: Norwegian column names, dd.mm.yyyy (ISO too), KIDs with leading zeros."""
    r = read(DATA / "invoices" / "visma_no.csv")
    assert (r.status, r.format, r.layout, r.lines) == ("ok", "invoices_csv", "invoices_visma_no", None), r.message
    assert r.rows["amount_minor"].to_list() == [391_338, 110_465, 12_500]
    assert r.rows["vat_minor"].to_list() == [78_268, 22_093, 2_500]
    assert r.rows["kid"].to_list() == ["0001024", "0001107", "0001289"]
    assert r.rows["customer_name"].to_list()[1] == "Ola Prøvemann"
    assert r.rows["due_date"].to_list() == [dt.date(2026, 11, 4), dt.date(2026, 11, 7), dt.date(2026, 11, 8)]
    assert set(r.rows["currency"].to_list()) == {"NOK"}
