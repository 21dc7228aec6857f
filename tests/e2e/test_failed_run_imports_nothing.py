"""A run that failed before sending anything (a missing secret) imported nothing: the payments it read are first
seen by the next run that does the work, from whichever export, and are delivered then, never called duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.conftest import SAMPLE, write_sample_config
from tests.e2e.test_run import _run


def _summary(tmp: Path) -> dict:
    return json.loads((sorted((tmp / "reports").iterdir())[-1] / "summary.json").read_text(encoding="utf-8"))


def test_payments_of_a_run_without_secrets_are_not_duplicates_later(tmp_path: Path, sandbox) -> None:
    config = write_sample_config(tmp_path, sandbox.base_url)
    invoices = SAMPLE / "no/invoices_nordlys_2026-11-20.xlsx"
    # The export of the 19th pays invoice 100013; the export of the 20th repeats that row (line 5).
    first, second = SAMPLE / "no/sparebank1_2026-11-19.csv", SAMPLE / "no/sparebank1_2026-11-20.csv"
    failed = _run(config, "--invoices", str(invoices), "--bank", str(first), secrets=False)
    assert failed.returncode == 2 and "AMILI_NO_CLIENT_ID" in failed.stderr, failed.stderr

    done = _run(config, "--invoices", str(invoices), "--bank", str(second))
    assert done.returncode == 1, done.stdout + done.stderr  # the sample invoice file has a planted invalid row
    summary = _summary(tmp_path)
    assert "duplicate_payment" not in summary["counts"], summary["counts"]
    ledger = httpx.get(f"{sandbox.base_url}/_sandbox/ledger").json()["items"]
    assert "676.38" in {i["amount"] for i in ledger if i["api"] == "arm.paymentreservations"}  # 100013, delivered

    # Now the export of the 19th is imported: its row is the one the export of the 20th brought first.
    later = _run(config, "--bank", str(first))
    assert later.returncode == 1 and _summary(tmp_path)["counts"].get("duplicate_payment") == 1, later.stdout
    after = httpx.get(f"{sandbox.base_url}/_sandbox/ledger").json()["items"]
    assert [i["amount"] for i in after if i["api"] == "arm.paymentreservations"].count("676.38") == 1  # not twice
