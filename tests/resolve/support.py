"""The accountant's side of resolve: a real run's discrepancies.csv filled in (as the reports write the resolution
columns), the CLI in its own process, the sandbox's ledger."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import httpx

from tests.conftest import SAMPLE, write_sample_config

RESOLUTION = ("break_key", "action", "action_invoice", "action_note")
PERIOD = "2026-11"  # the sample's payments were booked in November 2026


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """amili-etl in its own process, with the sample's credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMILI_")}
    env.update(AMILI_NO_CLIENT_ID="sandbox", AMILI_NO_CLIENT_SECRET="sandbox", AMILI_SE_ADA_API_CODE="sandbox",
               USER="kari")
    return subprocess.run([sys.executable, "-m", "etl", *args], capture_output=True, text=True, env=env, timeout=300)


def first_run(tmp: Path, base_url: str) -> tuple[Path, Path]:
    """The sample run against the sandbox (it finds breaks: exit 1); (config, its run folder)."""
    config = write_sample_config(tmp, base_url)
    proc = cli("run", "--config", str(config), "--bank", str(SAMPLE))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    folder = next(p for p in (tmp / "reports").iterdir() if (p / "discrepancies.csv").is_file())
    return config, folder


def report_rows(folder: Path, state: Path) -> list[dict[str, str]]:
    """discrepancies.csv as the accountant opens it: the resolution columns after `difference`, break_key filled."""
    with (folder / "discrepancies.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0])[-4:] == list(RESOLUTION), list(rows[0]) if rows else "no rows"
    assert all(r["break_key"] and not (r["action"] or r["action_invoice"] or r["action_note"]) for r in rows)
    return rows


def write_filled(path: Path, rows: list[dict[str, str]]) -> Path:
    """The filled file: the contract columns in order, then difference and the resolution columns."""
    columns = [c for c in rows[0] if c not in RESOLUTION] + list(RESOLUTION)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    return path


def fill(rows: list[dict[str, str]], category: str, **values: str) -> dict[str, str]:
    """Fill the first row of `category`; returns it."""
    row = next(r for r in rows if r["category"] == category)
    row.update(values)
    return row


def ledger(base_url: str) -> list[dict[str, Any]]:
    """Everything the sandbox holds."""
    return httpx.get(f"{base_url}/_sandbox/ledger", timeout=30).json()["items"]


def read_csv(path: Path) -> list[dict[str, str]]:
    """A CSV written by resolve."""
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def state_rows(state: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on the state file (read-only)."""
    con = duckdb.connect(str(state), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def store_break(state: Path, category: str, key: str, amount_minor: int, currency: str,
                invoice_number: str | None = None, expected_minor: int | None = None) -> None:
    """One discrepancy of run r1 (bank.txt line 1) as reconcile_run stores it."""
    con = duckdb.connect(str(state))
    try:
        con.execute("INSERT INTO discrepancies (run_id, category, severity, source_file, source_line, invoice_number, "
                    "amount_minor, currency, expected_minor, stable_key) VALUES ('r1', ?, 'warning', 'bank.txt', 1, "
                    "?, ?, ?, ?, ?)", [category, invoice_number, amount_minor, currency, expected_minor, key])
    finally:
        con.close()


def one_row(path: Path, category: str, key: str, action: str, invoice: str, note: str) -> Path:
    """A filled file of one row, with only the columns resolve reads."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["category", "break_key", "action", "action_invoice", "action_note"],
                                  [category, key, action, invoice, note]])
    return path
