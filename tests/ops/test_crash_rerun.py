"""A run killed in the middle, then a rerun; a rerun weeks later against a restarted sandbox: nothing twice."""

from __future__ import annotations

import json
from collections import Counter
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from etl.sandbox import EmbeddedSandbox, SandboxConfig
from tests.conftest import SAMPLE
from tests.ops.support import SAMPLE_ITEMS, assert_each_key_once, cli, fill_inbox, ledger, popen, write_config


def _runs(config: Path) -> list[dict[str, object]]:
    proc = cli("runs", "--json", "--config", str(config))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_a_run_killed_mid_delivery_then_rerun_delivers_the_rest_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with EmbeddedSandbox(SandboxConfig(seed_file=SAMPLE / "sandbox_seed.json")) as sb:
        config = write_config(tmp_path, sb.base_url, http={"concurrency": 1})
        box = tmp_path / "inbox"
        fill_inbox(box)
        # Killed on an observed event, not at a moment in time: the sandbox (in this process) kills the run as it
        # stores the fifth item, before it answers; the run can neither see that answer nor send anything more,
        # however fast or slow the machine. (Polling the ledger and killing then let a fast run finish first.)
        state = sb._state
        assert state is not None
        accept, accepted = state.ledger_accept, []
        proc: subprocess.Popen[str] | None = None

        def accept_then_kill(*args: Any) -> None:
            accept(*args)
            accepted.append(args)
            if len(accepted) == 5:  # in the middle of delivering
                assert proc is not None
                proc.send_signal(signal.SIGKILL)

        monkeypatch.setattr(state, "ledger_accept", accept_then_kill)
        proc = popen("inbox", "--config", str(config), str(box))
        proc.communicate(timeout=300)
        assert proc.returncode == -signal.SIGKILL and len(accepted) >= 5
        half = ledger(sb.base_url)
        assert 5 <= len(half) < SAMPLE_ITEMS

        # The state file is consistent: it opens, the killed run is marked interrupted by the next process
        # holding it, every file is still in the inbox (nothing moved before the state was committed).
        con = duckdb.connect(str(tmp_path / "state" / "amili-etl.duckdb"), read_only=True)
        states = dict(con.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
        con.close()
        assert sum(states.values()) == SAMPLE_ITEMS and states.get("intent", 0) < SAMPLE_ITEMS
        assert not (box / "archive").exists()
        killed = _runs(config)[0]
        assert killed["status"] == "interrupted" and killed["finished_at"] is None

        again = cli("rerun", "--config", str(config), str(killed["run_id"]))
        assert again.returncode == 1, again.stdout + again.stderr
        items = ledger(sb.base_url)
        assert len(items) == SAMPLE_ITEMS
        assert_each_key_once(items)
        history = _runs(config)
        assert history[0]["mode"] == "rerun" and history[0]["open"] == 0
        assert history[1]["run_id"] == killed["run_id"] and history[1]["status"] == "interrupted"
        shown = cli("show", "--config", str(config), str(history[0]["run_id"]))
        assert f"rerun of {killed['run_id']}" in shown.stdout and "summary.json" in shown.stdout

        # The inbox files were imported by the rerun: the next inbox archives them, reads and sends nothing.
        tidy = cli("inbox", "--config", str(config), str(box))
        assert tidy.returncode == 0, tidy.stdout + tidy.stderr
        assert "already imported by run" in tidy.stdout
        assert ledger(sb.base_url) == items


def _outbox(tmp: Path) -> dict[tuple[str, str], str]:
    con = duckdb.connect(str(tmp / "state" / "amili-etl.duckdb"), read_only=True)
    try:
        return {(api, key): state for api, key, state in con.execute("SELECT api, key, state FROM outbox").fetchall()}
    finally:
        con.close()


def _outbox_messages(tmp: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(tmp / "state" / "amili-etl.duckdb"), read_only=True)
    try:
        return con.execute("SELECT api, state, http_status, message, count(*) FROM outbox GROUP BY ALL").fetchall()
    finally:
        con.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int, state: Path, *extra: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "etl", "sandbox", "serve", "--port", str(port), "--state",
                             str(state), *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/_sandbox/stats", timeout=1)
            return proc
        except httpx.HTTPError:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=120)  # generous: killing it instead would lose its last state-file write
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_a_rerun_weeks_later_with_expired_tokens_sends_nothing_twice(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    sandbox_state = tmp_path / "sandbox-state.json"
    # The night of the run Amili is unwell: a third of the requests fail, and we try each only once.
    sb = _serve(port, sandbox_state, "--seed", str(SAMPLE / "sandbox_seed.json"), "--faults", "503=0.3,500=0.1",
                "--fault-seed", "7")
    try:
        config = write_config(tmp_path, base, http={"max_attempts": 1, "max_retry_time_s": 1})
        first = cli("run", "--config", str(config), "--invoices", str(SAMPLE / "no"), "--invoices", str(SAMPLE / "se"))
        assert first.returncode in (4, 75), first.stdout + first.stderr
        night = ledger(base)
    finally:
        _stop(sb)
    run_id = _runs(config)[0]["run_id"]
    assert _runs(config)[0]["open"] > 0

    # Weeks later: no token the sandbox issued is valid any more (it keeps none in its state file, so after the
    # restart every old one is unknown); it comes back with its data.
    saved = json.loads(sandbox_state.read_text(encoding="utf-8"))
    assert "tokens" not in saved, "the sandbox keeps no tokens in its state file"
    sb = _serve(port, sandbox_state)
    try:
        assert ledger(base) == night
        rest = cli("rerun", "--only-failed", "--config", str(config), str(run_id))
        assert rest.returncode in (0, 1), rest.stdout + rest.stderr
        items = ledger(base)
        # Nothing was accepted twice, and what Amili holds is exactly what our outbox calls confirmed; the rest
        # were refused for a reason (a reservation whose document did not exist that night) and stay refused.
        assert [i for i in items if int(i["accepted"]) > 1] == []
        outbox = _outbox(tmp_path)
        assert set(outbox.values()) <= {"confirmed", "rejected"}
        confirmed = Counter(api for (api, _), state in outbox.items() if state == "confirmed")
        accepted = Counter(str(i["api"]) for i in items if i["accepted"])
        assert accepted == confirmed, (rest.stdout, _outbox_messages(tmp_path))
        assert sum(confirmed.values()) > len([i for i in night if i["accepted"]])
        assert _runs(config)[0]["open"] == 0

        # Everything is confirmed now: a full rerun (files read again) and another --only-failed send nothing.
        full = cli("rerun", "--config", str(config), str(run_id))
        assert full.returncode == 1, full.stdout + full.stderr
        summary = json.loads((tmp_path / "reports" / str(_runs(config)[0]["run_id"]) / "summary.json").read_text())
        assert set(summary["sent"].values()) == {0}
        nothing = cli("rerun", "--only-failed", "--config", str(config), str(run_id))
        assert nothing.returncode == 0 and "nothing was left" in nothing.stdout, nothing.stdout + nothing.stderr
        assert ledger(base) == items
    finally:
        _stop(sb)
