"""`amili-etl inbox` in its own process against a sandbox on loopback: archive, failed, left, never twice."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from etl.inbox import scan, state_lock
from etl.sandbox import EmbeddedSandbox, SandboxConfig
from tests.conftest import SAMPLE
from tests.ops.support import SAMPLE_ITEMS, assert_each_key_once, cli, fill_inbox, ledger, popen, write_config


def _archive_day() -> str:
    return dt.datetime.now(dt.timezone.utc).astimezone().date().isoformat()


def test_inbox_archives_fails_leaves_and_never_sends_twice(tmp_path: Path, sandbox) -> None:
    config = write_config(tmp_path, sandbox.base_url)
    box = tmp_path / "inbox"
    names = fill_inbox(box)
    (box / "notes.txt").write_text("hello, this is not a bank file\n", encoding="utf-8")
    (box / "bank_2026-11-21.csv.part").write_text("half a file", encoding="utf-8")

    first = cli("inbox", "--config", str(config), str(box))
    assert first.returncode == 3, first.stdout + first.stderr  # notes.txt is unrecognised: 3 outranks 1
    archive = box / "archive" / _archive_day()
    assert sorted(p.name for p in archive.iterdir()) == sorted(names)
    assert (box / "failed" / "notes.txt").is_file()
    why = (box / "failed" / "notes.txt.error.txt").read_text(encoding="utf-8")
    assert "unrecognised" in why and "notes.txt" in why
    assert (box / "bank_2026-11-21.csv.part").is_file()  # still being written: left for the next run
    assert "still being written" in first.stdout
    # Invoice exports are read before the bank files that pay them.
    run_dir = sorted((tmp_path / "reports").iterdir())[-1]
    order = [Path(f["path"]).name for f in json.loads((run_dir / "summary.json").read_text())["files"]]
    kinds = ["invoices" in n for n in order]
    assert kinds == sorted(kinds, reverse=True), order
    items = ledger(sandbox.base_url)
    assert len(items) == SAMPLE_ITEMS
    assert_each_key_once(items)

    # Nothing new: said so, exit 0, nothing sent.
    second = cli("inbox", "--config", str(config), str(box))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing new" in second.stdout

    # The same content under another name is recognised and archived with a note, never read again; a second
    # file called notes.txt fails beside the first with a suffix, never over it.
    (box / "copy-of-ocr.txt").write_bytes((archive / "ocr_nordlys_2026-11-20.txt").read_bytes())
    (box / "notes.txt").write_text("still not a bank file\n", encoding="utf-8")
    third = cli("inbox", "--config", str(config), str(box))
    assert third.returncode == 3, third.stdout + third.stderr
    assert "already imported by run" in third.stdout
    assert (archive / "copy-of-ocr.txt").is_file()
    assert (box / "failed" / "notes.1.txt").read_text(encoding="utf-8") == "still not a bank file\n"
    assert (box / "failed" / "notes.txt").read_text(encoding="utf-8") == "hello, this is not a bank file\n"
    assert ledger(sandbox.base_url) == items

    # --force reads an imported file again and still sends nothing twice.
    (box / "again.txt").write_bytes((archive / "ocr_nordlys_2026-11-20.txt").read_bytes())
    forced = cli("inbox", "--force", "--config", str(config), str(box))
    assert forced.returncode in (0, 1), forced.stdout + forced.stderr
    summary = json.loads((sorted((tmp_path / "reports").iterdir())[-1] / "summary.json").read_text())
    assert [Path(f["path"]).name for f in summary["files"]] == ["again.txt"]
    assert set(summary["sent"].values()) == {0}
    assert ledger(sandbox.base_url) == items

    # A rerun of the first night finds its files by content wherever the inbox put them, and sends nothing.
    rerun = cli("rerun", "--config", str(config), run_dir.name)
    assert rerun.returncode == 3, rerun.stdout + rerun.stderr
    summary = json.loads((sorted((tmp_path / "reports").iterdir())[-1] / "summary.json").read_text())
    assert sorted(Path(f["path"]).name for f in summary["files"]) == sorted([*names, "notes.txt"])
    assert all("/archive/" in f["path"] or "/failed/" in f["path"] for f in summary["files"])
    assert set(summary["sent"].values()) == {0}
    assert ledger(sandbox.base_url) == items


def test_two_inbox_runs_at_once(tmp_path: Path) -> None:
    with EmbeddedSandbox(SandboxConfig(seed_file=SAMPLE / "sandbox_seed.json", latency_ms=40)) as sb:
        # The first run takes the lock, then looks at the files twice 600 s apart: it holds the lock all that time
        # and has touched nothing yet. (Started together, the second run gave up only if it came while the
        # first still ran, which a loaded machine does not promise.)
        holding = write_config(tmp_path, sb.base_url, inbox="lock_wait_s = 0.3\nsettle_s = 600",
                               http={"concurrency": 2}).rename(tmp_path / "holding.toml")
        # The same state (and lock) with a short wait: the second run gives up while the first holds the lock.
        config = write_config(tmp_path, sb.base_url, inbox="lock_wait_s = 0.3\nsettle_s = 0.2",
                              http={"concurrency": 2})
        box = tmp_path / "inbox"
        fill_inbox(box)
        first = popen("inbox", "--config", str(holding), str(box))
        lock = tmp_path / "state" / "amili-etl.duckdb.lock"
        deadline = time.monotonic() + 120
        while not (lock.exists() and lock.read_text() == str(first.pid)):  # written once the lock is taken
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.02)
        loser = cli("inbox", "--config", str(config), str(box))
        assert loser.returncode == 75, (loser.stdout, loser.stderr)
        assert "holds the lock" in loser.stderr and f"pid {first.pid}" in loser.stderr and "Traceback" not in loser.stderr
        assert loser.stderr.strip().count("\n") == 0
        assert first.poll() is None  # still holding the lock, in its settle wait
        first.kill()  # the lock dies with it
        first.communicate()
        again = cli("inbox", "--config", str(config), str(box))
        assert again.returncode == 1, (again.stdout, again.stderr)
        assert_each_key_once(ledger(sb.base_url))

    # A patient second run waits for the first, then finds nothing new (a fresh state and sandbox).
    with EmbeddedSandbox(SandboxConfig(seed_file=SAMPLE / "sandbox_seed.json", latency_ms=40)) as sb:
        (tmp_path / "b").mkdir()
        config = write_config(tmp_path / "b", sb.base_url, inbox="lock_wait_s = 120\nsettle_s = 0.2",
                              http={"concurrency": 2})
        fill_inbox(tmp_path / "b" / "inbox")
        procs = [popen("inbox", "--config", str(config), str(tmp_path / "b" / "inbox")) for _ in range(2)]
        outs = [p.communicate(timeout=300) for p in procs]
        assert sorted(p.returncode for p in procs) == [0, 1], outs
        assert "nothing new" in outs[[p.returncode for p in procs].index(0)][0]
        items = ledger(sb.base_url)
        assert len(items) == SAMPLE_ITEMS
        assert_each_key_once(items)


def test_a_file_still_being_written_is_left_for_the_next_run(tmp_path: Path) -> None:
    growing = tmp_path / "ocr.txt"
    growing.write_text("NY000010" + "0" * 72 + "\n", encoding="utf-8")
    done = tmp_path / "done.csv"
    done.write_text("a,b\n1,2\n", encoding="utf-8")

    def writer_keeps_writing(seconds: float) -> None:  # the bank's upload is still going while we look twice
        with growing.open("a", encoding="utf-8") as fh:
            fh.write("NY0000200" + "0" * 71 + "\n")

    ready, busy = scan(tmp_path, 0.05, sleep=writer_keeps_writing)
    assert ready == [done]
    assert [(p, "size changed" in why) for p, why in busy] == [(growing, True)]
    ready, busy = scan(tmp_path, 0.05)  # the upload finished: the next run takes it
    assert ready == [done, growing] and busy == []


def test_the_lock_waits_then_gives_up_with_exit_75(tmp_path: Path) -> None:
    state = tmp_path / "state.duckdb"
    probe = ("from pathlib import Path; from etl.inbox import state_lock, InboxLocked\n"
             "try:\n    with state_lock(Path(%r), 0.5): print('got it')\n"
             "except InboxLocked as e: print('locked', e.exit_code, e)\n") % str(state)
    with state_lock(state, 1):
        started = time.monotonic()
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60).stdout
        assert out.startswith("locked 75") and "holds the lock" in out and f"pid {os.getpid()}" in out, out
        assert time.monotonic() - started >= 0.5
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60).stdout
    assert out == "got it\n"
