"""The delivery run's machinery: order, report, run state and breaker, single and batch requests, polling."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import polars as pl

from etl.amili.delivery.clients import Clients
from etl.amili.outbox import OUTCOME_SCHEMA, mark_sent, open_batch, record_outcomes
from etl.amili.outcome import DUPLICATE, Outcome
from etl.amili.progress import Progress
from etl.amili.transport import AnswerLostError, Response
from etl.config import Config
from etl.errors import AmiliUnavailableError
from etl.store import Store


# Documents must exist before payments can point at them.
ORDER = ("arm.documents", "arm.paymentreservations", "arm.autopostings", "collection.payments", "ada.creditor-payments")
_FAMILY = {"arm.documents": "arm", "arm.paymentreservations": "arm", "arm.autopostings": "arm",
           "collection.payments": "collection", "ada.creditor-payments": "ada"}
LOOKUP_FIRST = ("sent", "acknowledged", "unknown")
_CHUNK = 128  # single-request endpoints: items marked sent this many at a time, ahead of use
_FLUSH_ITEMS = 200  # ... and their answers recorded at least every this many items
_FLUSH_S = 0.5  # ... or this often
# An item whose answer was lost is looked up and, if Amili does not have it, sent again at most this many
# times in one run; after that it stays unknown for the next run (which looks it up first).
ROUNDS = 5


@dataclass
class DeliveryReport:
    """Per API: how many items this run POSTed, and how they ended."""

    sent: Counter[str] = field(default_factory=Counter)
    confirmed: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    pending: Counter[str] = field(default_factory=Counter)
    unavailable: list[str] = field(default_factory=list)  # one message per item that met an unreachable Amili
    requests: Counter[str] = field(default_factory=Counter)  # "POST 200", "POST 429", "GET timeout", ...

    def unreachable_reason(self) -> str | None:
        """What met an unreachable Amili first: the method, the URL and the error (for the operator), or None."""
        import re

        prefix = "Amili unavailable: "
        first = next((m for m in self.unavailable if m.startswith(prefix)), None)
        if first is None:
            return self.unavailable[0] if self.unavailable else None
        text = first[len(prefix):]
        # "POST https://host/token: cannot connect (...)" -> the error first, then where: a URL ending in /token
        # followed by text would read as a credential to the log's masking and be redacted.
        found = re.fullmatch(r"([A-Z]+) (\S+): (.*)", text, re.S)
        return f"{found[3]} on {found[1]} {found[2]}" if found else text

    def note_unreachable(self, summary: dict[str, Any]) -> None:
        """When Amili could not be reached: an `amili_unreachable` error event in the run log, and the reason in
        the summary's `error` (the CLI's last line on stderr, `show`)."""
        import logging

        from etl.logs import log_event

        why = self.unreachable_reason()
        if why is None:
            return
        log_event("amili_unreachable", f"Amili unreachable: {why}", logging.ERROR, error=why,
                  items=len(self.unavailable))
        summary["error"] = (f"Amili unreachable: {why}; {len(self.unavailable)} item(s) not delivered, nothing lost: "
                            "rerun later")


def make_batch_key(api: str, creditor: str, keys: Iterable[str]) -> str:
    """Our id of a batch: stable for the same items, so a resend after a crash replays the same Idempotency-Key."""
    h = hashlib.sha256(f"{api}\n{creditor}\n".encode())
    for k in sorted(keys):
        h.update(k.encode() + b"\n")
    return h.hexdigest()[:32]


class Run:
    """One delivery: the store, the clients, progress, and a breaker per API family."""

    def __init__(self, store: Store, config: Config, run_id: str, clock: Callable[[], dt.datetime],
                 report: DeliveryReport, progress: Progress) -> None:
        self.store = store
        self.config = config
        self.run_id = run_id
        self.clock = clock
        self.report = report
        self.progress = progress
        self.clients = Clients(config)
        self._failures: Counter[str] = Counter()  # consecutive unavailable answers per family
        self.down: set[str] = set()
        self._posted: dict[str, set[str]] = {}  # keys POSTed per API (an innocent resent is still one item)
        self.unreached: set[str] = set()  # document keys that met an unreachable Amili (their payments wait too)
        self.lost: dict[str, list[str]] = {}  # keys per API whose batch POST's answer was lost (looked up later)

    def posted(self, api: str, keys: list[str]) -> None:
        """Count items this run POSTed (report.sent)."""
        seen = self._posted.setdefault(api, set())
        seen.update(keys)
        self.report.sent[api] = len(seen)

    # -- breaker: after `concurrency` failures in a row with no answer between, a family is left for a rerun.
    def failed(self, family: str, exc: AmiliUnavailableError) -> None:
        """Count one request of `family` that met an unreachable Amili."""
        self._failures[family] += 1
        if self._failures[family] >= max(2, self.config.http.concurrency):
            self.down.add(family)

    def answered(self, family: str) -> None:
        """Amili answered `family`: its run of failures starts again from zero."""
        self._failures[family] = 0

    def record(self, api: str, results: list[tuple[str, Outcome]]) -> None:
        """Store outcomes (one transaction) and report the batch."""
        if not results:
            return
        rows = [{"key": k, "state": o.state, "http_status": o.http_status, "message": o.message,
                 "amili_id": o.amili_id, "settled_minor": o.settled_minor,
                 "body": orjson.dumps(o.body).decode() if o.body is not None else None} for k, o in results]
        record_outcomes(self.store, self.run_id, api, pl.DataFrame(rows, schema=OUTCOME_SCHEMA), self.clock())
        states = Counter(o.state for _, o in results)
        self.progress.batch(api, len(results), confirmed=states["confirmed"], rejected=states["rejected"],
                            pending=len(results) - states["confirmed"] - states["rejected"])

    def unavailable(self, family: str, exc: AmiliUnavailableError, keys: list[str]) -> list[tuple[str, Outcome]]:
        """Outcomes for items that met an unreachable Amili: unknown (looked up before any resend)."""
        self.failed(family, exc)
        self.report.unavailable.extend([str(exc)] * len(keys))
        self.unreached.update(keys)
        return [(k, Outcome("unknown", None, str(exc)[:1000])) for k in keys]

    def take_lost(self, api: str) -> list[str]:
        """The keys of `api` whose batch answer was lost since the last call (to look up, then resend if absent)."""
        return self.lost.pop(api, [])

    def skipped(self, api: str, keys: list[str]) -> None:
        """Items not tried because their family is down: they stay as they are, pending for a rerun."""
        self.report.unavailable.extend([f"{api}: not tried, Amili unreachable"] * len(keys))
        self.unreached.update(keys)
        self.progress.batch(api, len(keys), confirmed=0, rejected=0, pending=len(keys))


async def singles(run: Run, api: str, rows: pl.DataFrame,
                   send: Callable[[dict[str, Any]], Awaitable[tuple[Outcome, bool]]]) -> None:
    """Send one request per item, `concurrency` at a time.

    Items are marked sent a slice ahead of use, and answers recorded every `_FLUSH_ITEMS` items or `_FLUSH_S`
    seconds: few small transactions, and a crash loses at most that much progress (never correctness).
    """
    family = _FAMILY[api]
    items = rows.select("key", "state", "payload").to_dicts()
    results: list[tuple[str, Outcome]] = []
    marked = 0
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal results, last_flush
        run.record(api, results)
        results, last_flush = [], time.monotonic()

    it = iter(enumerate(items))

    async def worker() -> None:
        nonlocal marked
        for i, row in it:
            if family in run.down:
                run.skipped(api, [row["key"]])
                continue
            if i >= marked:  # no await between the check and the update: one worker marks each slice
                upto = min(len(items), i + _CHUNK)
                mark_sent(run.store, api, [r["key"] for r in items[i:upto] if r["state"] != "acknowledged"], run.clock())
                marked = upto
            try:
                outcome, posted = await send(row)
            except AmiliUnavailableError as exc:
                results.extend(run.unavailable(family, exc, [row["key"]]))
            else:
                run.answered(family)
                if posted:
                    run.posted(api, [row["key"]])
                results.append((row["key"], outcome))
            if len(results) >= _FLUSH_ITEMS or time.monotonic() - last_flush >= _FLUSH_S:
                flush()

    await asyncio.gather(*(worker() for _ in range(min(run.config.http.concurrency, len(items)))))
    flush()


async def post_batch(run: Run, api: str, creditor: str, keys: list[str], call: Callable[[], Awaitable[Response]],
                      batch_key: str | None = None) -> Response | None:
    """One request for many items: not tried when the family is down; marked sent (with its batch row when it
    has one) before it goes; Amili unreachable leaves them unknown. Returns the answer, or None."""
    family = _FAMILY[api]
    if family in run.down:
        run.skipped(api, keys)
        return None
    if batch_key is not None:
        open_batch(run.store, batch_key, api, creditor, keys, run.clock())
    else:
        mark_sent(run.store, api, keys, run.clock())
    try:
        resp = await call()
    except AnswerLostError as exc:
        # The request may have been applied: its items are unknown until a lookup says otherwise, never resent blind.
        run.failed(family, exc)
        run.lost.setdefault(api, []).extend(keys)
        run.record(api, [(k, Outcome("unknown", None, f"answer lost, to be looked up: {exc}"[:1000])) for k in keys])
        return None
    except AmiliUnavailableError as exc:
        # Only failures that prove nothing was processed (429, refused connections) get here after the retries.
        lost = [(k, Outcome("intent", None, o.message)) for k, o in run.unavailable(family, exc, keys)]
        run.record(api, lost)
        return None
    run.answered(family)
    run.posted(api, keys)
    return resp


async def deliver_one(row: dict[str, Any], create: Callable[[], Awaitable[Outcome]],
                      lookup: Callable[[], Awaitable[Outcome | None]] | None) -> tuple[Outcome, bool]:
    """Send one item so that Amili holds it once: (its outcome, whether a POST went out).

    An item whose earlier attempt may have got through (state sent / acknowledged / unknown) is looked up first;
    a lost answer is looked up before the item goes again. `lookup` None means the API has no lookup but refuses
    a repeated key (ARM paymentId): then the item is simply sent again. A refusal that names the key as held
    already (DUPLICATE) is "delivered before": confirmed by the lookup, or as it stands when there is none.
    """
    doubtful = row["state"] in LOOKUP_FIRST
    posted = False
    lost: Exception | None = None
    for _ in range(ROUNDS):
        if doubtful and lookup is not None:
            found = await lookup()
            if found is not None:
                return found, posted
        try:
            outcome = await create()
        except AnswerLostError as exc:
            posted, doubtful, lost = True, True, exc
            continue
        posted = True
        if outcome.state != DUPLICATE:
            return outcome, posted
        if lookup is None:
            return Outcome("confirmed", outcome.http_status, f"delivered before (Amili: {outcome.message})"[:1000],
                           body=outcome.body), posted
        found = await lookup()
        return found or Outcome("unknown", outcome.http_status,
                                f"refused as a duplicate, yet not found by the lookup: {outcome.message}"[:1000]), posted
    if lookup is not None:
        found = await lookup()
        if found is not None:
            return found, posted
    return Outcome("unknown", None, f"answer lost {ROUNDS} times, last: {lost}; looked up before any resend"[:1000]), posted


async def settle_wait(run: Run) -> None:
    """Wait long enough for Amili to finish an asynchronous batch it may have taken, before a lookup that finds
    nothing is trusted to mean 'not there' (`http.lookup_settle_s`)."""
    await asyncio.sleep(run.config.http.lookup_settle_s)


async def poll(run: Run, check: Callable[[], Awaitable[bool]]) -> bool:
    """Call `check` with backoff (interval growing to 2 s) until it is True or the poll limit passes."""
    http = run.config.http
    deadline = time.monotonic() + http.poll_timeout_s
    wait = http.poll_interval_s
    while True:
        if await check():
            return True
        if time.monotonic() + wait > deadline:
            return False
        await asyncio.sleep(wait)
        wait = min(wait * 1.5, 2.0)
