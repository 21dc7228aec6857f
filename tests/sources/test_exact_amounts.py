"""Issue 14 (2, 9): every amount is exact or its row is rejected quoting the text; no wrap; a documented bound;
BgMax currencies checked; fixed-width files with a BOM or mixed line ends read; input folders never yield our own
state file, WAL, logs or reports. Real files written in tmp, read as `amili-etl validate` reads them."""

from __future__ import annotations

import codecs
import csv
import json
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from click.testing import CliRunner

from etl.cli import cli
from etl.money import (
    AMOUNT_LIMIT_MINOR,
    AmountError,
    amount_problem_expr,
    parse_amount_expr,
    parse_decimal_text,
    plain_amount_columns,
)
from etl.sources import input_files, iter_input_files, owned_file_kind

from .conftest import DATA

# Every form the issue names, and a few of their cousins: none is an amount.
BAD_COMMA = ["563.04.00", "1.234,56,78", "12e3", "1E+3", "0x10", "--5", "5-", "NaN", "inf", "\u0661\u0662\u0663",
             "1 2 3,4 5", "12.34.567,00", "1,234", "12,345.6", "184467440737095517", "10000000000000,00"]
BAD_POINT = ["563.04.00", "1,234.56.78", "12e3", "1E+3", "0x10", "--5", "5-", "NaN", "inf", "\u0661\u0662\u0663",
             "1234,5", "12,34,567.00", "1.234", "184467440737095517", "10000000000000.00"]


def _validate(tmp_path: Path, *paths: Path) -> tuple[dict, Path]:
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["validate", "--json", "--out", str(out), *map(str, paths)])
    assert res.exit_code in (0, 1, 3), res.output
    return json.loads(res.stdout), out


def _rejects(out: Path, name: str) -> list[dict]:
    [path] = out.glob(f"*/rejects/{name}.rejects.csv")
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# ---------------------------------------------------------------- the shared parser


@pytest.mark.parametrize(("decimal", "bad"), [(",", BAD_COMMA), (".", BAD_POINT)])
def test_no_bad_form_is_an_amount_and_each_says_why(decimal, bad):
    frame = pl.DataFrame({"t": bad})
    got = frame.select(parse_amount_expr("t", decimal).alias("m"), amount_problem_expr("t", decimal).alias("why"))
    assert got["m"].to_list() == [None] * len(bad)
    assert got["why"].null_count() == 0, got
    why = dict(zip(bad, got["why"].to_list(), strict=True))
    assert "exponent" in why["1E+3"] and "exponent" in why["12e3"]
    assert "hexadecimal" in why["0x10"] and "NaN" in why["NaN"] and "NaN" in why["inf"]
    assert "more than one sign" in why["--5"] and "trailing minus" in why["5-"]
    assert "ASCII" in why["\u0661\u0662\u0663"]
    assert "bound" in why["184467440737095517"]


@pytest.mark.parametrize(
    ("decimal", "text", "minor"),
    [
        (",", "1 234,56", 123_456), (",", "1.234,56", 123_456), (",", "-1234.50", -123_450), (",", "1234,5", 123_450),
        (",", "1\u00a0234,56", 123_456), (",", "1\u202f234,56", 123_456), (",", "1\u2009234,56", 123_456),
        (",", "123,00-", -12_300), (",", "1.234", 123_400), (",", "\u22125,00 kr", -500), (",", "+7", 700),
        (".", "1,234.56", 123_456), (".", "-1234.50", -123_450), (".", "1 234.5", 123_450), (".", "0.5-", -50),
    ],
)
def test_what_nordic_exports_print_still_reads(decimal, text, minor):
    assert pl.select(parse_amount_expr(pl.lit(text), decimal)).item() == minor


