"""Bank CSV and .xlsx exports through a layout: SpareBank 1, line numbers, encodings, keys, missing columns."""

from __future__ import annotations

import datetime as dt

import openpyxl
import polars as pl

from etl.sources.base import PAYMENT_SCHEMA
from etl.sources.keys import stable_key

from .conftest import DATA

SB1 = DATA / "bank_csv" / "sb1.csv"
SB1_HEADER = "Dato;Beskrivelse;Rentedato;Inn;Ut;Til konto;Fra konto;"


def test_sb1_round_trip(read):
    r = read(SB1)
    assert (r.status, r.format, r.kind, r.layout, r.message) == ("ok", "bank_csv", "payments", "sparebank1", "")
    assert r.rows.schema == pl.Schema(PAYMENT_SCHEMA)
    assert r.rows.height == 15
    assert r.rows["source_line"].to_list() == list(range(2, 17))
    first = r.rows.row(0, named=True)
    assert first["booking_date"] == dt.date(2025, 2, 28)
    assert first["amount_minor"] == -34_856  # Ut "-348,56"
    assert (first["account"], first["payer_account"], first["currency"]) == ("12345678901", "98765432109", "NOK")
    assert first["message"] == "KIWI MAJORSTUEN" and first["reference"] is None
    incoming = r.rows.filter(pl.col("amount_minor") > 0)
    assert incoming["amount_minor"].to_list() == [2_875_034, 218_700, 250_000]  # Inn "28750,34" ...
    assert r.rows.filter(pl.col("message") == "Overføring til Sparekonto").height == 1  # UTF-8


def test_sb1_raw_keeps_original_columns_without_the_trailing_empty_one(read):
    r = read(SB1)
    assert r.raw.columns == ["source_line", "Dato", "Beskrivelse", "Rentedato", "Inn", "Ut", "Til konto", "Fra konto"]
    assert r.raw.row(0) == (2, "28.02.2025", "KIWI MAJORSTUEN", None, None, "-348,56", "12345678901", "98765432109")


def test_csv_key_is_the_hash_of_the_facts_and_occurrence(read):
    first = read(SB1).rows.row(0, named=True)
    assert first["payment_key"] == stable_key("CSV", ["12345678901", "2025-02-28", -34856, None, "KIWI MAJORSTUEN", 1])


def _write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_twins_and_overlapping_exports_get_stable_keys(read, tmp_path):
    twin = '"14.02.2025";"Innbetaling";;"100,00";;"12345678901";"55555555555";'
    other = '"13.02.2025";"Annen";;"50,00";;"12345678901";"55555555555";'
    a = read(_write(tmp_path / "a.csv", "\n".join([SB1_HEADER, twin, twin, other]) + "\n")).rows
    b = read(_write(tmp_path / "b.csv", "\n".join([SB1_HEADER, other, twin, twin]) + "\n")).rows
    assert a["payment_key"].n_unique() == 3  # the twins stay apart
    assert sorted(a["payment_key"]) == sorted(b["payment_key"])  # same payments, same keys


def test_lines_before_header_blank_lines_quoted_newlines_and_cp1252(read, tmp_path):
    text = (
        "\r\n".join(
            [
                "Kontoutskrift 1234.56.78901",
                "",
                SB1_HEADER,
                '"01.03.2025";"Første linje";;"10,00";;"12345678901";"1";',
                "",
                '"02.03.2025";"To\r\nlinjer";;"1 234,50";;"12345678901";"2";',
                '"03.03.2025";"Etter";;;"-5,00";"9";"12345678901";',
            ]
        )
        + "\r\n"
    )
    r = read(_write(tmp_path / "export.txt", text, "cp1252"))
    assert r.status == "ok", r.message
    assert r.rows["source_line"].to_list() == [4, 6, 8]
    assert r.rows["amount_minor"].to_list() == [1_000, 123_450, -500]
    assert r.rows["message"].to_list() == ["Første linje", "To\r\nlinjer", "Etter"]


