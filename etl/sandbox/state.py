"""The sandbox's memory: plain JSON-ready dicts, the ledger, and the debounced atomic state-file writer."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from etl.sandbox.values import minor_str

__all__ = ["State", "SECTIONS"]

_FORMAT = 1

# Every persisted section is a plain dict keyed by strings, so the whole state is one JSON document.
# All mutation happens on the server's single event loop and no handler awaits halfway through a
# change, so no lock is needed.
SECTIONS: tuple[str, ...] = (
    "arm",  # clientNo -> ARM client book (customers, documents, indexes, reservations, counters)
    "arm_batches",  # batchUuid -> ARM document batch
    "collection",  # orgId -> {"invoices", "by_number", "payments", "idempotency"}
    "collection_batches",  # batchId -> Collection payment batch
    "ada_cases",  # case id -> ADA case (outstanding in minor units)
    "ada_payments",  # _id -> stored ADA creditor payment
    "ada_payouts",  # _id -> payout specification row
    "ada_index",  # "invoice": creditor|invoice_number -> case id; "reference": creditor|reference -> _id
    "pending",  # "arm" | "collection" -> batch ids still processing, oldest first
    "ledger",  # api|scope|key -> what was accepted and refused
    "counters",  # name -> last number handed out
)


class State:
    """All sandbox data, the issued tokens, the request statistics, and the writer of the optional state file."""

    arm: dict[str, Any]
    arm_batches: dict[str, Any]
    collection: dict[str, Any]
    collection_batches: dict[str, Any]
    ada_cases: dict[str, Any]
    ada_payments: dict[str, Any]
    ada_payouts: dict[str, Any]
    ada_index: dict[str, Any]
    pending: dict[str, Any]
    ledger: dict[str, Any]
    counters: dict[str, Any]

    def __init__(self, path: Path | None = None, flush_s: float = 0.5) -> None:
        self.path = path
        self.flush_s = flush_s
        # Requests by route template and status; runtime only, never persisted.
        self.stats: dict[str, dict[str, int]] = {}
        # Access token -> {"family": "bearer"|"ada", "client_id", "expires_at", "tenants"}. Never persisted (a
        # state file must hold no credentials) and kept on reset; after a restart clients log in again on the 401.
        self.tokens: dict[str, Any] = {}
        self._dirty = False
        self._handle: asyncio.TimerHandle | None = None
        # Epoch seconds now, for every handler (SandboxConfig.clock; create_app sets it).
        self.clock: Callable[[], float] = time.time
        for name in SECTIONS:
            setattr(self, name, {})

    @classmethod
    def open(cls, path: Path | None, flush_s: float = 0.5) -> State:
        """A state, loaded from `path` when that file exists."""
        state = cls(path, flush_s)
        if path is not None and path.exists():
            data = orjson.loads(path.read_bytes())
            if data.get("format") != _FORMAT:
                raise ValueError(f"{path}: not a sandbox state file of format {_FORMAT}")
            # A file written before tokens stopped being persisted may still hold them: they are ignored.
            for name in SECTIONS:
                setattr(state, name, data.get(name, {}))
        return state

    def is_empty(self) -> bool:
        """True when no data is stored (tokens do not count)."""
        return not any(getattr(self, name) for name in SECTIONS)

    def reset(self) -> None:
        """Forget all data and statistics; issued tokens stay valid so clients need not log in again."""
        for name in SECTIONS:
            setattr(self, name, {})
        self.stats = {}
        self.changed()

    def next_number(self, name: str, start: int) -> int:
        """The next number of a named sequence: `start`, then start+1, ..."""
        value = max(self.counters.get(name, start - 1) + 1, start)
        self.counters[name] = value
        return value

    # --- ledger -------------------------------------------------------------------------------------

    def ledger_accept(self, api: str, scope: str, key: str, minor: int, currency: str) -> None:
        """Record that the item `key` was applied (again, for APIs without a uniqueness rule)."""
        entry = self.ledger.get(_ledger_id(api, scope, key))
        if entry is None:
            self.ledger[_ledger_id(api, scope, key)] = {
                "api": api,
                "scope": scope,
                "key": key,
                "amount_minor": minor,
                "currency": currency,
                "accepted": 1,
                "duplicates_refused": 0,
            }
        else:
            if entry["accepted"] == 0:  # known so far only from a refusal (strict-unique): now the real amount
                entry.update(amount_minor=minor, currency=currency)
            entry["accepted"] += 1

    def ledger_refuse(self, api: str, scope: str, key: str, minor: int | None = None, currency: str = "") -> None:
        """Record that the item `key` came again and was refused as a duplicate.

        A no-op if `key` was never accepted, unless `minor` is given (strict-unique refuses a key still waiting
        in a queued batch, or repeated inside one request): then the entry starts with `accepted` 0."""
        entry = self.ledger.get(_ledger_id(api, scope, key))
        if entry is None and minor is not None:
            self.ledger_accept(api, scope, key, minor, currency)
            entry = self.ledger[_ledger_id(api, scope, key)]
            entry["accepted"] = 0
        if entry is not None:
            entry["duplicates_refused"] += 1

    def ledger_items(self, api: str | None = None) -> list[dict[str, Any]]:
        """The ledger as the introspection endpoint shows it, in the order items were first accepted."""
        return [
            {
                "api": e["api"],
                "scope": e["scope"],
                "key": e["key"],
                "amount": minor_str(e["amount_minor"]),
                "currency": e["currency"],
                "accepted": e["accepted"],
                "duplicates_refused": e["duplicates_refused"],
            }
            for e in self.ledger.values()
            if api is None or e["api"] == api
        ]

    # --- persistence --------------------------------------------------------------------------------

    def changed(self) -> None:
        """Note a mutation; the state file is written at most once per `flush_s` (if there is one)."""
        if self.path is None:
            return
        self._dirty = True
        if self._handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # Outside the server (start-up seeding): write now.
            self.flush()
            return
        # Debounced so a busy run writes a few times a second, not once per request.
        self._handle = loop.call_later(self.flush_s, self.flush)

    def flush(self) -> None:
        """Write the state file now if anything changed (temp file + rename, so it is never half written)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self.path is None or not self._dirty:
            return
        payload = {"format": _FORMAT, **{name: getattr(self, name) for name in SECTIONS}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(orjson.dumps(payload))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._dirty = False


def _ledger_id(api: str, scope: str, key: str) -> str:
    # A unit separator cannot occur in any of the three parts that clients send as JSON strings in practice.
    return f"{api}\x1f{scope}\x1f{key}"
