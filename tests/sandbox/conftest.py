"""Fixtures for the sandbox tests: one shared embedded sandbox over real HTTP, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from etl.sandbox import EmbeddedSandbox, SandboxConfig

from .support import BATCH_DELAY_S, ada_login, arm_login


@pytest.fixture(scope="session")
def sandbox() -> Iterator[EmbeddedSandbox]:
    """The shared sandbox (default config, short batch delay); tests reset it through `client`."""
    with EmbeddedSandbox(SandboxConfig(batch_delay_s=BATCH_DELAY_S)) as sb:
        yield sb


@pytest.fixture
def client(sandbox: EmbeddedSandbox) -> Iterator[httpx.Client]:
    """A plain client on the shared sandbox, which is reset first."""
    with httpx.Client(base_url=sandbox.base_url, timeout=5) as c:
        c.post("/_sandbox/reset").raise_for_status()
        yield c


@pytest.fixture
def arm(client: httpx.Client) -> httpx.Client:
    """The shared client, logged in for ARM and Collection."""
    return arm_login(client)


@pytest.fixture
def ada(client: httpx.Client) -> httpx.Client:
    """The shared client, logged in for ADA."""
    return ada_login(client)
