"""Fixtures for the sandbox tests: one shared embedded sandbox over real HTTP, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from etl.sandbox import EmbeddedSandbox, SandboxConfig

from .support import BATCH_DELAY_S, CLOCK, ada_login, arm_login, sandbox_per_reading


@pytest.fixture(scope="session")
def shared_sandbox() -> Iterator[EmbeddedSandbox]:
    """One sandbox for the session (default config, short batch delay, the manual CLOCK); tests reset it through `client`."""
    with EmbeddedSandbox(SandboxConfig(batch_delay_s=BATCH_DELAY_S, clock=CLOCK)) as sb:
        yield sb


@pytest.fixture(scope="session")
def _session_client(shared_sandbox: EmbeddedSandbox) -> Iterator[httpx.Client]:
    # One client for the session: building an httpx.Client (its SSL context) costs more than a test.
    with httpx.Client(base_url=shared_sandbox.base_url, timeout=60) as c:  # generous: a loaded machine is slow, never wrong
        yield c


@pytest.fixture
def client(_session_client: httpx.Client) -> httpx.Client:
    """A plain (logged-out) client on the shared sandbox, which is reset first."""
    _session_client.headers.pop("Authorization", None)
    _session_client.headers.pop("X-API-Key", None)
    _session_client.post("/_sandbox/reset").raise_for_status()
    return _session_client


@pytest.fixture
def arm(client: httpx.Client) -> httpx.Client:
    """The shared client, logged in for ARM and Collection."""
    return arm_login(client)


@pytest.fixture
def ada(client: httpx.Client) -> httpx.Client:
    """The shared client, logged in for ADA."""
    return ada_login(client)


@pytest.fixture(scope="session")
def openapi(_session_client: httpx.Client) -> dict[str, Any]:
    """The sandbox's /openapi.json."""
    r = _session_client.get("/openapi.json")
    r.raise_for_status()
    return dict(r.json())


# One sandbox per reading for the session (started when a test first asks for it), reset before each test.
any_reading_sandbox = sandbox_per_reading(batch_delay_s=BATCH_DELAY_S, clock=CLOCK)


@pytest.fixture
def reading(any_reading_sandbox: EmbeddedSandbox) -> str:
    """The name of the reading the test runs under."""
    return any_reading_sandbox.config.reading


@pytest.fixture
def reading_client(any_reading_sandbox: EmbeddedSandbox) -> Iterator[httpx.Client]:
    """A plain client on the sandbox of the reading this test runs under, reset first (log in with
    support.arm_login / ada_login)."""
    with httpx.Client(base_url=any_reading_sandbox.base_url, timeout=60) as c:
        c.post("/_sandbox/reset").raise_for_status()
        yield c
