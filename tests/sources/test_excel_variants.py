"""Issue 14 item 3: no silent column or sheet choices; files as Excel saves them; KIDs Excel shortened.

Every case is a real file written in tmp (bytes for the text variants, openpyxl for workbooks) and read both
through the reader (read_source / read_inputs) and through `amili-etl validate --json`.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from click.testing import CliRunner

from etl.cli import cli
from etl.inputs import read_inputs
from etl.mapping import load_mappings
from etl.refs import restore_kid_zeros
from etl.sources import read_source

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
H = ["invoice_number", "customer_number", "customer_name", "kid", "invoice_date", "due_date", "currency",
     "amount_excl_vat", "vat_amount", "amount_incl_vat"]
R = [["1001", "C1", "Acme AS", "0000010017", "2026-10-01", "2026-10-15", "NOK", "100.00", "25.00", "125.00"],
     ["1002", "C2", "Beta AS", "0000010025", "2026-10-02", "2026-10-16", "NOK", "200.00", "50.00", "250.00"]]


@pytest.fixture(scope="module")
def mappings():
    return load_mappings([MAPPINGS])


def _text(sep: str, header=H, rows=R, end="\r\n") -> str:
    return end.join(sep.join(r) for r in [header, *rows]) + end


def _validate(tmp_path: Path, *files: Path, config: Path | None = None) -> tuple[int, list[dict]]:
    args = ["validate", "--json", "--out", str(tmp_path / "out")]
    if config is not None:
        args += ["--config", str(config)]
    res = CliRunner().invoke(cli, [*args, *map(str, files)])
    return res.exit_code, json.loads(res.output)["files"]


def _xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


EXCEL_TEXT = {
    "utf8_bom_semicolon.csv": codecs.BOM_UTF8 + _text(";").encode(),
    "utf8_bom_tab.txt": codecs.BOM_UTF8 + _text("\t").encode(),
    "utf16le_tab.txt": codecs.BOM_UTF16_LE + _text("\t").encode("utf-16-le"),
    "utf16be_tab.txt": codecs.BOM_UTF16_BE + _text("\t").encode("utf-16-be"),
    "comma_lf.csv": _text(",", end="\n").encode(),
    "quoted_trailing_empties.csv": ("".join(";".join(f'"{c}"' for c in r) + ";;\r\n" for r in [H, *R])
                                    + ";;;;\r\n;;\r\n").encode(),
}


@pytest.mark.parametrize("name", sorted(EXCEL_TEXT))
def test_known_layout_is_recognised_whatever_excel_did(tmp_path, mappings, name):
    f = tmp_path / name
    f.write_bytes(EXCEL_TEXT[name])
    r = read_source(f, mappings)
    assert (r.status, r.format, r.layout) == ("ok", "invoices_csv", "invoices_generic"), r.message
    assert r.rows.get_column("kid").to_list() == ["0000010017", "0000010025"]
    assert r.rows.get_column("amount_minor").to_list() == [12500, 25000]
    code, [entry] = _validate(tmp_path, f)
    assert (code, entry["status"], entry["rows"], entry["valid"]) == (0, "ok", 2, 2)


def test_repeated_header_in_a_csv_refuses_the_file(tmp_path, mappings):
    f = tmp_path / "dup.csv"
    f.write_text(_text(",", header=[*H, "amount_incl_vat"], rows=[[*r, "1.00"] for r in R]), encoding="utf-8")
    r = read_source(f, mappings)
    assert r.status == "unreadable"
    assert r.message == (f"{f}: line 1: column 'amount_incl_vat' occurs twice in the header (columns 10 and 11); "
                         "which one is meant cannot be told: rename or remove one and send the file again")
    code, [entry] = _validate(tmp_path, f)
    assert (code, entry["status"], entry["rows"]) == (3, "unreadable", 0)


def test_repeated_bank_column_refuses_the_file(tmp_path, mappings):
    head = "Dato;Beskrivelse;Rentedato;Inn;Inn;Ut;Til konto;Fra konto;"
    f = tmp_path / "sb1.csv"
    f.write_text(f'{head}\n"14.02.2025";"KID 1000124";;"1250,00";"9,00";;"15062995960";"33374467307";\n', encoding="utf-8")
    r = read_source(f, mappings)
    assert r.status == "unreadable"
    assert "column 'Inn' occurs twice in the header (columns 4 and 5)" in r.message
    assert _validate(tmp_path, f)[0] == 3


def test_repeated_header_in_a_sheet_names_the_columns(tmp_path, mappings):
    f = _xlsx(tmp_path / "dup.xlsx", {"Faktura": [[*H, "kid"], [*R[0], "x"]]})
    r = read_source(f, mappings)
    assert r.status == "unreadable"
    assert r.message.startswith(f"{f}: sheet 'Faktura' row 1: column 'kid' occurs twice in the header (columns D and K)")
    assert _validate(tmp_path, f)[0] == 3


def test_every_sheet_with_a_known_header_is_read_and_named(tmp_path, mappings):
    nov = ["1003", "C3", "Gamma", "0000010033", "2026-11-01", "2026-11-15", "NOK", "10.00", "2.50", "12.50"]
    bad = ["1004", "C4", "Delta", "0000010041", "not a date", "2026-11-15", "NOK", "10.00", "2.50", "12.50"]
    f = _xlsx(tmp_path / "invoices.xlsx", {"Oktober": [H, *R], "Tom": [], "November": [H, nov, bad]})
    r = read_source(f, mappings)
    assert r.status == "ok" and len(r.sheets) == 2
    assert r.rows.select("source_sheet", "source_line").rows() == [("Oktober", 2), ("Oktober", 3), ("November", 2),
                                                                  ("November", 3)]
    [okt, nov_] = read_inputs((f,), mappings)
    assert (okt.display, nov_.display) == (f"{f}#Oktober", f"{f}#November")
    assert nov_.rejects.get_column("source_line").to_list() == [3]
    code, entries = _validate(tmp_path, f)
    assert code == 1
    assert [(e["path"], e["status"], e["rows"], e["valid"]) for e in entries] == [
        (f"{f}#Oktober", "ok", 2, 2), (f"{f}#November", "rejected_rows", 2, 1)]
    rejects = list((tmp_path / "out").glob("*/rejects/invoices.xlsx#November.rejects.csv"))
    assert len(rejects) == 1
    assert pl.read_csv(rejects[0], infer_schema_length=0).get_column("invoice_number").to_list() == ["1004"]


def test_a_sheet_of_data_without_a_known_header_refuses_the_workbook(tmp_path, mappings):
    f = _xlsx(tmp_path / "invoices.xlsx", {"Oktober": [H, *R], "November": [["Faktura", "Kunde", "Beløp"],
                                                                            ["1003", "C3", "12.50"]]})
    r = read_source(f, mappings)
    assert r.status == "unreadable"
    assert "sheet(s) 'November' have data but no known header row" in r.message
    assert "'Oktober' have the invoices_generic header" in r.message
    assert _validate(tmp_path, f)[0] == 3


def test_sheets_of_different_layouts_refuse_the_workbook(tmp_path, mappings):
    sb1 = ["Dato", "Beskrivelse", "Rentedato", "Inn", "Ut", "Til konto", "Fra konto"]
    f = _xlsx(tmp_path / "mixed.xlsx", {"Faktura": [H, *R], "Bank": [sb1, ["14.02.2025", "x", None, "1,00", None,
                                                                            "15062995960", "1"]]})
    r = read_source(f, mappings)
    assert r.status == "unreadable"
    assert "the sheets have different layouts: 'Faktura' (invoices_generic), 'Bank' (sparebank1)" in r.message


def test_near_miss_says_what_differs_from_the_closest_layout_only(tmp_path, mappings):
    f = tmp_path / "near.csv"
    f.write_bytes(codecs.BOM_UTF8 + _text(";", header=[*H[:-1], "amount incl vat"]).encode())
    r = read_source(f, mappings)
    assert r.message == (f"{f}: line 1: looks like invoices_generic but the separator is ';' (the layout's is ','); "
                         "column 'amount_incl_vat' is missing; found 'amount incl vat'")
    code, [entry] = _validate(tmp_path, f)
    assert code == 3 and entry["message"] == r.message


def test_unrecognised_header_names_the_closest_layout_not_all_of_them(tmp_path, mappings):
    f = tmp_path / "far.csv"
    header = ["Invoice Number", "Customer Number", "Customer Name", "KID", "Invoice Date", "Due Date", "Currency",
              "Amount excl VAT", "VAT", "Total"]
    f.write_text(_text(";", header=header), encoding="utf-8")
    r = read_source(f, mappings)
    assert r.status == "unrecognised"
    assert r.message.startswith(f"{f}: not a recognised format: looks like invoices_generic (line 1) but ")
    assert "column 'invoice_number' is missing; found 'Invoice Number'" in r.message
    assert "sparebank1" not in r.message


def test_restore_kid_zeros_pads_only_when_the_check_digit_holds():
    kids = pl.Series("kid", ["10017", "0000010017", "1.0017E+4", None, "10018", "123456789012"])
    assert restore_kid_zeros(kids, 10, "mod10").to_list() == [
        "0000010017", "0000010017", "1.0017E+4", None, "10018", "123456789012"]


def _config(tmp_path: Path, kid_length: int | None) -> Path:
    extra = f"kid_length = {kid_length}\n" if kid_length else ""
    cfg = tmp_path / "amili-etl.toml"
    cfg.write_text(f'[state]\npath = "{tmp_path}/state.duckdb"\n\n[[creditor]]\nname = "acme-no"\ncountry = "NO"\n'
                   f'accounts = ["15062995960"]\nreference_check = "mod10"\n{extra}', encoding="utf-8")
    return cfg


def test_kids_shortened_by_excel_are_restored_only_with_a_kid_length(tmp_path):
    f = tmp_path / "kids.csv"
    rows = [[*R[0][:3], "10017", *R[0][4:]], [*R[1][:3], "1.0025E+4", *R[1][4:]]]
    f.write_text(_text(",", rows=rows), encoding="utf-8")
    code, [entry] = _validate(tmp_path, f, config=_config(tmp_path, 10))
    assert (code, entry["valid"], entry["rejected"]) == (1, 1, 1)
    assert "1 KID(s) shortened by Excel restored to creditor 'acme-no''s kid_length 10" in entry["message"]
    assert "line 2: '10017' -> '0000010017'" in entry["message"]
    [rejects] = (tmp_path / "out").glob("*/rejects/kids.csv.rejects.csv")
    assert "kid has the wrong format ('1.0025E+4')" in rejects.read_text(encoding="utf-8")
    code, [entry] = _validate(tmp_path, f, config=_config(tmp_path, None))
    assert entry["message"] is None  # no kid_length: never padded


def test_kid_length_is_checked(tmp_path):
    from etl.config import load_config
    from etl.errors import ConfigError

    cfg = _config(tmp_path, 30)
    with pytest.raises(ConfigError, match="kid_length must be a whole number of digits from 2 to 25"):
        load_config(cfg)
