"""Shared fixtures: the repo's folders, and a sandbox running on loopback for a test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests never fail for being slow: Hypothesis's default 200 ms deadline per example and its "too slow"
# health check both measure the machine, and CI runs on a loaded 2-core one. Tests may still set other settings.
settings.register_profile("no-timing", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("no-timing")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"
DATA = REPO / "tests" / "data"


def sample_config_text(base_url: str) -> str:
    """The shipped sample config with every Amili URL pointed at `base_url` (a sandbox)."""
    text = (SAMPLE / "amili-etl.toml").read_text(encoding="utf-8")
    text = text.replace("https://arm.amili.no", f"{base_url}/arm")
    text = text.replace("https://auth.amili.no/token", f"{base_url}/auth/token")
    return text.replace("https://api.amili.se", f"{base_url}/ada")


def write_sample_config(tmp: Path, base_url: str) -> Path:
    """The sample config pointed at `base_url`, with state and reports under `tmp`; its path."""
    text = sample_config_text(base_url)
    text = text.replace('"../state/amili-etl.duckdb"', f'"{tmp / "state.duckdb"}"')
    text = text.replace('"../reports"', f'"{tmp / "reports"}"')
    path = tmp / "amili-etl.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def sandbox() -> Iterator["object"]:
    """A fresh embedded sandbox on 127.0.0.1, seeded with the sample seed."""
    from etl.sandbox import EmbeddedSandbox, SandboxConfig

    with EmbeddedSandbox(SandboxConfig(seed_file=SAMPLE / "sandbox_seed.json")) as sb:
        yield sb
