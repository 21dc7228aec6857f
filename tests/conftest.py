"""Shared fixtures: the repo's folders, and a sandbox running on loopback for a test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"
DATA = REPO / "tests" / "data"


@pytest.fixture
def sandbox() -> Iterator["object"]:
    """A fresh embedded sandbox on 127.0.0.1, seeded with the sample seed."""
    from etl.sandbox import EmbeddedSandbox, SandboxConfig

    with EmbeddedSandbox(SandboxConfig(seed_file=SAMPLE / "sandbox_seed.json")) as sb:
        yield sb
