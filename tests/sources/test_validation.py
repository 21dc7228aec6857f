"""Row validation (pandera, polars backend): identifiers checked with python-stdnum, per-file and per-creditor
rules, rejects written in the file's own layout and readable again, and the `validate --json` contract."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import polars as pl
import pytest
from click.testing import CliRunner

from etl.cli import cli
from etl.inputs import read_inputs
from etl.report import write_rejects
from etl.schemas import RowRules, validate_rows
from etl.sources.base import INVOICE_SCHEMA, PAYMENT_SCHEMA

from .conftest import DATA, REPO

SB1 = DATA / "bank_csv" / "sb1.csv"
HEADER = "Dato;Beskrivelse;Rentedato;Inn;Ut;Til konto;Fra konto;"


def _payments(**cols: list) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    base = {
        "source_line": list(range(2, n + 2)),
        "amount_minor": [100] * n,
        "currency": ["NOK"] * n,
        "booking_date": [dt.date(2026, 11, 20)] * n,
        "payment_key": [f"k{i}" for i in range(n)],
        "account": ["15062995960"] * n,
    }
    base.update(cols)
    return pl.DataFrame(base, schema_overrides={c: t for c, t in PAYMENT_SCHEMA.items() if c in base})


def _checks(rejects: pl.DataFrame) -> list[tuple[int, str | None, str]]:
    return list(rejects.select("source_line", "error_column", "error_check").iter_rows())


def test_receiving_account_checked_by_mod11_or_iban_on_incoming_rows_only():
    rows = _payments(
        account=["15062995960", "15062995961", "NO9386011117947", "NO9386011117948", "15062995961", "5402968"],
        amount_minor=[100, 100, 100, 100, -100, 100],
    )
    valid, rejects = validate_rows(rows, "payments", RowRules(country="NO"))
    # Bad MOD11 and a bad IBAN are rejected; an outgoing row's account is the payee's: not ours to check;
    # a 7-digit number is not a Norwegian account number, so the Norwegian check does not apply.
    assert _checks(rejects) == [(3, "account", "account_number"), (5, "account", "account_number")]
    assert valid["source_line"].to_list() == [2, 4, 6, 7]
    assert "('15062995961')" in rejects["error_message"][0]


def test_swedish_files_skip_the_norwegian_account_rule_but_not_ibans():
    rows = _payments(account=["15062995961", "SE4550000000058398257466", "SE4550000000058398257467"])
    _, rejects = validate_rows(rows, "payments", RowRules(country="SE"))
    assert _checks(rejects) == [(4, "account", "account_number")]


def test_amounts_dates_and_currency_rules():
    rows = _payments(
        amount_minor=[0, 10**12 + 1, 100, 100, None],
        currency=["NOK", "NOK", "nok", "NOK", "NOK"],
        booking_date=[dt.date(2026, 1, 1), dt.date(2026, 1, 1), dt.date(2026, 1, 1), dt.date(1999, 12, 31), None],
    )
    _, rejects = validate_rows(rows, "payments")
    got = {(line, col) for line, col, _ in _checks(rejects)}
    assert got == {(2, "amount_minor"), (3, "amount_minor"), (4, "currency"), (5, "booking_date"),
                   (6, "amount_minor"), (6, "booking_date")}


def _invoices(**cols: list) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    base = {
        "source_line": list(range(2, n + 2)),
        "invoice_number": [str(1000 + i) for i in range(n)],
        "customer_number": ["1"] * n,
        "invoice_date": [dt.date(2026, 11, 1)] * n,
        "due_date": [dt.date(2026, 11, 15)] * n,
        "currency": ["NOK"] * n,
        "amount_minor": [12_500] * n,
        "amount_excl_vat_minor": [10_000] * n,
        "vat_minor": [2_500] * n,
        "kid": [f"1000{i}" for i in range(n)],
        "customer_org_number": [None] * n,
    }
    base.update(cols)
    return pl.DataFrame(base, schema_overrides={c: t for c, t in INVOICE_SCHEMA.items() if c in base})


def test_invoice_rules_kid_once_org_numbers_due_dates_and_creditor_currency():
    rows = _invoices(
        kid=["10009", "10009", "10017", None, None],
        customer_org_number=["914286018", "123456789", None, "5560360793", None],
        currency=["NOK", "NOK", "NOK", "NOK", "SEK"],
        due_date=[dt.date(2026, 11, 15)] * 4 + [dt.date(2026, 10, 1)],
    )
    _, rejects = validate_rows(rows, "invoices", RowRules(country="NO", currencies=frozenset({"NOK"})))
    got = _checks(rejects)
    assert (2, "kid", "kid_unique") in got and (3, "kid", "kid_unique") in got  # one KID, two invoices
    assert (3, "customer_org_number", "org_number") in got  # 123456789 fails MOD11
    assert (5, "customer_org_number", "org_number") in got  # a Swedish number in a Norwegian file
    assert (6, "currency", "creditor_currency") in got
    assert (6, None, "due_date is before invoice_date") in got
    assert 4 not in {line for line, _, _ in got}  # two invoices without a KID are fine


def test_swedish_org_and_personal_numbers_pass_in_swedish_files():
    rows = _invoices(customer_org_number=["5560360793", "8112189876", "5560360794"])
    _, rejects = validate_rows(rows, "invoices", RowRules(country="SE"))
    assert _checks(rejects) == [(4, "customer_org_number", "org_number")]


def test_validation_does_not_import_pandas():
    """pandera's polars API without pandas' 0.6-1 s import (pandas may be installed for the benchmarks)."""
    code = (
        "import sys, polars as pl, datetime as dt\n"
        "from etl.schemas import validate_rows\n"
        "rows = pl.DataFrame({'source_line': [1], 'amount_minor': [0], 'currency': ['NOK'],"
        " 'booking_date': [dt.date(2026, 1, 1)], 'payment_key': ['k'], 'account': ['1']})\n"
        "valid, rejects = validate_rows(rows, 'payments')\n"
        "assert rejects.height == 1, rejects\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_pandera_is_imported_in_the_background_while_the_first_file_is_read():
    """read_inputs starts pandera's import in a thread (it overlaps the read); validation waits for it, pandas
    stays unimported, and the interpreter's switch interval is back to what it was."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from etl.bundled import bundled_dir\n"
        "from etl.inputs import read_inputs\n"
        "from etl.mapping import load_mappings\n"
        "from etl.schemas import validate as v\n"
        "before = sys.getswitchinterval()\n"
        "assert 'pandera' not in sys.modules\n"
        f"[f] = read_inputs((Path({str(SB1)!r}),), load_mappings([bundled_dir('mappings')]))\n"
        "[thread] = v._preloading\n"
        "assert thread.name == 'amili-etl-import-pandera' and not thread.is_alive()\n"
        "assert f.valid.height + f.rejects.height > 0\n"
        "print('pandera.polars' in sys.modules, 'pandas' in sys.modules, sys.getswitchinterval() == before)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "True"]


