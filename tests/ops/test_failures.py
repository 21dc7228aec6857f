"""Failures say so (issue 14, item 6): a corrupt or truncated state file, a full disk (state or --out), a state file
deleted during a run, a lock held by another run: one line naming the path, exit 70 (75 for the lock), the run
recorded `failed` where the state is writable, no temporary file left, nothing half-written counted as done.

Full disks are real: a small tmpfs mounted for the test (needs root; skipped otherwise), or RLIMIT_FSIZE in the
CLI's own process, which makes every write past the limit fail with EFBIG exactly as a full disk fails with ENOSPC
(runs anywhere). Every event is observed, never timed: the state file is deleted by the sandbox's request hook on
Amili's first API request, and the other run's lock is held by a process that says so before the second starts.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl.sandbox import EmbeddedSandbox, SandboxConfig
from etl.store import open_store
from tests.conftest import SAMPLE
from tests.ops.support import cli, cli_env, fill_inbox, ledger, write_config

_TEMP_SUFFIXES = (".tmp", ".tmp.xlsx", ".splice", ".partial")


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    # Delivery's progress lines (JSON) may precede it: the error itself is one line.
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("{")]
    assert len(lines) == 1, stderr
    return lines[0]


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name.endswith(_TEMP_SUFFIXES)]


def _runs(config: Path) -> list[dict[str, object]]:
    proc = cli("runs", "--json", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _summary_of(state: Path, run_id: str) -> dict[str, object]:
    with open_store(state) as store:
        row = store.execute("SELECT summary FROM runs WHERE run_id = ?", [run_id]).fetchone()
    return json.loads(row[0])


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs at tmp_path/disk, unmounted afterwards (skipped where mounting needs privileges we lack)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("a real small disk needs root (mount -t tmpfs)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def _fill(disk: Path) -> None:
    """Fill `disk` to the last byte."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                continue
    finally:
        os.close(fd)


def _real_state(tmp: Path) -> Path:
    """A state file with the schema and a run recorded (checkpointed, closed)."""
    state = tmp / "state" / "amili-etl.duckdb"
    with open_store(state) as store:
        store.execute("INSERT INTO runs (run_id, started_at, mode, status) VALUES ('R0', now(), 'run', 'clean')")
        store.execute("CHECKPOINT")
    return state


