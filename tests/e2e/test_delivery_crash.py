"""The delivery process killed with SIGKILL 20 times, each at an observed event, then run to the end: every key once.

Every kill lands by construction, whatever the machine's speed: the sandbox (in this process) tells a hook of
every API request it receives and of every one it has processed, and the hook kills the client at its n-th
request, either before the sandbox processes it or after the sandbox stored its work and before the answer goes
back (the fate the client cannot know). Every fifth run is instead killed while it waits, on purpose, between
recording its intents and delivering them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pytest

from etl.sandbox import EmbeddedSandbox, SandboxConfig
from etl.sandbox.readings import READINGS

from . import delivery_support as ds

REPO = Path(__file__).resolve().parents[2]
N = 80  # items per endpoint in the end; run i plans the first 4 * (i + 1), like nightly files that grow
KILLS = 20
# Each killed run has 4 new documents and 4 new reservations, each its own POST: at least 8 API requests.
MIN_REQUESTS = 8


class Killer:
    """The sandbox's request hook: SIGKILLs the current client at its n-th API request, before or after processing."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.at = 0
        self.after_processing = False
        self.seen = 0
        self.killed: list[str] = []

    def arm(self, proc: subprocess.Popen[bytes], at: int, after_processing: bool) -> None:
        """Kill `proc` at its `at`-th API request (0: never)."""
        with self.lock:
            self.proc, self.at, self.after_processing, self.seen = proc, at, after_processing, 0

    def __call__(self, phase: str, method: str, path: str) -> None:
        with self.lock:
            if self.proc is None or not self.at:
                return
            if phase == "received":
                self.seen += 1
            if self.seen != self.at or (phase == "processed") != self.after_processing:
                return
            self.proc.kill()
            self.proc.wait()
            self.killed.append(f"{phase} {method} {path}")
            self.proc, self.at = None, 0
        if phase == "received":
            # The client is dead before the sandbox processed its request: the request is dropped unprocessed.
            raise RuntimeError("client killed before its request was processed")


def _start(config: Path, run_id: str, n: int, err: Path, hold: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-m", "tests.e2e.delivery_support", str(config), run_id, str(n)] + (["hold"] if hold else [])
    with open(err, "ab") as stderr:
        return subprocess.Popen(args, cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)


@pytest.mark.parametrize("reading", list(READINGS))
def test_killed_twenty_times_then_rerun_every_key_is_in_the_ledger_exactly_once(tmp_path: Path, reading: str) -> None:
    """Under every reading of Amili's pages (a repeat answered, refused, or stored again): each key stored once."""
    rng = random.Random(20261121)
    killer = Killer()
    err = tmp_path / "stderr.txt"
    # Every run has new items besides what earlier runs left, so kills land while requests, batches and polls
    # are in flight; the sandbox keeps its state in a file like a real remote side that outlives its clients.
    sandbox = SandboxConfig(latency_ms=5, batch_delay_s=0.2, state_file=tmp_path / "sandbox.json", reading=reading)
    with EmbeddedSandbox(sandbox, hook=killer) as sb:
        path = ds.write_config(tmp_path, sb.base_url, {"poll_interval_s": 0.05, "concurrency": 4, "lookup_settle_s": 0.5})
        ds.seed(sb.base_url, N)
        config = ds.load(path)
        in_flight = 0  # kills that left items sent or batches acknowledged, without a final answer: the window
        # exactly-once is about (after such a kill the next run must look them up, never send them blind)
        for i in range(KILLS):
            hold = i % 5 == 4
            proc = _start(path, f"killed-{i}", min(N, 4 * (i + 1)), err, hold)
            if hold:
                assert proc.stdout is not None and proc.stdout.readline() == b"delivering\n", err.read_text()
                proc.kill()  # it waits for a line on stdin that never comes: the kill lands between intent and send
            else:
                killer.arm(proc, rng.randint(1, MIN_REQUESTS), after_processing=rng.random() < 0.5)
            proc.wait(timeout=120)
            killer.arm(proc, 0, False)
            assert proc.returncode == -signal.SIGKILL, f"run {i} was not killed (exit {proc.returncode}): {err.read_text()}"
            in_flight += ds.outbox(config).filter(pl.col("state").is_in(["sent", "acknowledged", "unknown"])).height > 0
        final = _start(path, "final", N, err, hold=False)
        final.communicate(timeout=120)
        assert final.returncode == 0, err.read_text()

        box = ds.outbox(config)
        assert len(killer.killed) == KILLS - KILLS // 5 and in_flight >= KILLS // 2, (killer.killed, in_flight)
        assert box.height == 4 * N and set(box.get_column("state")) == {"confirmed"}, box.filter(pl.col("state") != "confirmed")
        ledger = ds.ledger(sb.base_url)
        keys = sorted((i["api"], i["key"]) for i in ledger)
        assert len(keys) == len(set(keys)) == 4 * N  # none missing, none twice
        assert all(i["accepted"] == 1 for i in ledger)
