"""`amili-etl reconcile --period` in its own process, reading Amili back from the sandbox over real HTTP."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import SAMPLE, write_sample_config

def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMILI_")}
    env.update(AMILI_NO_CLIENT_ID="sandbox", AMILI_NO_CLIENT_SECRET="sandbox", AMILI_SE_ADA_API_CODE="sandbox")
    return subprocess.run([sys.executable, "-m", "etl", *args], capture_output=True, text=True, env=env, timeout=300)


def _rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "discrepancies.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_month_end_reads_amili_back_and_finds_unknown_and_missing(tmp_path: Path, sandbox) -> None:
    config = write_sample_config(tmp_path, sandbox.base_url)
    assert _cli("run", "--config", str(config), "--bank", str(SAMPLE)).returncode == 1
    period = "2026-11"  # the sample's payments were booked in November 2026 (the month has ended: checked in full)
    out = tmp_path / "month"

    first = _cli("reconcile", "--config", str(config), "--period", period, "--out", str(out))
    assert first.returncode == 1, first.stdout + first.stderr
    assert "Traceback" not in first.stderr
    folder = out / f"period-{period}"
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["run_id"] == f"period-{period}" and summary["status"] == "discrepancies"
    assert "missing_in_amili" not in summary["counts"] and "unknown_in_amili" not in summary["counts"]
    # ARM documents and ADA creditor payments (one camt.054 payment pays two invoices: two ADA payments); the sandbox
    # books its payouts on the day it pays out (today, after November): they are the payout month's to judge.
    assert summary["totals"]["readback_items"] == 23 + 12
    assert summary["counts"]["unmatched_payment"] == 1 and summary["counts"]["unpaid_invoice"] >= 1
    assert {r["category"] for r in _rows(folder)} == set(summary["counts"])

    # Someone registers a payment for our creditor in Amili by hand: unknown to us.
    base = sandbox.base_url
    token = httpx.post(f"{base}/ada/authenticates/api-code", json={"api_code": "sandbox"}).json()["access_token"]
    posted = httpx.post(f"{base}/ada/creditor--payments", headers={"X-API-Key": token}, json={
        "creditor": "674dbeb208847b9501cc9138", "invoice_number": "705011", "currency": "SEK", "amount": 100.5,
        "bank_transaction_date": dt.date(2026, 11, 25).strftime("%a, %d %b %Y 00:00:00 GMT"),
        "origin": "creditor_system", "creditor_payment_reference": "BY-HAND-1"})
    assert posted.status_code == 201, posted.text
    second = _cli("reconcile", "--config", str(config), "--period", period, "--out", str(out))
    unknown = [r for r in _rows(folder) if r["category"] == "unknown_in_amili"]
    assert second.returncode == 1 and [(u["amount"], u["api"]) for u in unknown] == [("100.50", "ada.creditor-payments")]

    # Amili loses everything (a reset): every item it confirmed is now missing.
    httpx.post(f"{base}/_sandbox/reset")
    _cli("reconcile", "--config", str(config), "--period", period, "--out", str(out))
    missing = [r for r in _rows(folder) if r["category"] == "missing_in_amili"]
    assert len(missing) == 23 + 12  # documents and ADA creditor payments (two of them one payment's per-invoice parts)
    assert all(r["source_file"] and r["source_line"] for r in missing)  # lineage back to the file and line

    # Without reading Amili back nothing of that can be checked: the month is incomplete, never clean.
    blind = _cli("reconcile", "--config", str(config), "--period", period, "--out", str(out), "--no-readback")
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert blind.returncode == 3 and summary["status"] == "incomplete", blind.stdout + blind.stderr
    assert set(summary["totals"]["incomplete_because"]) == {"readback"}
    assert "incomplete: Amili not read back (--no-readback)" in blind.stdout


def test_bad_period_is_one_line_exit_2(tmp_path: Path, sandbox) -> None:
    proc = _cli("reconcile", "--config", str(write_sample_config(tmp_path, sandbox.base_url)), "--period", "11-2026")
    assert proc.returncode == 2 and "expected YYYY-MM" in proc.stderr and "Traceback" not in proc.stderr