@pytest.mark.parametrize("decimal", [",", "."])
def test_the_bound_edges(decimal):
    top = "9999999999999" + decimal + "99"  # the largest amount: 13 digits before the mark
    texts = [top, "-" + top, "10000000000000" + decimal + "00", "-10000000000000", "9 999 999 999 999" + decimal + "99",
             "10 000 000 000 000", "0" + decimal + "01"]
    frame = pl.DataFrame({"t": texts})
    full = frame.select(parse_amount_expr("t", decimal)).to_series().to_list()
    assert full == [AMOUNT_LIMIT_MINOR - 1, -(AMOUNT_LIMIT_MINOR - 1), None, None, AMOUNT_LIMIT_MINOR - 1, None, 1]
    # The one-pass parser for plain columns takes at most 13 digits before the mark: 14 go to the full rules.
    assert plain_amount_columns(pl.DataFrame({"a": [top], "b": ["1" + top]}), ["a", "b"], decimal) == {"a"}


def test_the_measured_wrap_is_refused():
    # 184467440737095517 * 100 wraps Int64 to 84 (0.84): the bound is checked before scaling.
    assert pl.select(parse_amount_expr(pl.lit("184467440737095517"), ".")).item() is None
    assert pl.select(parse_amount_expr(pl.lit("92233720368547758.07"), ".")).item() is None
    assert pl.select(parse_amount_expr(pl.lit("-9223372036854775808"), ",")).item() is None


@pytest.mark.parametrize(
    ("text", "minor"), [("1387.60", 138_760), ("5", 500), ("-0.5", -50), ("100.500", 10_050), ("9999999999999.99", AMOUNT_LIMIT_MINOR - 1)]
)
def test_decimal_text_exact(text, minor):
    assert parse_decimal_text(text) == minor


@pytest.mark.parametrize(
    ("text", "why"),
    [("1E+3", "exponent"), ("1e3", "exponent"), ("NaN", "NaN"), ("Infinity", "NaN"), ("\u0661\u0662\u0663", "ASCII"),
     ("1_000", "ASCII"), ("1,5", "ASCII"), ("1.005", "two decimals"), ("10000000000000", "bound"), ("0x10", "ASCII"),
     ("", "ASCII"), ("1. 5", "ASCII")],
)
def test_decimal_text_refused(text, why):
    with pytest.raises(AmountError) as err:
        parse_decimal_text(text)
    assert why in err.value.reason


def test_decimal_text_unsigned():
    with pytest.raises(AmountError):
        parse_decimal_text("-5", signed=False)


# ---------------------------------------------------------------- layouts: bank CSV, invoice CSV, invoice .xlsx


def test_bank_csv_rejects_each_bad_cell_quoting_it(tmp_path):
    # DNB: `;`, decimal comma, separate out / in columns (mappings/dnb.toml). One good line first and last.
    lines = ["Dato;Forklaring;Rentedato;Ut fra konto;Inn på konto", "03.11.2026;ok;03.11.2026;;1 250,00"]
    lines += [f"03.11.2026;bad {k};03.11.2026;;{t}" for k, t in enumerate(BAD_COMMA)]
    lines += ["03.11.2026;out bad;03.11.2026;563.04.00;", "03.11.2026;ok;03.11.2026;349,90;"]
    f = tmp_path / "dnb.csv"
    f.write_bytes(codecs.BOM_UTF8 + "\n".join(lines).encode() + b"\n")
    doc, out = _validate(tmp_path, f)
    [entry] = doc["files"]
    assert (entry["status"], entry["valid"], entry["rejected"]) == ("rejected_rows", 2, len(BAD_COMMA) + 1)
    assert entry["total_amount"] == "900.10"
    rejects = {int(r["source_line"]): r for r in _rejects(out, "dnb.csv")}
    for k, text in enumerate(BAD_COMMA):
        r = rejects[3 + k]
        assert r["Inn på konto"].removeprefix("'") == text  # (the rejects file escapes a leading '-')
        assert f"Inn på konto '{text}' is not an amount: " in r["error_message"], r
        assert "amount_format" in r["error_check"] and "Inn på konto" in r["error_column"]
    assert "Ut fra konto '563.04.00' is not an amount" in rejects[3 + len(BAD_COMMA)]["error_message"]


