"""`run` and the history: a file imported before is skipped with a note; a dry run imports nothing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import SAMPLE
from tests.ops.support import SAMPLE_ITEMS, assert_each_key_once, cli, ledger, write_config


def _summary(tmp: Path, run_id: str) -> dict:
    return json.loads((tmp / "reports" / run_id / "summary.json").read_text(encoding="utf-8"))


def _latest(config: Path) -> dict:
    return json.loads(cli("runs", "--json", "--limit", "1", "--config", str(config)).stdout)


def test_imported_files_are_skipped_with_a_note_and_a_dry_run_imports_nothing(tmp_path: Path, sandbox) -> None:
    config = write_config(tmp_path, sandbox.base_url)
    dry = cli("run", "--dry-run", "--config", str(config), "--bank", str(SAMPLE))
    assert dry.returncode == 1, dry.stdout + dry.stderr

    real = cli("run", "--config", str(config), "--bank", str(SAMPLE))
    assert real.returncode == 1, real.stdout + real.stderr
    first = _latest(config)
    assert len(_summary(tmp_path, first["run_id"])["files"]) == 6 and first["files"] == 6
    assert first["confirmed"] == SAMPLE_ITEMS and first["open"] == 0

    again = cli("run", "--config", str(config), "--bank", str(SAMPLE))
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count(f"already imported by run {first['run_id']} (--force reads it again)") == 6
    # Yesterday's files seen again: one clear line, exit 0, and a status that does not claim a checked, clean run.
    assert f"nothing new: 6 file(s) already imported by run {first['run_id']}; nothing was read or sent" in again.stdout
    summary = _summary(tmp_path, _latest(config)["run_id"])
    assert summary["files"] == [] and len(summary["skipped"]) == 6
    assert summary["status"] == "nothing_new" and _latest(config)["status"] == "nothing_new"
    assert set(summary["sent"].values()) == {0}
    # Nothing was left unchecked by it: the month-end does not call it an incomplete run.
    nothing_new = _latest(config)["run_id"]
    period = f"{nothing_new[:4]}-{nothing_new[4:6]}"
    month = cli("reconcile", "--config", str(config), "--period", period, "--no-readback", "--out", str(tmp_path / "m"))
    assert month.returncode in (1, 3), month.stdout + month.stderr
    because = json.loads((tmp_path / "m" / f"period-{period}" / "summary.json").read_text(encoding="utf-8"))["totals"]
    assert nothing_new not in json.dumps(because.get("incomplete_because", {}))

    shown = cli("show", "--config", str(config), first["run_id"][:18])  # a unique prefix will do
    assert shown.returncode == 0 and f"run {first['run_id']}: discrepancies (exit 1)" in shown.stdout
    assert "workbook" in shown.stdout and "log " in shown.stdout
    table = cli("runs", "--config", str(config))
    assert table.stdout.splitlines()[0].split()[:3] == ["run", "id", "started"]
    assert len(table.stdout.splitlines()) == 4  # the header and three runs
    assert first["run_id"] in table.stdout
    unknown = cli("show", "--config", str(config), "nope")
    assert unknown.returncode == 2 and "no run 'nope'" in unknown.stderr
    assert_each_key_once(ledger(sandbox.base_url))
