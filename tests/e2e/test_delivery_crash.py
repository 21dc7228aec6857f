"""The delivery process killed with SIGKILL at random moments, 20 times, then run to the end: every key once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from etl.sandbox import EmbeddedSandbox, SandboxConfig

from . import delivery_support as ds

REPO = Path(__file__).resolve().parents[2]
N = 80  # items per endpoint in the end; run i plans the first 4 * (i + 1), like nightly files that grow
KILLS = 20


def _start(config: Path, run_id: str, n: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "tests.e2e.delivery_support", str(config), run_id, str(n)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_later(proc: subprocess.Popen[bytes], rng: random.Random, i: int) -> float | None:
    """SIGKILL at a random moment: every third run counted from its start (importing, planning, recording
    intents), the others from when it starts delivering (it prints a line then), whatever the machine's load."""
    if i % 3 and proc.stdout is not None:
        proc.stdout.readline()
    at = rng.uniform(0.02, 1.6)
    try:
        proc.wait(timeout=at)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return at
    assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
    return None


def test_killed_twenty_times_then_rerun_every_key_is_in_the_ledger_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(20261121)
    # Every run has new items besides what earlier runs left, so kills land while requests, batches and polls
    # are in flight; the sandbox keeps its state in a file like a real remote side that outlives its clients.
    sandbox = SandboxConfig(latency_ms=5, batch_delay_s=0.2, state_file=tmp_path / "sandbox.json")
    with EmbeddedSandbox(sandbox) as sb:
        path = ds.write_config(tmp_path, sb.base_url, {"poll_interval_s": 0.05, "concurrency": 4})
        ds.seed(sb.base_url, N)
        config = ds.load(path)
        killed_at: list[float] = []
        in_flight = 0  # kills that left items sent or batches acknowledged, without a final answer: the window
        # exactly-once is about (after such a kill the next run must look them up, never send them blind)
        for i in range(4 * KILLS):
            if len(killed_at) >= KILLS and in_flight:
                break
            at = _kill_later(_start(path, f"killed-{i}", min(N, 4 * (i + 1))), rng, i)
            if at is not None:
                killed_at.append(round(at, 2))
                in_flight += ds.outbox(config).filter(pl.col("state").is_in(["sent", "acknowledged", "unknown"])).height > 0
        final = _start(path, "final", N)
        _, err = final.communicate(timeout=120)
        assert final.returncode == 0, err.decode()

        box = ds.outbox(config)
        assert len(killed_at) >= KILLS and in_flight, (killed_at, in_flight)
        assert box.height == 4 * N and set(box.get_column("state")) == {"confirmed"}, box.filter(pl.col("state") != "confirmed")
        ledger = ds.ledger(sb.base_url)
        keys = sorted((i["api"], i["key"]) for i in ledger)
        assert len(keys) == len(set(keys)) == 4 * N  # none missing, none twice
        assert all(i["accepted"] == 1 for i in ledger)
