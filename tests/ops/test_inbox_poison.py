"""A poison file never stops the night (issue 14): the inbox goes on past it, and a file an earlier run died
reading goes to failed/ instead of killing the next night too. Real files, `amili-etl inbox` in its own process."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from pathlib import Path

from etl.sources.isolate import MARK_DIR
from tests.ops.support import cli, fill_inbox, popen, write_config
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


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def test_a_run_killed_while_reading_a_file_fails_it_the_next_night(tmp_path: Path, sandbox) -> None:
    """The first night is SIGKILLed while its reading child holds far.xlsx: the child is stopped (SIGSTOP) as
    soon as it exists, so the run waits on it with the file's "reading started" marker set; then the run is
    killed. The second night puts far.xlsx in failed/ unread and reads the other files."""
    config = _config(tmp_path, sandbox.base_url, "max_columns = 16384\nmax_cells = 100000000000000\ntimeout_s = 600")
    box = tmp_path / "inbox"
    names = fill_inbox(box)
    far_cell(box / "far.xlsx")  # the only workbook: the first thing the reading child is asked is to sniff it

    first = popen("inbox", "--config", str(config), str(box))
    child = None
    try:
        deadline = time.monotonic() + 120
        while child is None and time.monotonic() < deadline and first.poll() is None:
            kids = _children(first.pid)
            if kids:
                child = kids[0]
                os.kill(child, signal.SIGSTOP)  # it has not read anything yet: it cannot answer now
            else:
                time.sleep(0.001)
        assert child is not None, "the inbox run never started its reading child"
        marks = box / MARK_DIR
        while not (marks.is_dir() and any(marks.iterdir())) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [m.name for m in marks.iterdir()], "no reading-started marker"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(30)
        if child is not None:
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
