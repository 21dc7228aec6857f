"""SandboxConfig: every knob of the simulator in one frozen value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from etl.sandbox.readings import DEFAULT_READING, check_reading

__all__ = ["Credentials", "SandboxConfig"]


@dataclass(frozen=True)
class Credentials:
    """What the sandbox accepts as a login: the Norway client credentials and the ADA api code."""

    client_id: str = "sandbox"
    client_secret: str = "sandbox"
    ada_api_code: str = "sandbox"


@dataclass(frozen=True)
class SandboxConfig:
    """How the simulated Amili behaves: faults, limits, timings, persistence and credentials."""

    # "500=0.05,503=0.02,429=0.05,timeout=0.01,reset=0.01"; None or "" means no faults.
    faults: str | None = None
    fault_seed: int = 0
    # Requests per second per client (token or IP); None means unlimited.
    rate_limit: float | None = None
    # Extra delay added to every API request (not to /_sandbox or /auth).
    latency_ms: float = 0.0
    token_lifetime_s: float = 3600.0
    # How long ARM document batches and Collection payment batches stay "processing".
    batch_delay_s: float = 0.2
    autoposting_methods: tuple[str, ...] = ("payment", "creditnote", "writeoff")
    # Check document KIDs (MOD10 or MOD11); off by default because Amili's own examples fail both.
    kid_check: bool = False
    # ARM clientNos, Collection orgIds and ADA creditors that every login is refused (403), to test that answer.
    forbidden: tuple[str, ...] = ()
    state_file: Path | None = None
    seed_file: Path | None = None
    credentials: Credentials = field(default_factory=Credentials)
    # A "timeout" fault sleeps this long: longer than any sane client timeout.
    timeout_sleep_s: float = 30.0
    # Share of 500 faults that strike after the request was processed and stored.
    post_store_500_share: float = 0.5
    # State file writes are debounced: at most one write per this many seconds.
    state_flush_s: float = 0.5
    # How to read Amili's pages where they are silent (etl/sandbox/readings.py): lenient, strict-unique,
    # no-dedup or as-documented. The client must be right under every one.
    reading: str = DEFAULT_READING

    def __post_init__(self) -> None:
        # Callers (the CLI) may hand over plain strings and lists; normalise once here.
        for name in ("state_file", "seed_file"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        object.__setattr__(self, "autoposting_methods", tuple(self.autoposting_methods))
        object.__setattr__(self, "forbidden", tuple(str(f) for f in self.forbidden))
        check_reading(self.reading)