@pytest.mark.parametrize("damage", ["truncated", "garbage", "cut_header"])
def test_a_corrupt_or_truncated_state_file_is_one_line_and_exit_70(tmp_path: Path, damage: str) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9")
    state = _real_state(tmp_path)
    data = state.read_bytes()
    state.write_bytes({"truncated": data[: len(data) // 2], "garbage": os.urandom(len(data)),
                       "cut_header": data[:3000]}[damage])
    for args in (["run", "--bank", str(SAMPLE / "no")], ["runs"], ["inbox", str(tmp_path / "inbox")]):
        (tmp_path / "inbox").mkdir(exist_ok=True)
        proc = cli(*args, "--config", str(config))
        assert proc.returncode == 70, (args, proc.stdout, proc.stderr)
        line = _one_line(proc.stderr)
        assert str(state) in line and "corrupt or truncated" in line, line
    assert not _leftovers(tmp_path)


def test_state_on_a_full_disk_is_exit_70(tmp_path: Path, small_disk: Path) -> None:
    with EmbeddedSandbox(SandboxConfig(seed_file=SAMPLE / "sandbox_seed.json")) as sb:
        config = write_config(tmp_path, sb.base_url)
        text = config.read_text().replace(str(tmp_path / "state"), str(small_disk / "state"))
        config.write_text(text)
        state = small_disk / "state" / "amili-etl.duckdb"
        _real_state(small_disk)
        _fill(small_disk)
        proc = cli("run", "--bank", str(SAMPLE / "no"), "--invoices", str(SAMPLE / "no"), "--config", str(config))
        assert proc.returncode == 70, (proc.stdout, proc.stderr)
        line = _one_line(proc.stderr)
        assert str(state) in line and "disk is full" in line, line
    assert not _leftovers(tmp_path) and not _leftovers(small_disk)


def _limited(limit: int) -> None:
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing us
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_state_that_cannot_grow_is_exit_70_anywhere(tmp_path: Path) -> None:
    """RLIMIT_FSIZE: the portable full disk. A fresh state cannot be created past 64 KB."""
    config = write_config(tmp_path, "http://127.0.0.1:9")
    proc = subprocess.run([sys.executable, "-m", "etl", "runs", "--config", str(config)], capture_output=True, text=True,
                          env=cli_env(), preexec_fn=lambda: _limited(64 * 1024), timeout=120)
    assert proc.returncode in (2, 70), proc.stderr  # runs: no state yet is a usage error
    (tmp_path / "inbox").mkdir()
    proc = subprocess.run([sys.executable, "-m", "etl", "run", "--bank", str(SAMPLE / "no"), "--config", str(config)],
                          capture_output=True, text=True, env=cli_env(), preexec_fn=lambda: _limited(64 * 1024),
                          timeout=120)
    assert proc.returncode == 70, (proc.stdout, proc.stderr)
    line = _one_line(proc.stderr)
    assert "amili-etl.duckdb" in line and "disk is full" in line, line


def test_out_on_a_full_disk_is_exit_70_the_run_failed_and_no_temporary_file(tmp_path: Path, small_disk: Path) -> None:
    with EmbeddedSandbox(SandboxConfig(seed_file=SAMPLE / "sandbox_seed.json")) as sb:
        config = write_config(tmp_path, sb.base_url)
        inbox = tmp_path / "inbox"
        fill_inbox(inbox)
        out = small_disk / "reports"
        out.mkdir()
        _fill(small_disk)
        proc = cli("run", "--bank", str(inbox), "--out", str(out), "--config", str(config))
        assert proc.returncode == 70, (proc.stdout, proc.stderr)
        line = _one_line(proc.stderr)
        assert str(out) in line and "disk is full" in line, line
        assert not _leftovers(small_disk)
        assert not list(out.rglob("summary.json"))  # nothing half-written looks finished
        runs = _runs(config)
        assert runs[0]["status"] == "failed" and runs[0]["exit_code"] == 70
        reason = _summary_of(tmp_path / "state" / "amili-etl.duckdb", str(runs[0]["run_id"]))["error"]
        assert "disk is full" in str(reason)
        sent = len(ledger(sb.base_url))
        # Space again: the files of the failed run were not counted as imported; nothing goes twice.
        (small_disk / "filler").unlink()
        again = cli("run", "--bank", str(inbox), "--out", str(tmp_path / "reports"), "--config", str(config))
        assert again.returncode == 1, (again.stdout, again.stderr)
        assert "skipped" not in again.stdout
        assert len(ledger(sb.base_url)) == sent


def test_a_state_file_deleted_during_the_run_is_exit_70(tmp_path: Path) -> None:
    state = tmp_path / "state" / "amili-etl.duckdb"
    deleted: list[str] = []

    def delete_state(stage: str, method: str, path: str) -> None:
        if stage == "processed" and not deleted and state.exists():
            state.unlink()  # on Amili's first API request: the run is delivering
            deleted.append(path)

    with EmbeddedSandbox(SandboxConfig(seed_file=SAMPLE / "sandbox_seed.json"), hook=delete_state) as sb:
        config = write_config(tmp_path, sb.base_url)
        fill_inbox(tmp_path / "inbox")
        proc = cli("run", "--bank", str(tmp_path / "inbox"), "--config", str(config))
    assert deleted, "the run reached Amili"
    assert proc.returncode == 70, (proc.stdout, proc.stderr)
    line = _one_line(proc.stderr)
    assert str(state) in line and "deleted during the run" in line, line
    assert not _leftovers(tmp_path) and not list((tmp_path / "reports").rglob("summary.json"))


def test_a_state_file_replaced_during_the_run_is_exit_70(tmp_path: Path) -> None:
    state = tmp_path / "state" / "amili-etl.duckdb"
    done: list[str] = []

    def replace_state(stage: str, method: str, path: str) -> None:
        if stage == "processed" and not done:
            copy = state.with_name("copy.duckdb")
            shutil.copy2(state, copy)
            os.replace(copy, state)  # same name, another file (a restore from backup while running)
            done.append(path)

    with EmbeddedSandbox(SandboxConfig(seed_file=SAMPLE / "sandbox_seed.json"), hook=replace_state) as sb:
        config = write_config(tmp_path, sb.base_url)
        fill_inbox(tmp_path / "inbox")
        proc = cli("run", "--bank", str(tmp_path / "inbox"), "--config", str(config))
    assert done and proc.returncode == 70, (proc.stdout, proc.stderr)
    assert "replaced during the run" in _one_line(proc.stderr)


_HOLDER = """
import sys, time
from pathlib import Path
from etl.inbox import state_lock
with state_lock(Path(sys.argv[1]), 0):
    print("holding", flush=True)
    sys.stdin.readline()
"""


def test_a_second_run_while_another_holds_the_lock_is_exit_75_naming_its_pid(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", inbox="lock_wait_s = 0\nsettle_s = 0")
    state = tmp_path / "state" / "amili-etl.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(state)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=cli_env())
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        for args in (["run", "--bank", str(SAMPLE / "no")], ["run", "--dry-run", "--bank", str(SAMPLE / "no")]):
            proc = cli(*args, "--config", str(config))
            assert proc.returncode == 75, (proc.stdout, proc.stderr)
            line = _one_line(proc.stderr)
            assert "holds the lock" in line and f"pid {holder.pid}" in line, line
        assert not state.exists()  # nothing was touched
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)


def test_the_state_held_open_by_another_process_is_exit_75(tmp_path: Path) -> None:
    """`runs` while another process holds the DuckDB file itself: 75 with its pid, not DuckDB's raw message."""
    config = write_config(tmp_path, "http://127.0.0.1:9")
    state = _real_state(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                               "print('open', flush=True); sys.stdin.readline()", str(state)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        proc = cli("runs", "--config", str(config))
        assert proc.returncode == 75, (proc.stdout, proc.stderr)
        line = _one_line(proc.stderr)
        assert str(state) in line and f"pid {holder.pid}" in line and "duckdb.org" not in line, line
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)


