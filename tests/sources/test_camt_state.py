"""Statement balances (camt.053, MT940) and extra references (BgMax, camt) reach the state database in a run."""

from __future__ import annotations

from pathlib import Path

import duckdb
from click.testing import CliRunner

from etl.cli import cli
from tests.conftest import SAMPLE

from .conftest import DATA


def test_dry_run_stores_statement_balances_and_extra_references(tmp_path: Path, run_config: Path) -> None:
    config = run_config
    banks = [
        DATA / "camt053" / "camt_053_swedish_account_statement.xml",
        DATA / "mt940" / "rabobank-iban.sta",
        DATA / "bgmax" / "BgMaxfil4.txt",
        DATA / "camt054" / "camt054.v2.xml",
    ]
    args = ["run", "--config", str(config), "--dry-run", "--invoices", str(SAMPLE / "se")]
    for bank in banks:
        args += ["--bank", str(bank)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (1, 3), result.output  # discrepancies (and the camt054 rows without amounts)
    with duckdb.connect(str(tmp_path / "state.duckdb"), read_only=True) as con:
        balances = con.sql(
            "SELECT statement_id, account, currency, opening_minor, entries_minor, closing_minor, entries, "
            "opening_date::VARCHAR, closing_date::VARCHAR FROM statement_balances ORDER BY source_file, source_line"
        ).fetchall()
        refs = con.sql(
            "SELECT format, source_line, extra_references FROM payments "
            "WHERE extra_references IS NOT NULL ORDER BY format, source_file, source_line"
        ).fetchall()
    assert balances == [
        ("Statement ID 1", "123456789", "SEK", 21_945_660, 1_194_720, 23_140_380, 4, "2012-12-01", "2012-12-03"),
        ("Statement ID 2", "222333444", "SEK", 52_794_132, 0, 52_794_132, 0, "2012-12-01", "2012-12-03"),
        ("Statement ID 3", "45678910", "NOK", -9_648_398, -15_525_900, -25_174_298, 1, "2012-12-01", "2012-12-03"),
        ("940S130101", "NL71RABO0123456789", "EUR", 100_000, -3_500, 96_500, 2, "2013-01-01", "2013-01-08"),
        ("940S130101", "NL71RABO0123456789", "EUR", 96_500, -3_500, 93_000, 2, "2013-01-08", "2013-01-15"),
    ]
    bgmax = [r for r in refs if r[0] == "bgmax" and r[1] in (3, 41)]
    assert bgmax == [("bgmax", 3, "665760;665869;665661;657775"), ("bgmax", 41, "7495575;695668;8988777;74450")]
    assert ("mt940", 6, "EREF") in refs