def _invoice_rows(values: list[str]) -> list[list[str]]:
    return [[f"F{k}", "C1", "Kunde", "", "2026-11-01", "2026-11-15", "NOK", v, "0.00", v] for k, v in enumerate(values)]


_INVOICE_HEADER = ["invoice_number", "customer_number", "customer_name", "kid", "invoice_date", "due_date",
                   "currency", "amount_excl_vat", "vat_amount", "amount_incl_vat"]


def test_invoice_csv_wrap_and_bad_forms_rejected_with_the_raw_value(tmp_path):
    # The measured case: an invoice of 184467440737095517 went to ARM as exclVat 0.84.
    f = tmp_path / "invoices.csv"
    with f.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(_INVOICE_HEADER)
        # The last: the largest amount validation takes (schemas.models.MAX_AMOUNT_MINOR), far inside the parse bound.
        w.writerows(_invoice_rows(["100.00", *BAD_POINT, "10000000000.00"]))
    doc, out = _validate(tmp_path, f)
    [entry] = doc["files"]
    assert (entry["valid"], entry["rejected"]) == (2, len(BAD_POINT))
    rejects = {int(r["source_line"]): r for r in _rejects(out, "invoices.csv")}
    for k, text in enumerate(BAD_POINT):
        msg = rejects[3 + k]["error_message"]
        assert f"amount_excl_vat '{text}' is not an amount" in msg and f"amount_incl_vat '{text}'" in msg, msg
    assert "bound" in rejects[3 + BAD_POINT.index("184467440737095517")]["error_message"]