def test_utf8_bom_and_utf16_with_bom_are_read_and_broken_utf16_is_refused(read, tmp_path):
    body = SB1.read_text(encoding="utf-8")
    expected = read(SB1).rows.drop("source_file", "source_sha256")
    assert read(_write(tmp_path / "bom.csv", "\ufeff" + body)).rows.drop("source_file", "source_sha256").equals(expected)
    u16 = read(_write(tmp_path / "u16.csv", body, "utf-16"))  # Excel's "Unicode text": BOM + UTF-16
    assert u16.status == "ok" and u16.rows.drop("source_file", "source_sha256").equals(expected)
    f = tmp_path / "cut.csv"
    f.write_bytes(body.encode("utf-16")[:-1])  # an odd number of bytes: not UTF-16
    r = read(f)
    assert r.status == "unreadable" and "not valid UTF-16" in r.message and "save the file as UTF-8" in r.message


def test_missing_mapped_column_names_file_column_and_columns_present(read, tmp_path):
    # Inn is gone: still recognisable as SpareBank 1, but a mapped column is missing.
    lines = ["Dato;Beskrivelse;Rentedato;Ut;Til konto;Fra konto;", '"28.02.2025";"KIWI";;"-1,00";"1";"2";']
    f = _write(tmp_path / "no_inn.csv", "\n".join(lines) + "\n")
    r = read(f)
    assert (r.status, r.format, r.layout) == ("unreadable", "bank_csv", "sparebank1")
    assert r.message == (
        f"{f}: line 1: column 'Inn' (mapped as amount_in by layout 'sparebank1') is missing; the file has: "
        "'Dato', 'Beskrivelse', 'Rentedato', 'Ut', 'Til konto', 'Fra konto'"
    )


def test_too_many_cells_names_the_line(read, tmp_path):
    lines = [SB1_HEADER, '"01.03.2025";"a";;"1,00";;"1";"2";', '"02.03.2025";"b";;"1,00";;"1";"2";"x";"y";']
    f = _write(tmp_path / "ragged.csv", "\n".join(lines) + "\n")
    r = read(f)
    assert r.status == "unreadable" and r.message == f"{f}: line 3: more cells than the header has (8)"


def test_bad_amounts_and_dates_become_nulls_for_validation(read, tmp_path):
    lines = [SB1_HEADER, '"31.02.2025";"a";;"12,3x";;"1";"2";']
    r = read(_write(tmp_path / "bad.csv", "\n".join(lines) + "\n"))
    assert r.status == "ok"
    assert r.rows.row(0, named=True)["booking_date"] is None
    assert r.rows.row(0, named=True)["amount_minor"] is None
    assert r.raw.row(0, named=True)["Inn"] == "12,3x"


def test_bank_xlsx_with_info_rows_numbers_and_dates(read, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Transaksjoner"
    ws["A2"] = "Kontoutskrift"  # row 1 empty, an info row, another empty row
    ws.append([])
    ws.append(["Dato", "Beskrivelse", "Rentedato", "Inn", "Ut", "Til konto", "Fra konto"])
    ws.append([dt.datetime(2025, 2, 14), "Lønn", None, 28750.34, None, "12345678901", "56712345678"])
    ws.append(["15.02.2025", "Tekst", None, None, "-1 249,00", 12345678901, "34567812390"])
    ws.append([])
    ws.append([dt.date(2025, 2, 16), "Heltall", None, 100, None, "12345678901", None])
    f = tmp_path / "konto.csv"  # a wrong extension on purpose
    wb.save(f)
    r = read(f)
    assert (r.status, r.format, r.layout) == ("ok", "bank_xlsx", "sparebank1"), r.message
    assert r.rows["source_line"].to_list() == [5, 6, 8]  # sheet rows, 1-based
    assert set(r.rows["source_sheet"]) == {"Transaksjoner"}
    assert r.rows["booking_date"].to_list() == [dt.date(2025, 2, 14), dt.date(2025, 2, 15), dt.date(2025, 2, 16)]
    assert r.rows["amount_minor"].to_list() == [2_875_034, -124_900, 10_000]
    assert r.rows["account"].to_list() == ["12345678901"] * 3
