"""Helpers for the operations tests: a config pointed at a sandbox, the CLI in its own process, an inbox."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import SAMPLE, sample_config_text

SECRET_ENV = {"AMILI_NO_CLIENT_ID": "sandbox", "AMILI_NO_CLIENT_SECRET": "sandbox", "AMILI_SE_ADA_API_CODE": "sandbox"}
# Every key the sample data delivers: ARM documents, ARM payment reservations, ADA creditor payments.
SAMPLE_ITEMS = 23 + 14 + 12  # documents, payment reservations, ADA creditor payments (one payment pays two invoices)


def write_config(tmp: Path, base_url: str, *, http: dict[str, object] | None = None,
                 inbox: str = "lock_wait_s = 60\nsettle_s = 0.2", log: str = "") -> Path:
    """The sample config pointed at `base_url`, with state, reports (and optional log dir) under `tmp`."""
    text = sample_config_text(base_url)
    text = text.replace('"../state/amili-etl.duckdb"', f'"{tmp / "state" / "amili-etl.duckdb"}"')
    text = text.replace('"../reports"', f'"{tmp / "reports"}"')
    # Longer than the sandbox's batch delay: a lookup after a lost batch answer sees the batch processed.
    for key, value in {"lookup_settle_s": 0.5, **(http or {})}.items():
        line = re.compile(rf"^{key} = .*$", re.M)
        text = line.sub(f"{key} = {value}", text) if line.search(text) else text.replace("[http]\n", f"[http]\n{key} = {value}\n")
    text = text.replace("[http]\n", f"[inbox]\n{inbox}\n\n" + (f"[log]\n{log}\n\n" if log else "") + "[http]\n")
    path = tmp / "amili-etl.toml"
    path.write_text(text, encoding="utf-8")
    return path


def cli_env(secrets: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a CLI process: no AMILI_ variables but the given secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMILI_")}
    env.update(SECRET_ENV if secrets is None else secrets)
    return env


def cli(*args: str, secrets: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`amili-etl ARGS` in its own process."""
    return subprocess.run([sys.executable, "-m", "etl", *args], capture_output=True, text=True,
                          env=cli_env(secrets), timeout=timeout)


def popen(*args: str, secrets: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`amili-etl ARGS` started in its own process, not waited for."""
    return subprocess.Popen([sys.executable, "-m", "etl", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=cli_env(secrets))


def fill_inbox(folder: Path) -> list[str]:
    """Copy every sample input file (NO and SE) into `folder`; returns their names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for sub in ("no", "se"):
        for f in sorted((SAMPLE / sub).iterdir()):
            shutil.copy2(f, folder / f.name)
            names.append(f.name)
    return names


def ledger(base_url: str) -> list[dict[str, object]]:
    """The sandbox's ledger: every item it accepted or refused."""
    return httpx.get(f"{base_url}/_sandbox/ledger", timeout=10).json()["items"]


def assert_each_key_once(items: list[dict[str, object]]) -> None:
    """Every item accepted exactly once, and no key twice."""
    assert all(i["accepted"] == 1 for i in items), [i for i in items if i["accepted"] != 1]
    keys = [(i["api"], i["key"]) for i in items]
    assert len(keys) == len(set(keys))
