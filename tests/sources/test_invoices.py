"""Generic invoice exports (mappings/invoices_generic.toml): CSV and a single-sheet .xlsx."""

from __future__ import annotations

import datetime as dt

import openpyxl
import polars as pl

from etl.sources.base import INVOICE_SCHEMA

HEADER = "invoice_number,customer_number,customer_name,kid,invoice_date,due_date,currency,amount_excl_vat,vat_amount,amount_incl_vat"


def test_invoices_csv(read, tmp_path):
    f = tmp_path / "fakturaer.dat"
    f.write_text(
        "\n".join(
            [
                HEADER,
                "705001,773152,Linnea Wikström,0070500160,2026-10-05,2026-11-04,SEK,3130.70,782.68,3913.38",
                '705002,773153,"Strand, Astrid",,2026-10-08,2026-11-07,nok,-100,-25,-125',
                "705003,773154,Broken Date,123,2026-13-01,,SEK,1.5,0.38,1.88",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    r = read(f)
    assert (r.status, r.format, r.kind, r.layout) == ("ok", "invoices_csv", "invoices", "invoices_generic"), r.message
    assert r.rows.schema == pl.Schema(INVOICE_SCHEMA)
    first = r.rows.row(0, named=True)
    assert first["kid"] == "0070500160"  # leading zeros kept
    assert (first["invoice_date"], first["due_date"]) == (dt.date(2026, 10, 5), dt.date(2026, 11, 4))
    assert (first["amount_excl_vat_minor"], first["vat_minor"], first["amount_minor"]) == (313_070, 78_268, 391_338)
    assert first["customer_name"] == "Linnea Wikström" and first["source_line"] == 2
    second = r.rows.row(1, named=True)
    assert (second["customer_name"], second["kid"], second["currency"], second["amount_minor"]) == (
        "Strand, Astrid",
        None,
        "NOK",
        -12_500,
    )
    third = r.rows.row(2, named=True)
    assert third["invoice_date"] is None and third["due_date"] is None  # validation rejects it
    assert third["amount_minor"] == 188
    assert r.raw.row(2, named=True)["invoice_date"] == "2026-13-01"  # the original text stays for rejects


def test_invoices_xlsx_numbers_and_dates_as_cells(read, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Fakturaer"
    ws.append(HEADER.split(","))
    ws.append(
        [
            100014,
            5001,
            "Astrid Strand",
            "1000148",
            dt.datetime(2026, 10, 1),
            dt.date(2026, 10, 31),
            "NOK",
            1810.73,
            452.68,
            2263.41,
        ]
    )
    ws.append(["100015", "5002", "Ola Nordmann", 1000155, "2026-10-02", "2026-11-01", "NOK", "100", "25", "125.00"])
    f = tmp_path / "invoices.csv"  # wrong extension on purpose
    wb.save(f)
    r = read(f)
    assert (r.status, r.format, r.layout) == ("ok", "invoices_xlsx", "invoices_generic"), r.message
    assert r.rows.schema == pl.Schema(INVOICE_SCHEMA)
    assert r.rows["source_line"].to_list() == [2, 3]
    assert set(r.rows["source_sheet"]) == {"Fakturaer"}
    assert r.rows["invoice_number"].to_list() == ["100014", "100015"]  # numeric cell without ".0"
    assert r.rows["kid"].to_list() == ["1000148", "1000155"]
    assert r.rows["invoice_date"].to_list() == [dt.date(2026, 10, 1), dt.date(2026, 10, 2)]
    assert r.rows["due_date"].to_list() == [dt.date(2026, 10, 31), dt.date(2026, 11, 1)]
    assert r.rows["amount_minor"].to_list() == [226_341, 12_500]
    assert r.rows["amount_excl_vat_minor"].to_list() == [181_073, 10_000]


def test_invoices_csv_missing_column(read, tmp_path):
    f = tmp_path / "inv.csv"
    f.write_text(HEADER.replace(",kid", "") + "\n1,2,x,2026-10-01,2026-10-31,NOK,1,0,1\n", encoding="utf-8")
    r = read(f)
    assert (r.status, r.format) == ("unreadable", "invoices_csv")
    assert r.message.startswith(
        f"{f}: line 1: column 'kid' (mapped as kid by layout 'invoices_generic') is missing; the file has: 'invoice_number',"
    )
