"""Every shipped bank layout, read from a sample or a synthetic file of its own: recognised by its header,
amounts, dates, accounts and references right, pending rows skipped, lines numbered as in the file."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest
import xlwt

from etl.sources.base import PAYMENT_SCHEMA

from .conftest import DATA, REPO

D = dt.date
BANK = DATA / "bank_csv"
OURS = "15062995960"  # the (fake) creditor account of the synthetic Norwegian files

# file -> (layout, source lines, booking dates, amounts in minor units, references, receiving accounts)
CSV_CASES = {
    "sb1.csv": ("sparebank1", list(range(2, 17)), None, None, None, None),
    "dnb.csv": (
        "dnb", [2, 3, 4, 5], [D(2026, 11, 3), D(2026, 11, 3), D(2026, 11, 4), D(2026, 11, 5)],
        [125_000, -34_990, 1_000_050, -200_000], ["1000124", None, None, None], [None] * 4,
    ),
    "nordea_no.csv": (  # line 2 is "Reservert": pending, not a transaction
        "nordea_no", [3, 4, 5], [D(2026, 11, 3), D(2026, 11, 4), D(2026, 11, 5)],
        [125_000, -34_990, 80_000], ["1000124", None, None], [OURS, "78887841259", OURS],
    ),
    "handelsbanken_no.csv": (
        "handelsbanken_no", [2, 3, 4], [D(2026, 11, 3), D(2026, 11, 4), D(2026, 11, 5)],
        [125_000, -34_990, 250_000], ["1000124", None, "1000132"], [OURS, "78887841259", OURS],
    ),
    "danske_no.csv": (  # line 2 has Status "Venter": pending
        "danske_no", [3, 4], [D(2026, 11, 5), D(2026, 11, 4)], [125_000, -1_234_567], ["1000124", None], [None, None],
    ),
    "sbanken.csv": (
        "sbanken", [2, 3], [D(2026, 11, 3), D(2026, 11, 4)], [125_000, -34_990], ["1000124", None], [None, None],
    ),
    "swedbank.csv": (  # line 1 is "* Transaktioner Period ..."
        "swedbank", [3, 4, 5], [D(2026, 11, 5), D(2026, 11, 4), D(2026, 11, 3)], [391_338, -150_000, 50],
        ["7050016", None, None], ["832791234567890"] * 3,
    ),
    "handelsbanken_se.txt": (  # TAB-separated, four info lines before the header
        "handelsbanken_se_txt", [6, 7], [D(2026, 11, 5), D(2026, 11, 4)], [391_338, -150_000], ["7050016", None],
        [None, None],
    ),
    "nordea_se.csv": (  # "Reservation" row skipped; dates ISO and yyyy/MM/dd
        "nordea_se", [3, 4], [D(2026, 11, 5), D(2026, 11, 4)], [391_338, -25_000], ["7050016", None],
        ["54029681", "1234567"],
    ),
    "ica_account_export.csv": ("ica_banken", list(range(3, 15)), None, None, None, None),
}


@pytest.mark.parametrize("name", sorted(CSV_CASES))
def test_bank_csv_layouts(read, name):
    layout, lines, dates, amounts, refs, accounts = CSV_CASES[name]
    r = read(BANK / name)
    assert (r.status, r.format, r.layout) == ("ok", "bank_csv", layout), r.message
    assert r.rows.columns == list(PAYMENT_SCHEMA)
    assert r.rows["source_line"].to_list() == lines
    if dates is not None:
        assert r.rows["booking_date"].to_list() == dates
        assert r.rows["amount_minor"].to_list() == amounts
        assert r.rows["reference"].to_list() == refs
        assert r.rows["account"].to_list() == accounts
    assert r.rows["payment_key"].n_unique() == r.rows.height


def test_ica_sample_facts(read):
    """UTF-8 BOM, the account line before the header, `-1 000,00 kr` amounts (SOURCES.md)."""
    rows = read(BANK / "ica_account_export.csv").rows
    assert rows["amount_minor"].head(3).to_list() == [-100_000, -200_000, -23_500]
    assert rows["currency"].unique().to_list() == ["SEK"]
    assert rows.row(0, named=True)["message"] == "Överföring.s" and rows.row(0, named=True)["booking_date"] == D(2023, 9, 30)


def test_non_ascii_text_survives_every_encoding(read):
    assert read(BANK / "sbanken.csv").rows["message"].to_list()[1] == "Varekjøp Ærlige Øst Kiosk"  # ISO-8859-1
    assert "Åkesson" in read(BANK / "swedbank.csv").rows["message"].to_list()[1]  # cp1252, quoted comma
    assert read(BANK / "nordea_no.csv").rows["payer_name"].to_list()[2] == "Kari Prøvesen"  # UTF-8 BOM


def _xlsx(path: Path, rows: list[list[object]], sheet: str = "Kontoutdrag", before: list[list[object]] = ()) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for row in [*before, *rows]:
        ws.append(row)
    wb.save(path)
    return path


def test_handelsbanken_se_xlsx_with_info_rows(read, tmp_path):
    info = [["Kontoutdrag"], ["Konto", "6000-123 456 789"], ["Period", "2026-11-01 - 2026-11-30"], [], ["Utskriven", "2026-12-01"]]
    rows = [
        ["Reskontradatum", "Transaktionsdatum", "Text", "Belopp", "Saldo"],
        [dt.datetime(2026, 11, 5), dt.datetime(2026, 11, 5), "7050016", 3913.38, 10913.38],  # real date and number
        ["2026-11-04", "2026-11-04", "Hyra Testgatan", "-1 500,00", "7 000,00"],  # text cells
    ]
    r = read(_xlsx(tmp_path / "hb.xlsx", rows, before=info))
    assert (r.status, r.format, r.layout) == ("ok", "bank_xlsx", "handelsbanken_se_xlsx"), r.message
    assert r.rows["source_line"].to_list() == [7, 8]
    assert r.rows["amount_minor"].to_list() == [391_338, -150_000]
    assert r.rows["booking_date"].to_list() == [D(2026, 11, 5), D(2026, 11, 4)]
    assert r.rows["reference"].to_list() == ["7050016", None]


def test_seb_xlsx(read, tmp_path):
    rows = [
        ["Bokföringsdatum", "Valutadatum", "Verifikationsnummer", "Text/mottagare", "Belopp", "Saldo"],
        [dt.date(2026, 11, 5), dt.date(2026, 11, 5), "5484381424", "BG 5402-9681 OCR 7050016", 3913.38, 5000],
        [dt.date(2026, 11, 4), dt.date(2026, 11, 4), "5484381425", "Testföretaget AB", -86.9, 1086.62],
    ]
    r = read(_xlsx(tmp_path / "seb.xlsx", rows, sheet="Sheet1", before=[["Kontoutdrag SEB"], []]))
    assert (r.status, r.format, r.layout) == ("ok", "bank_xlsx", "seb"), r.message
    assert r.rows["amount_minor"].to_list() == [391_338, -8_690]
    assert r.rows["bank_ref"].to_list() == ["5484381424", "5484381425"]
    assert r.rows["reference"].to_list() == ["7050016", None]


def test_swedbank_legacy_xls(read, tmp_path):
    wb = xlwt.Workbook()
    ws = wb.add_sheet("Kontoutdrag")
    ws.write(0, 0, "Transaktioner Period 2026-11-01 - 2026-11-30")
    header = ["Radnr", "Clnr", "Kontonr", "Produkt", "Valuta", "Bokfdag", "Transdag", "Valutadag", "Referens", "Text",
              "Belopp", "Saldo"]
    date = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for j, h in enumerate(header):
        ws.write(2, j, h)
    for i, (day, ref, text, amount) in enumerate([(5, "7050016", "Bg-inbetalning", 3913.38), (4, "", "Hyra", "-1 500,00")]):
        row = 3 + i
        for j, v in enumerate([i + 1, "8327-9", "123 456 789-0", "Företagskonto", "SEK"]):
            ws.write(row, j, v)
        for j in (5, 6, 7):
            ws.write(row, j, dt.date(2026, 11, day), date)
        ws.write(row, 8, ref)
        ws.write(row, 9, text)
        ws.write(row, 10, amount)
    buf = io.BytesIO()
    wb.save(buf)
    f = tmp_path / "export.xls"
    f.write_bytes(buf.getvalue())
    r = read(f)
    assert (r.status, r.format, r.layout) == ("ok", "bank_xlsx", "swedbank_xls"), r.message
    assert r.rows["source_line"].to_list() == [4, 5]
    assert r.rows["amount_minor"].to_list() == [391_338, -150_000]
    assert r.rows["booking_date"].to_list() == [D(2026, 11, 5), D(2026, 11, 4)]
    assert r.rows["account"].to_list() == ["832791234567890"] * 2


def test_every_shipped_bank_layout_is_tested(mappings):
    tested = {case[0] for case in CSV_CASES.values()} | {"handelsbanken_se_xlsx", "seb", "swedbank_xls"}
    shipped = {lay.name for lay in mappings.of_kind("bank")}
    assert shipped == tested
    assert len(shipped) >= 13
    for lay in mappings.of_kind("bank"):
        text = (REPO / "mappings" / f"{lay.name}.toml").read_text(encoding="utf-8")
        assert text.startswith("#") and ("sample" in text or "synthetic" in text), lay.name


def test_dnb_carries_the_payer_name_where_its_export_has_one(read):
    """DNB's export with the payer columns fills payer_name / payer_account; the one without leaves them empty."""
    r = read(DATA / "bank_csv" / "dnb_payer.csv")
    assert (r.status, r.layout) == ("ok", "dnb"), r.message
    assert r.rows["payer_name"].to_list() == ["Ola Testmann", None, "Kari Prøvesen AS"]
    assert r.rows["amount_minor"].to_list() == [125_000, -34_990, 1_000_050]
    assert r.rows["payer_account"].to_list()[0] == "12061112345"
    plain = read(DATA / "bank_csv" / "dnb.csv")
    assert (plain.status, plain.layout) == ("ok", "dnb") and plain.rows["payer_name"].to_list() == [None] * 4
