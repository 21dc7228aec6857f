"""`--creditor NAME` and `{creditor}` in the state, output and log paths: each creditor of a multi-creditor file
runs on its own state file, alone, and the rest of the file is left untouched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import SAMPLE
from tests.ops.support import cli, cli_env, ledger, write_config

NO_ITEMS = 23 + 14  # the Norwegian sample's ARM documents and payment reservations


def _per_creditor_config(tmp: Path, base_url: str) -> Path:
    """The sample config (two creditors) with one state file and one report folder per creditor."""
    path = write_config(tmp, base_url)
    text = path.read_text(encoding="utf-8")
    text = text.replace(str(tmp / "state" / "amili-etl.duckdb"), str(tmp / "state" / "{creditor}.duckdb"))
    path.write_text(text.replace(f'"{tmp / "reports"}"', f'"{tmp / "reports" / "{creditor}"}"'), encoding="utf-8")
    return path


def test_run_one_creditor_of_a_multi_creditor_file(tmp_path: Path, sandbox) -> None:
    config = _per_creditor_config(tmp_path, sandbox.base_url)
    # Without --creditor the placeholder cannot be filled: one line naming the creditors, exit 2, nothing sent.
    refused = cli("run", "--config", str(config), "--bank", str(SAMPLE / "no"))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "pass --creditor NAME (one of nordlys-no, solkraft-se)" in refused.stderr
    assert refused.stderr.strip().count("\n") == 0 and "Traceback" not in refused.stderr
    unknown = cli("run", "--config", str(config), "--creditor", "nordlys", "--bank", str(SAMPLE / "no"))
    assert unknown.returncode == 2 and "--creditor 'nordlys': no such creditor" in unknown.stderr

    # The whole sample given, but only nordlys-no runs: its own state file and report folder; Swedish payments
    # belong to no creditor of this run and are reported, never sent.
    proc = cli("run", "--config", str(config), "--creditor", "nordlys-no", "--bank", str(SAMPLE))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert sorted(p.name for p in (tmp_path / "state").glob("*.duckdb")) == ["nordlys-no.duckdb"]
    [run_dir] = (tmp_path / "reports" / "nordlys-no").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in summary["sent"].items() if v} == {"arm.documents": 23, "arm.paymentreservations": 14}
    items = ledger(sandbox.base_url)
    assert len(items) == NO_ITEMS and {i["api"] for i in items} == {"arm.documents", "arm.paymentreservations"}

    # The other creditor then runs on its own state file, while nordlys-no's history stays its own.
    se = cli("run", "--config", str(config), "--creditor", "solkraft-se", "--bank", str(SAMPLE / "se"))
    assert se.returncode in (0, 1), se.stdout + se.stderr
    assert sorted(p.name for p in (tmp_path / "state").glob("*.duckdb")) == ["nordlys-no.duckdb", "solkraft-se.duckdb"]
    assert len(ledger(sandbox.base_url)) == NO_ITEMS + 12  # 11 camt.054 payments, one of them for two invoices
    # The history commands ask which creditor's state file they are to read.
    assert cli("runs", "--config", str(config)).returncode == 2
    history = cli("runs", "--json", "--config", str(config), "--creditor", "solkraft-se")
    assert history.returncode == 0, history.stdout + history.stderr
    [only] = [json.loads(line) for line in history.stdout.splitlines()]
    [se_run] = (tmp_path / "reports" / "solkraft-se").iterdir()
    assert only["run_id"] == se_run.name


def test_a_creditor_name_never_leaves_its_folder(tmp_path: Path) -> None:
    config = tmp_path / "amili-etl.toml"
    config.write_text('[state]\npath = "state/{creditor}.duckdb"\n\n[[creditor]]\nname = "../evil"\ncountry = "NO"\n',
                      encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "etl", "reconcile", "--config", str(config), "--period", "2026-11",
                           "--no-readback"], capture_output=True, text=True, env=cli_env(), timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cannot fill {creditor}" in proc.stderr
    assert not (tmp_path / "evil.duckdb").exists() and not (tmp_path / "state").exists()