def test_invoice_xlsx_cells_that_are_not_amounts_are_rejected(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(_INVOICE_HEADER)
    for row in _invoice_rows(["100.00", "563.04.00", "1E+3", "12.345"]):
        ws.append(row)
    # Real numeric cells: 12.345 has more than two decimals (rejected, never rounded); 1e20 is beyond the bound;
    # 1234.5 is exact.
    for k, number in enumerate([12.345, 1e20, 1234.5]):
        ws.append([f"N{k}", "C1", "Kunde", None, "2026-11-01", "2026-11-15", "NOK", number, 0, number])
    f = tmp_path / "invoices.xlsx"
    wb.save(f)
    doc, out = _validate(tmp_path, f)
    [entry] = doc["files"]
    assert (entry["valid"], entry["rejected"]) == (2, 5), entry
    rejects = {int(r["source_line"]): r["error_message"] for r in _rejects(out, "invoices.xlsx")}
    assert sorted(rejects) == [3, 4, 5, 6, 7]
    assert "'563.04.00' is not an amount" in rejects[3] and "exponent" in rejects[4] and "two decimals" in rejects[5]
    assert "two decimals" in rejects[6] and "bound" in rejects[7]


# ---------------------------------------------------------------- fixed width: OCR giro, BgMax; MT940


def _bgmax(currency05: str = "SEK", currency15: str = "SEK", amount: str = "000000000000110000") -> bytes:
    lines = (DATA / "bgmax" / "minimal.txt").read_text(encoding="latin-1").splitlines()
    lines[1] = lines[1][:22] + currency05 + lines[1][25:]
    lines[2] = lines[2][:37] + amount + lines[2][55:]
    lines[3] = lines[3][:68] + currency15 + lines[3][71:]
    return ("\n".join(lines) + "\n").encode("latin-1")


@pytest.mark.parametrize(
    ("c05", "c15", "message"),
    [
        ("XYZ", "SEK", "opening post (TK05) currency 'XYZ' is not an ISO 4217 currency code"),
        ("SEK", "XYZ", "deposit post (TK15) currency 'XYZ' is not an ISO 4217 currency code"),
        ("EUR", "SEK", "deposit post (TK15) currency SEK differs from its opening post's (TK05, line 2) EUR"),
    ],
)
def test_bgmax_currency_problems_hold_the_file_back(tmp_path, c05, c15, message):
    f = tmp_path / "bg.txt"
    f.write_bytes(_bgmax(c05, c15))
    doc, _ = _validate(tmp_path, f)
    [entry] = doc["files"]
    assert entry["status"] == "held_back" and message in entry["message"], entry


def test_bgmax_blank_opening_currency_still_takes_the_deposits(tmp_path):
    f = tmp_path / "bg.txt"
    f.write_bytes(_bgmax("   ", "SEK"))
    doc, _ = _validate(tmp_path, f)
    assert [(e["status"], e["currency"]) for e in doc["files"]] == [("ok", "SEK")]


@pytest.mark.parametrize("amount", ["00000000000011000 ", "+00000000000110000", "0000000000001100.0", "000000000001100E+2"])
def test_bgmax_amount_field_not_digits_is_refused_quoting_it(tmp_path, amount):
    f = tmp_path / "bg.txt"
    f.write_bytes(_bgmax(amount=amount))
    doc, _ = _validate(tmp_path, f)
    [entry] = doc["files"]
    assert entry["status"] == "unreadable" and f"is not a number: {amount!r}" in entry["message"], entry


def test_bgmax_with_bom_and_mixed_line_ends_reads(tmp_path):
    lines = _bgmax().decode("latin-1").splitlines()
    f = tmp_path / "bg.txt"
    f.write_bytes(codecs.BOM_UTF8 + (lines[0] + "\r\n" + lines[1] + "\r" + "\n".join(lines[2:]) + "\r\n").encode())
    doc, _ = _validate(tmp_path, f)
    assert [(e["status"], e["total_amount"]) for e in doc["files"]] == [("ok", "1100.00")]


@pytest.mark.parametrize("variant", ["bom", "bom_crlf", "cr_mix"])
def test_ocr_giro_with_bom_or_mixed_line_ends_reads_like_the_original(tmp_path, variant):
    original = (DATA / "ocr_giro" / "ocr_giro_transactions.txt").read_bytes()
    lines = original.replace(b"\r\n", b"\n").split(b"\n")[:-1]
    if variant == "bom":
        data = codecs.BOM_UTF8 + original
    elif variant == "bom_crlf":
        data = codecs.BOM_UTF8 + b"\r\n".join(lines) + b"\r\n"
    else:  # CR, LF and CRLF line ends in one file
        data = b"".join(line + (b"\r", b"\n", b"\r\n")[k % 3] for k, line in enumerate(lines))
    f = tmp_path / "ocr.txt"
    f.write_bytes(data)
    g = tmp_path / "plain" / "ocr.txt"
    g.parent.mkdir()
    g.write_bytes(original)
    doc, _ = _validate(tmp_path, f, g)
    got, want = doc["files"]
    assert want["status"] in ("ok", "rejected_rows") and want["rows"] > 0
    assert {k: v for k, v in got.items() if k != "path"} == {k: v for k, v in want.items() if k != "path"}


def test_ocr_giro_amount_not_digits_is_refused_quoting_it(tmp_path):
    lines = (DATA / "ocr_giro" / "ocr_giro_transactions.txt").read_text(encoding="latin-1").splitlines()
    k = next(i for i, line in enumerate(lines) if line[6:8] == "30")
    lines[k] = lines[k][:40] + "1E+3" + lines[k][44:]
    f = tmp_path / "ocr.txt"
    f.write_text("\n".join(lines) + "\n", encoding="latin-1")
    doc, _ = _validate(tmp_path, f)
    [entry] = doc["files"]
    assert entry["status"] == "unreadable" and "1E+3" in entry["message"] and "is not a number" in entry["message"]


def test_mt940_amount_with_three_decimals_is_rejected_not_rounded(tmp_path):
    text = (
        ":20:STMT1\n:25:15062995960\n:28C:1/1\n:60F:C261101NOK1000,00\n"
        ":61:2611011101C100,005NTRFNONREF\n:86:KID 1000124\n"
        ":61:2611011101C50,00NTRFNONREF\n:86:x\n:62F:C261101NOK1150,00\n-\n"
    )
    f = tmp_path / "s.sta"
    f.write_text(text, encoding="utf-8")
    doc, out = _validate(tmp_path, f)
    [entry] = doc["files"]
    assert entry["status"] == "held_back", entry  # the statement no longer ties without the rejected entry
    [r] = _rejects(out, "s.sta")
    assert "'100.005'" in r["error_message"] and "two decimals" in r["error_message"]


# ---------------------------------------------------------------- input folders never yield our own files


def test_a_bank_folder_yields_only_the_real_inputs(tmp_path):
    bank = tmp_path / "bank"
    real = [bank / "bg.txt", bank / "sub" / "ocr.txt"]
    (bank / "sub").mkdir(parents=True)
    real[0].write_bytes(_bgmax())
    real[1].write_bytes((DATA / "ocr_giro" / "ocr_giro_transactions.txt").read_bytes())
    ours = {
        "state/amili-etl.duckdb": b"DUCK", "state/amili-etl.duckdb.wal": b"WAL", "state/amili-etl.duckdb.lock": b"1",
        "logs/20261101T000000Z-ab12.jsonl": b"{}", "reports/20261101T000000Z-ab12/log.jsonl": b"{}",
        "reports/20261101T000000Z-ab12/summary.json": b"{}", "reports/20261101T000000Z-ab12/discrepancies.csv": b"x",
        "reports/20261101T000000Z-ab12/discrepancies.xlsx": b"PK", "reports/20261101T000000Z-ab12/rejects/a.csv": b"x",
        "out/x/summary.json": b"{}", "out/x/discrepancies.csv": b"x", "out/x/notes.txt": b"x",
        "discrepancies.tmp.xlsx": b"PK", "state.tmp": b"x", ".hidden.csv": b"x",
    }
    for name, data in ours.items():
        (bank / name).parent.mkdir(parents=True, exist_ok=True)
        (bank / name).write_bytes(data)
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("x")
    (bank / "sub" / "link.csv").symlink_to(outside)
    files, notes = input_files([bank])
    assert files == sorted(real)
    assert iter_input_files([bank]) == sorted(real)
    [note] = notes
    for part in ("state file state/amili-etl.duckdb", "state write-ahead log state/amili-etl.duckdb.wal",
                 "log file logs/20261101T000000Z-ab12.jsonl", "reports/20261101T000000Z-ab12/", "out/x/",
                 "sub/link.csv", "discrepancies.tmp.xlsx"):
        assert part in note, note
    # Through the command: only the two real files, and the one line on stderr.
    res = CliRunner().invoke(cli, ["validate", "--json", "--out", str(tmp_path / "o"), str(bank)])
    assert [e["path"] for e in json.loads(res.stdout)["files"]] == ["bg.txt", "sub/ocr.txt"]


def test_the_configured_state_output_and_log_paths_are_skipped(tmp_path):
    bank = tmp_path / "bank"
    (bank / "db").mkdir(parents=True)
    (bank / "db" / "state.bin").write_bytes(b"x")  # an unusual state name: known from the configuration
    (bank / "mylogs").mkdir()
    (bank / "mylogs" / "run.txt").write_bytes(b"x")
    (bank / "bg.txt").write_bytes(_bgmax())
    files, notes = input_files([bank], exclude=[bank / "db" / "state.bin", bank / "mylogs"])
    assert files == [bank / "bg.txt"] and len(notes) == 1


@pytest.mark.parametrize(
    ("name", "owned"),
    [("amili-etl.duckdb", True), ("x.duckdb.wal", True), ("log.jsonl", True), ("a.tmp.xlsx", True),
     ("x.splice", True), ("x.duckdb.lock", True), ("bank.csv", False), ("OCR.txt", False), ("x.rejects.csv", False)],
)
def test_owned_names(name, owned):
    assert (owned_file_kind(name) is not None) == owned


def test_the_inbox_never_picks_up_the_state_its_wal_lock_or_logs(tmp_path):
    from etl.inbox import scan

    for name in ("amili-etl.duckdb", "amili-etl.duckdb.wal", "amili-etl.duckdb.lock", "log.jsonl", "bank.csv"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    ready, busy = scan(tmp_path, 0)
    assert [p.name for p in ready] == ["bank.csv"] and busy == []