def test_corrected_rejects_file_is_read_again_in_its_layout(mappings, tmp_path):
    [first] = read_inputs((SB1,), mappings)
    assert first.status == "rejected_rows"  # the sample's own account 12345678901 fails MOD11
    path = write_rejects(first.result.raw, first.rejects, tmp_path / "rejects", first.display)
    assert path.name == "sb1.csv.rejects.csv"
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == (
        "Dato,Beskrivelse,Rentedato,Inn,Ut,Til konto,Fra konto,error_column,error_check,error_message,source_line"
    )
    fixed = tmp_path / "inbox" / "sb1-fixed.csv"
    fixed.parent.mkdir()
    fixed.write_text(text.replace("12345678901", "15062995960"), encoding="utf-8")
    [again] = read_inputs((fixed,), mappings)
    assert (again.status, again.result.layout) == ("ok", "sparebank1")
    assert again.valid["amount_minor"].to_list() == first.result.rows.filter(
        pl.col("source_line").is_in(first.rejects["source_line"].implode())
    )["amount_minor"].to_list()
    assert again.result.raw.columns == first.result.raw.columns  # the old reasons are not part of the row


def test_rejected_invoice_of_a_line_level_export_rejects_every_line(mappings, tmp_path):
    text = (DATA / "invoices" / "tripletex.csv").read_text(encoding="utf-8")
    f = tmp_path / "tt.csv"
    f.write_text(text.replace("1001;2026-11-02;2026-11-16", "1001;2026-11-02;2026-10-16"), encoding="utf-8")
    [o] = read_inputs((f,), mappings)
    bad = o.rejects.filter(pl.col("error_check").str.starts_with("due_date"))
    assert sorted(bad["source_line"].to_list()) == [4, 6]  # both lines of invoice 1001
    path = write_rejects(o.result.raw, o.rejects, tmp_path / "rejects", o.display)
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1 + 3  # 1001 (two lines) and 1002 (bad org no.)


