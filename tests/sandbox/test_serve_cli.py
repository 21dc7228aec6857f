"""`amili-etl sandbox serve` as its own process: options, --state across a restart, --seed once, clean errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson

from .support import ARM_EXAMPLE_SEED, RESERVATION_EXAMPLE

REPO = Path(__file__).resolve().parents[2]


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "etl", "sandbox", "serve", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "AMILI_SANDBOX_CLIENT_SECRET": "ci-secret"}


@contextmanager
def serving(*args: str) -> Iterator[str]:
    """Run the command on a free port until the block ends (SIGTERM, as a CI would stop it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(_command("--port", str(port), *args), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/_sandbox/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
            assert proc.poll() is None, proc.communicate()
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean shutdown


def _reserve(base: str) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_id": "sandbox", "client_secret": "ci-secret"}
    token = httpx.post(f"{base}/auth/token", data=form).raise_for_status().json()
    assert token["expires_in"] == 5  # --token-lifetime
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    return httpx.post(f"{base}/arm/clients/2218/paymentreservations", json=RESERVATION_EXAMPLE, headers=headers)


def test_state_survives_a_restart_and_the_seed_is_applied_once(tmp_path: Path) -> None:
    state, seed = tmp_path / "state.json", tmp_path / "seed.json"
    seed.write_bytes(orjson.dumps({"arm_documents": [ARM_EXAMPLE_SEED]}))
    args = ("--state", str(state), "--seed", str(seed), "--token-lifetime", "5")
    with serving(*args) as base:
        first = _reserve(base)
        assert first.status_code == 200, first.text
        assert httpx.get(f"{base}/openapi.json").status_code == 200
    assert state.is_file()
    with serving(*args) as base:
        again = _reserve(base)
        assert again.status_code == 200 and again.json() == first.json()  # the repeat is recognised after the restart
        items = httpx.get(f"{base}/_sandbox/ledger").json()["items"]
        assert [(i["key"], i["accepted"], i["duplicates_refused"]) for i in items] == [("PM285000350786", 1, 1)]
        docs = httpx.get(f"{base}/_sandbox/stats").json()
        assert docs["requests"]  # statistics start again after a restart; data does not


def test_bad_options_are_one_line_errors_with_exit_2(tmp_path: Path) -> None:
    bad_seed = tmp_path / "seed.json"
    bad_seed.write_text("{not json")
    for args in (("--faults", "500=2"), ("--faults", "abc"), ("--seed", str(bad_seed))):
        proc = subprocess.run(_command("--port", "9", *args), env=_env(), capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith("amili-etl: error: sandbox: "), proc.stderr
