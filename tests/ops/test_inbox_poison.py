"""A poison file never stops the night (issue 14): the inbox goes on past it, and a file an earlier run died
reading goes to failed/ instead of killing the next night too. Real files, `amili-etl inbox` in its own process."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from etl.sources.isolate import MARK_DIR
from tests.ops.support import cli, cli_env, fill_inbox, write_config
from tests.sources.hostile_files import far_cell, zip_bomb


def _archive_day() -> str:
    return dt.datetime.now(dt.timezone.utc).astimezone().date().isoformat()


def _config(tmp_path: Path, base_url: str, reading: str) -> Path:
    config = write_config(tmp_path, base_url)
    config.write_text(config.read_text(encoding="utf-8").replace("[http]\n", f"[reading]\n{reading}\n\n[http]\n", 1),
                      encoding="utf-8")
    return config


def test_poison_workbooks_fail_and_the_good_files_go_on(tmp_path: Path, sandbox) -> None:
    config = _config(tmp_path, sandbox.base_url, "max_ratio = 100\nmax_uncompressed_mb = 5")
    box = tmp_path / "inbox"
    names = fill_inbox(box)
    far_cell(box / "far.xlsx")
    zip_bomb(box / "bomb.xlsx", 8)

    night = cli("inbox", "--config", str(config), str(box))
    assert night.returncode == 3, night.stdout + night.stderr
    assert "Traceback" not in night.stderr and "panicked" not in night.stderr
    archive = box / "archive" / _archive_day()
    assert sorted(p.name for p in archive.iterdir()) == sorted(names)
    far = (box / "failed" / "far.xlsx.error.txt").read_text(encoding="utf-8")
    assert "XFD" in far and "max_columns" in far
    bomb = (box / "failed" / "bomb.xlsx.error.txt").read_text(encoding="utf-8")
    assert "max_ratio" in bomb or "max_uncompressed_mb" in bomb
    runs = cli("runs", "--config", str(config))
    assert runs.returncode == 0 and "no runs" not in runs.stdout, runs.stdout


def test_a_reader_that_crashes_fails_its_file_only(tmp_path: Path, sandbox) -> None:
    """The guard's bounds opened up in the config: the far-cell workbook really aborts the Excel reader."""
    config = _config(tmp_path, sandbox.base_url, "max_columns = 16384\nmax_cells = 100000000000000")
    box = tmp_path / "inbox"
    names = fill_inbox(box)
    far_cell(box / "far.xlsx")

    night = cli("inbox", "--config", str(config), str(box))
    assert night.returncode == 3, night.stdout + night.stderr
    assert sorted(p.name for p in (box / "archive" / _archive_day()).iterdir()) == sorted(names)
    why = (box / "failed" / "far.xlsx.error.txt").read_text(encoding="utf-8")
    assert "the Excel reader crashed (SIGABRT, signal 6) reading this file" in why


# Put on the inbox's PYTHONPATH, this makes its reading child stop itself (SIGSTOP) before it reads anything:
# the run then waits on it, its "reading started" marker set, for as long as the test likes. No race with the
# child's start-up, however fast or slow the machine.
_STOP_THE_READER = """
import os, signal, sys
if sys.orig_argv[1:3] == ["-m", "etl.sources.isolate"]:
    os.kill(os.getpid(), signal.SIGSTOP)
"""


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _stopped(pid: int) -> bool:
    """True when the process is stopped (state T in /proc/PID/stat)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
    except (OSError, IndexError):
        return False


def test_a_run_killed_while_reading_a_file_fails_it_the_next_night(tmp_path: Path, sandbox) -> None:
    """The first night is SIGKILLed while its reading child holds far.xlsx: the child stops itself before reading
    (a sitecustomize on its path), so the run waits on it with the file's "reading started" marker set; then the
    run is killed. The second night puts far.xlsx in failed/ unread and reads the other files."""
    config = _config(tmp_path, sandbox.base_url, "max_columns = 16384\nmax_cells = 100000000000000\ntimeout_s = 600")
    box = tmp_path / "inbox"
    names = fill_inbox(box)
    far_cell(box / "far.xlsx")  # the only workbook: the first thing the reading child is asked is to sniff it
    stopper = tmp_path / "stop-the-reader"
    stopper.mkdir()
    (stopper / "sitecustomize.py").write_text(_STOP_THE_READER, encoding="utf-8")
    env = cli_env()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(stopper), env.get("PYTHONPATH", "")) if p)

    first = subprocess.Popen([sys.executable, "-m", "etl", "inbox", "--config", str(config), str(box)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    children: list[int] = []
    try:
        # One condition, with a generous deadline: the run's reading child has stopped itself. The run asks it only
        # from inside a file's marker, so the marker is set from then on (markers of files read in-process come
        # and go before, which is why the marker alone is not the condition).
        deadline = time.monotonic() + 120
        marks = box / MARK_DIR
        while first.poll() is None and time.monotonic() < deadline:
            children = _children(first.pid)
            if children and _stopped(children[0]) and marks.is_dir() and any(marks.iterdir()):
                break
            time.sleep(0.01)
        assert children and _stopped(children[0]), "the inbox run never had its reading child stopped"
        assert [m.name for m in marks.iterdir()], "no reading-started marker"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(30)
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert (box / "far.xlsx").is_file() and not (box / "failed").exists()  # nothing moved: the run died

    second = cli("inbox", "--config", str(config), str(box))
    assert second.returncode == 3, second.stdout + second.stderr
    why = (box / "failed" / "far.xlsx.error.txt").read_text(encoding="utf-8")
    assert "the previous run died while reading this file" in why
    assert sorted(p.name for p in (box / "archive" / _archive_day()).iterdir()) == sorted(names)
    assert not any((box / MARK_DIR).iterdir())
    runs = cli("runs", "--config", str(config))
    assert "no runs" not in runs.stdout, runs.stdout