_CONTRACT_KEYS = ["path", "format", "rows", "valid", "rejected", "status", "total_amount", "currency", "message"]


def _validate(args: list[str]) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["validate", "--json", *args])
    return result.exit_code, json.loads(result.output)


def test_validate_json_contract(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("dnb.csv", "sb1.csv"):
        (inbox / name).write_bytes((DATA / "bank_csv" / name).read_bytes())
    (inbox / "invoices.csv").write_bytes((DATA / "invoices" / "visma.csv").read_bytes())
    (inbox / "notes.txt").write_text("nothing to see\n", encoding="utf-8")
    code, out = _validate(["--out", str(tmp_path / "out"), str(inbox)])
    assert code == 3  # a file nobody recognises makes the run incomplete
    assert list(out) == ["files"]
    files = {f["path"]: f for f in out["files"]}
    assert all(list(f) == _CONTRACT_KEYS for f in out["files"])
    assert files["dnb.csv"] == {
        "path": "dnb.csv", "format": "bank_csv", "rows": 4, "valid": 4, "rejected": 0, "status": "ok",
        "total_amount": "8900.60", "currency": "NOK", "message": None,
    }
    sb1 = files["sb1.csv"]
    assert (sb1["rows"], sb1["valid"], sb1["rejected"], sb1["status"]) == (15, 12, 3, "rejected_rows")
    assert sb1["total_amount"] == "-29476.69"  # the net sum of the valid rows only (by hand: all but three Inn)
    inv = files["invoices.csv"]
    assert (inv["format"], inv["status"], inv["total_amount"], inv["rejected"]) == ("invoices_csv", "rejected_rows", None, 1)
    notes = files["notes.txt"]
    assert (notes["format"], notes["status"], notes["rows"]) == (None, "unrecognised", 0)
    assert notes["message"].startswith(f"{inbox / 'notes.txt'}: not a recognised format")
    rejects = sorted(p.name for p in (tmp_path / "out").rglob("*.rejects.csv"))
    assert rejects == ["invoices.csv.rejects.csv", "sb1.csv.rejects.csv"]


@pytest.mark.parametrize(("name", "code"), [("dnb.csv", 0), ("sb1.csv", 1)])
def test_validate_exit_codes(tmp_path, name, code):
    exit_code, out = _validate(["--out", str(tmp_path), str(DATA / "bank_csv" / name)])
    assert exit_code == code and len(out["files"]) == 1


def test_validate_with_config_checks_the_creditors_currency(tmp_path):
    """solkraft-se bills in SEK (the shipped example config): its EUR invoice is rejected for that reason."""
    f = tmp_path / "invoices_solkraft_2026-11-30.csv"
    f.write_bytes((DATA / "invoices" / "visma.csv").read_bytes())
    config = REPO / "sample_data" / "amili-etl.toml"
    code, out = _validate(["--config", str(config), "--out", str(tmp_path / "out"), str(f)])
    assert code == 1 and out["files"][0]["rejected"] == 1
    [rejects] = (tmp_path / "out").rglob("*.rejects.csv")
    assert "currency is not a currency this creditor bills in ('EUR')" in rejects.read_text(encoding="utf-8")


def test_a_bank_export_line_listed_twice_is_caught_by_its_archive_reference(read, mappings, tmp_path):
    text = (DATA / "bank_csv" / "sbanken.csv").read_text(encoding="latin-1")
    lines = text.splitlines()
    f = tmp_path / "sbanken.csv"
    f.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="latin-1")  # line 4 repeats line 2
    [o] = read_inputs((f,), mappings)
    assert _checks(o.rejects) == [(4, "bank_ref", "bank_ref_repeated")]
    assert o.valid["source_line"].to_list() == [2, 3]
    rows = _payments(bank_ref=["A1", "A1"])
    assert validate_rows(rows, "payments", RowRules())[1].height == 0  # camt / OCR: off (refs repeat per entry)
