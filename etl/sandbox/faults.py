"""Injected faults: parse the spec, draw a repeatable fault per request, and drop connections on purpose."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from starlette.types import Send

__all__ = ["Fault", "FaultPlan", "ConnectionDropped", "parse_faults", "drop_connection", "quiet_dropped_connections"]

_KINDS = ("timeout", "reset")
# Timeouts and resets strike after the request was processed this often: a real server may store
# the item and then fail to answer, which is exactly what exactly-once clients must survive.
POST_STORE_SHARE = 0.5


@dataclass(frozen=True)
class Fault:
    """One drawn fault: `kind` is an HTTP status ("500", "503", "429", ...), "timeout" or "reset"."""

    kind: str
    after_store: bool


def parse_faults(spec: str | None) -> dict[str, float]:
    """"500=0.05,503=0.02,429=0.05,timeout=0.01,reset=0.01" -> {kind: probability}; ValueError if malformed."""
    faults: dict[str, float] = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        kind, sep, share = part.partition("=")
        kind = kind.strip().lower()
        if not sep:
            raise ValueError(f"fault {part!r}: expected KIND=PROBABILITY")
        if kind not in _KINDS and not (kind.isdigit() and 400 <= int(kind) <= 599):
            raise ValueError(f"fault {kind!r}: expected an HTTP status 400-599, timeout or reset")
        try:
            probability = float(share)
        except ValueError as exc:
            raise ValueError(f"fault {part!r}: {share!r} is not a probability") from exc
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"fault {part!r}: probability must be between 0 and 1")
        faults[kind] = faults.get(kind, 0.0) + probability
    if sum(faults.values()) > 1.0 + 1e-9:
        raise ValueError(f"fault probabilities add up to {sum(faults.values()):.3f}, more than 1")
    return faults


class FaultPlan:
    """A seeded sequence of fault decisions: the same seed and request order give the same faults."""

    def __init__(self, spec: str | None, seed: int, post_store_500_share: float) -> None:
        self.faults = parse_faults(spec)
        self.seed = seed
        self.post_store_500_share = post_store_500_share
        self._rng = random.Random(seed)

    def __bool__(self) -> bool:
        return bool(self.faults)

    def reset(self) -> None:
        """Start the sequence again from the seed."""
        self._rng = random.Random(self.seed)

    def draw(self) -> Fault | None:
        """The fault for the next request, or None."""
        roll = self._rng.random()
        for kind, probability in self.faults.items():
            if roll < probability:
                share = self.post_store_500_share if kind == "500" else POST_STORE_SHARE if kind in _KINDS else 0.0
                return Fault(kind, self._rng.random() < share)
            roll -= probability
        return None


class ConnectionDropped(Exception):
    """Raised inside the app to make the server close the connection without a response."""


async def drop_connection(send: Send) -> None:
    """Close the connection with no response: the client sees the server disconnect."""
    # A header value with a line break is refused by the server's HTTP writer (uvicorn validates
    # headers for both h11 and httptools) after it marked the response as started and before it wrote
    # a byte. Raising then makes uvicorn close the transport instead of sending a 500.
    try:
        await send({"type": "http.response.start", "status": 500, "headers": [(b"x-sandbox-fault", b"reset\r\n")]})
    except Exception:  # noqa: BLE001 - the refusal is the point
        pass
    raise ConnectionDropped("sandbox fault: connection reset")


class _DroppedFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        """Drop records whose exception is a deliberate ConnectionDropped."""
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


_FILTER = _DroppedFilter()


def quiet_dropped_connections() -> None:
    """Keep uvicorn from logging a traceback for every deliberate connection reset."""
    logger = logging.getLogger("uvicorn.error")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
