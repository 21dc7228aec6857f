"""`amili-etl run` in its own process against a sandbox on loopback: report rows and the ledger agree."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import SAMPLE, write_sample_config




def _run(config: Path, *args: str, secrets: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMILI_")}
    if secrets:
        env.update(AMILI_NO_CLIENT_ID="sandbox", AMILI_NO_CLIENT_SECRET="sandbox", AMILI_SE_ADA_API_CODE="sandbox")
    return subprocess.run([sys.executable, "-m", "etl", "run", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def _latest_run(tmp: Path) -> Path:
    return sorted((tmp / "reports").iterdir())[-1]


def test_run_delivers_each_key_exactly_once_and_reports_it(tmp_path: Path, sandbox) -> None:
    config = write_sample_config(tmp_path, sandbox.base_url)
    proc = _run(config, "--invoices", str(SAMPLE / "no"), "--invoices", str(SAMPLE / "se"))
    assert proc.returncode == 1, proc.stdout + proc.stderr

    run_dir = _latest_run(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    ledger = httpx.get(f"{sandbox.base_url}/_sandbox/ledger").json()["items"]
    assert all(i["accepted"] == 1 for i in ledger)
    by_api: dict[str, int] = {}
    for i in ledger:
        by_api[i["api"]] = by_api.get(i["api"], 0) + 1
    assert by_api == {api: n for api, n in summary["sent"].items() if n}

    with (run_dir / "discrepancies.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    ledger_keys = {i["key"] for i in ledger}
    # A payment reported unmatched or duplicate was not sent; the overpayment was sent with what was paid.
    unmatched = next(r for r in rows if r["category"] == "unmatched_payment")
    over = next(r for r in rows if r["category"] == "overpayment")
    assert unmatched["amount"] not in {i["amount"] for i in ledger if i["api"] == "arm.paymentreservations"}
    assert over["amount"] in {i["amount"] for i in ledger if i["api"] == "arm.paymentreservations"}
    assert len(ledger_keys) == len(ledger)

    # --force: the same files were imported by the first run; without it they are skipped with a note.
    again = _run(config, "--force", "--invoices", str(SAMPLE / "no"), "--bank", str(SAMPLE / "se"))
    assert again.returncode == 1, again.stdout + again.stderr
    assert set(json.loads((_latest_run(tmp_path) / "summary.json").read_text())["sent"].values()) == {0}
    assert httpx.get(f"{sandbox.base_url}/_sandbox/ledger").json()["items"] == ledger


def test_dry_run_sends_nothing(tmp_path: Path, sandbox) -> None:
    config = write_sample_config(tmp_path, sandbox.base_url)
    proc = _run(config, "--dry-run", "--bank", str(SAMPLE))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "dry run: nothing was sent; would send: " in proc.stdout
    assert "arm.paymentreservations 14" in proc.stdout
    assert httpx.get(f"{sandbox.base_url}/_sandbox/ledger").json()["items"] == []


def test_missing_secret_is_one_line_exit_2(tmp_path: Path, sandbox) -> None:
    config = write_sample_config(tmp_path, sandbox.base_url)
    proc = _run(config, "--bank", str(SAMPLE), secrets=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert "AMILI_NO_CLIENT_ID" in proc.stderr


def test_unreachable_amili_exits_75_and_a_rerun_delivers(tmp_path: Path, sandbox) -> None:
    config = write_sample_config(tmp_path, "http://127.0.0.1:9")  # discard port: connection refused
    text = config.read_text().replace("max_attempts = 6", "max_attempts = 2").replace("max_retry_time_s = 60", "max_retry_time_s = 2")
    config.write_text(text)
    proc = _run(config, "--bank", str(SAMPLE))
    assert proc.returncode == 75, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    # The same state, now pointed at a live sandbox: everything is delivered, nothing lost.
    config.write_text(text.replace("http://127.0.0.1:9", sandbox.base_url))
    proc2 = _run(config, "--bank", str(SAMPLE))
    assert proc2.returncode == 1, proc2.stdout + proc2.stderr
    assert len(httpx.get(f"{sandbox.base_url}/_sandbox/ledger").json()["items"]) == 23 + 14 + 12  # one camt.054 payment pays two invoices: two ADA payments


def test_a_line_level_invoice_export_sends_its_lines_as_document_lines(tmp_path: Path, sandbox) -> None:
    """A Tripletex export (one row per invoice line) becomes ARM documents carrying documentLines, accepted."""
    import duckdb
    import orjson

    from tests.conftest import DATA

    config = write_sample_config(tmp_path, sandbox.base_url)
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "invoices_nordlys_2026-11-21.csv").write_bytes((DATA / "invoices" / "tripletex.csv").read_bytes())
    proc = _run(config, "--invoices", str(inbox))
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr

    docs = {i["key"]: i for i in httpx.get(f"{sandbox.base_url}/_sandbox/ledger").json()["items"]
            if i["api"] == "arm.documents"}
    assert sorted(docs) == ["1000", "1001"]  # the ledger keys documents by documentNo; 1002's organisation number fails its check: rejected
    assert all(d["accepted"] == 1 for d in docs.values())
    with duckdb.connect(str(tmp_path / "state.duckdb"), read_only=True) as con:
        payloads = dict(con.sql("SELECT key, payload FROM outbox WHERE api = 'arm.documents'").fetchall())
    first = orjson.loads(payloads["2218:1000"])
    assert [ln["lineText"] for ln in first["documentLines"]] == ["Konsulenttimer", "Kaffe"]
    assert first["documentLines"][0] == {
        "articleName": "", "articleNo": "", "currencyAmounts": {"exclVat": 9000.0, "inclVat": 11250.0, "vat": 2250.0},
        "lineNo": 1, "lineText": "Konsulenttimer", "lineType": "PLH", "price": 1200.0, "quantity": 7.5,
        "quantityUnit": ""}
    # Lines in line order, not file order (1001's second line is the file's last row).
    assert [ln["lineText"] for ln in orjson.loads(payloads["2218:1001"])["documentLines"]] == ["Kinobilletter", "Porto"]
    cents = [round(ln["currencyAmounts"]["inclVat"] * 100) for ln in first["documentLines"]]
    assert sum(cents) == round(first["currencyAmounts"]["inclVat"] * 100)  # the lines add up to the document
