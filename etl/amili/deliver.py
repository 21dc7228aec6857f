"""Deliver outbox items to Amili exactly once: each endpoint by its own semantics, every answer recorded.

Documents go first (payments may point at them). Per endpoint (docs/delivery.md):
- ARM documents: single POSTs for small runs, else /documents/batches in chunks, polled until 200/206;
- ARM payment reservations: one per request, `concurrency` at a time under the rate limit;
- ARM autopostings: all-or-nothing batches; failing postings isolated, innocent BATCH-REJECTED ones resent;
- Collection payments: chunks under an Idempotency-Key, polled until SUCCESS / PARTIAL / FAILED;
- ADA creditor payments: single POSTs, or bulk lists with the same isolation (`http.ada_batch_size`).
An item whose earlier attempt may have got through (state sent / acknowledged / unknown) is looked up first.
"""

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

from etl.amili.ada import AdaClient, only_not_unique
from etl.amili.arm import ArmClient
from etl.amili.auth import AdaAuth, NorwayAuth
from etl.amili.collection import CollectionBatch, CollectionClient
from etl.amili.outbox import (
    OUTCOME_SCHEMA,
    acknowledge_batch,
    add_run_items,
    batch_remote_ids,
    close_batch,
    mark_sent,
    open_batch,
    record_outcomes,
    unfinished_items,
)
from etl.amili.outcome import Outcome, error_message
from etl.amili.progress import Progress
from etl.amili.ratelimit import TokenBucket
from etl.amili.transport import AnswerLostError, Response, Transport
from etl.config import Config, CreditorConfig
from etl.errors import AmiliUnavailableError, ConfigError
from etl.money import format_minor
from etl.store import Store

__all__ = ["DeliveryReport", "deliver", "deliver_pending", "describe_plan", "dry_run_report", "ORDER"]

# Documents must exist before payments can point at them.
ORDER = ("arm.documents", "arm.paymentreservations", "arm.autopostings", "collection.payments", "ada.creditor-payments")
_FAMILY = {"arm.documents": "arm", "arm.paymentreservations": "arm", "arm.autopostings": "arm",
           "collection.payments": "collection", "ada.creditor-payments": "ada"}
_LOOKUP_FIRST = ("sent", "acknowledged", "unknown")
_CHUNK = 128  # single-request endpoints: items marked sent this many at a time, ahead of use
_FLUSH_ITEMS = 200  # ... and their answers recorded at least every this many items
_FLUSH_S = 0.5  # ... or this often


@dataclass
class DeliveryReport:
    """Per API: how many items this run POSTed, and how they ended."""

    sent: Counter[str] = field(default_factory=Counter)
    confirmed: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    pending: Counter[str] = field(default_factory=Counter)
    unavailable: list[str] = field(default_factory=list)  # one message per item that met an unreachable Amili
    requests: Counter[str] = field(default_factory=Counter)  # "POST 200", "POST 429", "GET timeout", ...


def _batch_key(api: str, creditor: str, keys: Iterable[str]) -> str:
    """Our id of a batch: stable for the same items, so a resend after a crash replays the same Idempotency-Key."""
    h = hashlib.sha256(f"{api}\n{creditor}\n".encode())
    for k in sorted(keys):
        h.update(k.encode() + b"\n")
    return h.hexdigest()[:32]


class _Clients:
    """One transport and per-creditor API clients, built on first use, with one rate limit per family+creditor."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.transport = Transport(config.http)
        self._made: dict[tuple[str, str], Any] = {}
        self._norway: dict[str, NorwayAuth] = {}

    def _limiter(self, family: str) -> TokenBucket:
        http = self.config.http
        return TokenBucket(float(http.rate_limits.get(family, http.rate_limit)))

    def _norway_auth(self, c: CreditorConfig) -> NorwayAuth:
        # ARM and Collection share the creditor's token.
        if c.name not in self._norway:
            self._norway[c.name] = NorwayAuth(self.transport, c)
        return self._norway[c.name]

    def arm(self, c: CreditorConfig) -> ArmClient:
        if ("arm", c.name) not in self._made:
            if not c.arm_base_url or c.arm_client_no is None:
                raise ConfigError(f"creditor {c.name!r}: arm.base_url and arm.client_no are required")
            self._made["arm", c.name] = ArmClient(self.transport, self._norway_auth(c), c.arm_base_url, c.arm_client_no,
                                                  self._limiter("arm"))
        return self._made["arm", c.name]

    def collection(self, c: CreditorConfig) -> CollectionClient:
        if ("collection", c.name) not in self._made:
            if not c.collection_base_url or not c.collection_org_id:
                raise ConfigError(f"creditor {c.name!r}: collection.base_url and collection.org_id are required")
            self._made["collection", c.name] = CollectionClient(
                self.transport, self._norway_auth(c), c.collection_base_url, c.collection_org_id,
                self._limiter("collection"))
        return self._made["collection", c.name]

    def ada(self, c: CreditorConfig) -> AdaClient:
        if ("ada", c.name) not in self._made:
            if not c.ada_base_url:
                raise ConfigError(f"creditor {c.name!r}: ada.base_url is required")
            self._made["ada", c.name] = AdaClient(self.transport, AdaAuth(self.transport, c), c.ada_base_url,
                                                  self._limiter("ada"))
        return self._made["ada", c.name]


class _Run:
    """One delivery: the store, the clients, progress, and a breaker per API family."""

    def __init__(self, store: Store, config: Config, run_id: str, clock: Callable[[], dt.datetime],
                 report: DeliveryReport, progress: Progress) -> None:
        self.store = store
        self.config = config
        self.run_id = run_id
        self.clock = clock
        self.report = report
        self.progress = progress
        self.clients = _Clients(config)
        self._failures: Counter[str] = Counter()  # consecutive unavailable answers per family
        self.down: set[str] = set()
        self._posted: dict[str, set[str]] = {}  # keys POSTed per API (an innocent resent is still one item)
        self.unreached: set[str] = set()  # document keys that met an unreachable Amili (their payments wait too)

    def posted(self, api: str, keys: list[str]) -> None:
        """Count items this run POSTed (report.sent)."""
        seen = self._posted.setdefault(api, set())
        seen.update(keys)
        self.report.sent[api] = len(seen)

    # -- breaker: after `concurrency` failures in a row with no answer between, a family is left for a rerun.
    def failed(self, family: str, exc: AmiliUnavailableError) -> None:
        self._failures[family] += 1
        if self._failures[family] >= max(2, self.config.http.concurrency):
            self.down.add(family)

    def answered(self, family: str) -> None:
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

    def skipped(self, api: str, keys: list[str]) -> None:
        """Items not tried because their family is down: they stay as they are, pending for a rerun."""
        self.report.unavailable.extend([f"{api}: not tried, Amili unreachable"] * len(keys))
        self.unreached.update(keys)
        self.progress.batch(api, len(keys), confirmed=0, rejected=0, pending=len(keys))


# --- single requests ------------------------------------------------------------------------------------


async def _singles(run: _Run, api: str, rows: pl.DataFrame,
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


async def _post_batch(run: _Run, api: str, creditor: str, keys: list[str], call: Callable[[], Awaitable[Response]],
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
        run.record(api, run.unavailable(family, exc, keys))
        return None
    except AmiliUnavailableError as exc:
        lost = run.unavailable(family, exc, keys)
        if api == "arm.autopostings":
            # Not idempotent, so only 429 / 503 / refused connections got here: nothing was applied, they may go again.
            lost = [(k, Outcome("intent", None, o.message)) for k, o in lost]
        run.record(api, lost)
        return None
    run.answered(family)
    run.posted(api, keys)
    return resp


# --- ARM documents --------------------------------------------------------------------------------------


async def _documents(run: _Run, c: CreditorConfig, rows: pl.DataFrame) -> None:
    api = "arm.documents"
    arm = run.clients.arm(c)
    polled = await _resume_document_batches(run, c, arm, rows)
    rows = rows.filter(~pl.col("key").is_in(polled))
    if rows.height == 0:
        return
    if rows.height < run.config.http.document_batch_min:
        async def send(row: dict[str, Any]) -> tuple[Outcome, bool]:
            doc = orjson.loads(row["payload"])
            if row["state"] in _LOOKUP_FIRST:
                found = await arm.find_document(str(doc["documentNo"]))
                if found is not None:
                    return found, False
            return await arm.create_document(doc), True

        await _singles(run, api, rows, send)
        return
    # A resend of a document batch is safe: ARM answers an identical documentNo with EXISTS, never twice.
    # Batches are posted one after the other and polled side by side.
    polls: list[asyncio.Task[None]] = []
    for chunk in rows.iter_slices(run.config.http.document_batch_size):
        keys = chunk.get_column("key").to_list()
        docs = [orjson.loads(p) for p in chunk.get_column("payload").to_list()]
        batch_key = _batch_key(api, c.name, keys)
        resp = await _post_batch(run, api, c.name, keys, lambda: arm.post_document_batch(docs), batch_key)
        if resp is None:
            continue
        uuid = resp.body.get("batchUuid") if isinstance(resp.body, dict) else None
        if resp.status not in (200, 201, 202) or not uuid:
            msg = error_message(resp.body)
            run.record(api, [(k, Outcome("rejected", resp.status, msg, body=resp.body)) for k in keys])
            close_batch(run.store, batch_key, run.clock())
            continue
        acknowledge_batch(run.store, batch_key, api, str(uuid), run.clock())
        polls.append(asyncio.create_task(
            _poll_document_batch(run, arm, batch_key, str(uuid), dict(zip(_document_nos(chunk), keys)))))
    await asyncio.gather(*polls)


def _document_nos(rows: pl.DataFrame) -> list[str]:
    return [str(orjson.loads(p)["documentNo"]) for p in rows.get_column("payload").to_list()]


async def _resume_document_batches(run: _Run, c: CreditorConfig, arm: ArmClient, rows: pl.DataFrame) -> list[str]:
    """Items acknowledged in an earlier run's batch: resolved from that batch's status, never resent."""
    acked = rows.filter((pl.col("state") == "acknowledged") & pl.col("batch_key").is_not_null())
    done: list[str] = []
    polls = []
    remote = batch_remote_ids(run.store, acked.get_column("batch_key").unique().to_list())
    for (batch_key,), part in acked.group_by(["batch_key"], maintain_order=True):
        uuid = remote.get(str(batch_key))
        if not uuid:
            continue
        keys = part.get_column("key").to_list()
        polls.append(_poll_document_batch(run, arm, str(batch_key), uuid, dict(zip(_document_nos(part), keys))))
        done += keys
    await asyncio.gather(*polls)
    return done


async def _poll(run: _Run, check: Callable[[], Awaitable[bool]]) -> bool:
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


async def _poll_document_batch(run: _Run, arm: ArmClient, batch_key: str, uuid: str, by_doc_no: dict[str, str]) -> None:
    api = "arm.documents"
    status: list[Any] = []

    async def check() -> bool:
        st = await arm.batch_status(uuid)
        status[:] = [st]
        return st.done

    try:
        finished = await _poll(run, check)
    except AmiliUnavailableError as exc:
        run.failed("arm", exc)
        run.progress.batch(api, len(by_doc_no), pending=len(by_doc_no))
        return  # items stay acknowledged: the next run polls this batch again
    if not finished:
        run.progress.batch(api, len(by_doc_no), pending=len(by_doc_no))
        return
    outcomes = status[0].outcomes
    results = []
    for doc_no, key in by_doc_no.items():
        o = outcomes.get(doc_no)
        results.append((key, o if o is not None else Outcome("unknown", None, f"not in the result of batch {uuid}")))
    run.record(api, results)
    close_batch(run.store, batch_key, run.clock())


# --- ARM payment reservations ---------------------------------------------------------------------------


async def _reservations(run: _Run, c: CreditorConfig, rows: pl.DataFrame) -> None:
    arm = run.clients.arm(c)

    async def send(row: dict[str, Any]) -> tuple[Outcome, bool]:
        # ARM answers a repeated paymentId with the first answer and stores nothing: a resend is the lookup.
        return await arm.create_reservation(ArmClient.reservation_body(row["payload"])), True

    await _singles(run, "arm.paymentreservations", rows, send)


# --- ARM autopostings -----------------------------------------------------------------------------------


async def _autopostings(run: _Run, c: CreditorConfig, rows: pl.DataFrame) -> None:
    api = "arm.autopostings"
    arm = run.clients.arm(c)
    # ARM has no uniqueness rule and no lookup for autopostings: one whose earlier attempt may have been applied
    # is never resent blind; it stays unknown until a person checks the AR item (docs/delivery.md).
    doubtful = rows.filter(pl.col("state").is_in(["sent", "unknown"]))
    if doubtful.height:
        run.record(api, [(k, Outcome("unknown", None, "an earlier attempt may have been applied and ARM offers no "
                                     "lookup for autopostings: check the AR item in ARM")) for k in doubtful.get_column("key")])
    rows = rows.filter(~pl.col("state").is_in(["sent", "unknown"]))
    if rows.height == 0:
        return
    payloads = {k: orjson.loads(p) for k, p in rows.select("key", "payload").iter_rows()}
    postings, results = await _resolve_postings(arm, payloads, run.config.http.concurrency)
    run.record(api, results)
    queue = [list(postings)[i:i + run.config.http.autoposting_batch_size]
             for i in range(0, len(postings), run.config.http.autoposting_batch_size)]
    while queue:
        keys = queue.pop(0)
        resp = await _post_batch(run, api, c.name, keys,
                                 lambda: arm.autopost(c.arm_autoposting_method, [postings[k] for k in keys]))
        if resp is None:
            continue
        done, retry = _autoposting_results(resp.status, resp.body, keys)
        run.record(api, done)
        queue = retry + queue


def _autoposting_results(status: int, body: Any, keys: list[str]) -> tuple[list[tuple[str, Outcome]], list[list[str]]]:
    """Outcomes of one batch answer, and the batches to send again (innocent postings, or halves to bisect)."""
    if status in (200, 201):
        return [(k, Outcome("confirmed", status, "posted", body=None)) for k in keys], []
    items = body.get("autoPostings") if isinstance(body, dict) else None
    if isinstance(items, list) and len(items) == len(keys) and all(isinstance(i, dict) for i in items):
        done, innocent = [], []
        for k, item in zip(keys, items):
            if item.get("resultType") == "BATCH-REJECTED":
                innocent.append(k)
            else:
                done.append((k, Outcome("rejected", status, f"{item.get('resultType')}: {item.get('message')}", body=item)))
        if done:  # at least one culprit named: resend the innocent together
            return done, ([innocent] if innocent else [])
    if len(keys) == 1 or status not in (400, 422):
        return [(k, Outcome("rejected", status, error_message(body), body=body)) for k in keys], []
    half = len(keys) // 2  # no per-posting results: bisect until the culprits stand alone
    return [], [keys[:half], keys[half:]]


async def _resolve_postings(arm: ArmClient, payloads: dict[str, dict[str, Any]],
                            concurrency: int) -> tuple[dict[str, dict[str, Any]], list[tuple[str, Outcome]]]:
    """The postings by key with arItemId found from each documentNo; items whose document ARM lacks are rejected."""
    doc_nos = sorted({str(p["documentNo"]) for p in payloads.values()})
    sem = asyncio.Semaphore(concurrency)

    async def one(doc_no: str) -> tuple[str, str | None]:
        async with sem:
            return doc_no, await arm.find_ar_item(doc_no)

    found = dict(await asyncio.gather(*(one(d) for d in doc_nos)))
    postings, rejected = {}, []
    for key, p in payloads.items():
        item = found.get(str(p["documentNo"]))
        if item is None:
            rejected.append((key, Outcome("rejected", 404, f"no AR item for documentNo {p['documentNo']}")))
            continue
        postings[key] = {"arItemId": item, **{k: v for k, v in p.items() if k != "documentNo"}}
    return postings, rejected


# --- Collection payments --------------------------------------------------------------------------------


async def _collection(run: _Run, c: CreditorConfig, rows: pl.DataFrame) -> None:
    api = "collection.payments"
    col = run.clients.collection(c)
    payload_of = dict(zip(rows.get_column("key").to_list(), rows.get_column("payload").to_list()))
    # 1. Batches of earlier attempts: by Amili's batch id, else searched by our Idempotency-Key, else resent
    #    under the same key (a replay is answered with the first batch, never applied twice).
    earlier = rows.filter(pl.col("state").is_in(list(_LOOKUP_FIRST)) & pl.col("batch_key").is_not_null())
    remote = batch_remote_ids(run.store, earlier.get_column("batch_key").unique().to_list())
    fresh = rows.filter(~pl.col("key").is_in(earlier.get_column("key").to_list()))
    resend: list[list[str]] = []
    polls: list[asyncio.Task[None]] = []  # batches are posted one after the other and polled side by side
    for (batch_key,), part in earlier.group_by(["batch_key"], maintain_order=True):
        keys = sorted(part.get_column("key").to_list())
        try:
            batch = await col.batch(remote[batch_key]) if remote.get(batch_key) else await col.find_batch(str(batch_key))
        except AmiliUnavailableError as exc:
            run.failed("collection", exc)
            run.skipped(api, keys)
            continue
        if batch is None:
            resend.append(keys)
            continue
        acknowledge_batch(run.store, str(batch_key), api, batch.batch_id, run.clock())
        polls.append(asyncio.create_task(_finish_collection_batch(run, col, str(batch_key), batch, keys)))
    # 2. New chunks (and the resends, each exactly as first composed so its key and body match).
    size = run.config.http.collection_batch_size
    fresh_keys = fresh.get_column("key").to_list()
    # Keys sorted in every body: a resend of the same items is then byte for byte the first request.
    queue = resend + [sorted(fresh_keys[i:i + size]) for i in range(0, len(fresh_keys), size)]
    while queue:
        keys = queue.pop(0)
        batch_key = _batch_key(api, c.name, keys)
        resp = await _post_batch(run, api, c.name, keys,
                                 lambda: col.post_payments([orjson.loads(payload_of[k]) for k in keys], batch_key),
                                 batch_key)
        if resp is None:
            continue
        data = resp.body.get("data") if isinstance(resp.body, dict) else None
        if resp.status == 202 and isinstance(data, dict) and data.get("batchId"):
            acknowledge_batch(run.store, batch_key, api, str(data["batchId"]), run.clock())
            polls.append(asyncio.create_task(
                _finish_collection_batch(run, col, batch_key, CollectionBatch(str(data["batchId"]), "QUEUED", {}), keys)))
            continue
        close_batch(run.store, batch_key, run.clock())
        refused = CollectionClient.refused_indexes(resp.body) if resp.status == 422 else {}
        if refused and len(refused) < len(keys):
            # The named payments are refused; the rest were innocent and go again in a batch of their own.
            run.record(api, [(keys[i], Outcome("rejected", 422, msg, body=resp.body)) for i, msg in sorted(refused.items())])
            queue.insert(0, sorted(k for i, k in enumerate(keys) if i not in refused))
            continue
        state = "unknown" if resp.status == 409 else "rejected"
        msg = refused if refused else None
        run.record(api, [(k, Outcome(state, resp.status, (msg or {}).get(i) or error_message(resp.body), body=resp.body))
                         for i, k in enumerate(keys)])
    await asyncio.gather(*polls)


async def _finish_collection_batch(run: _Run, col: CollectionClient, batch_key: str, batch: CollectionBatch,
                                   keys: list[str]) -> None:
    """Poll a batch to SUCCESS / PARTIAL / FAILED and map its items back; past the poll limit they stay pending."""
    api = "collection.payments"
    latest = [batch]

    async def check() -> bool:
        if latest[0].done:
            return True
        got = await col.batch(latest[0].batch_id)
        if got is not None:
            latest[0] = got
        return latest[0].done

    try:
        finished = await _poll(run, check)
    except AmiliUnavailableError as exc:
        run.failed("collection", exc)
        finished = False
    if not finished:
        run.progress.batch(api, len(keys), pending=len(keys))
        return  # acknowledged: the next run polls this batch again
    outcomes = latest[0].outcomes
    run.record(api, [(k, outcomes.get(k) or Outcome("unknown", 200, f"not in the result of batch {latest[0].batch_id}"))
                     for k in keys])
    close_batch(run.store, batch_key, run.clock())


# --- ADA creditor payments ------------------------------------------------------------------------------


async def _ada(run: _Run, c: CreditorConfig, rows: pl.DataFrame) -> None:
    api = "ada.creditor-payments"
    ada = run.clients.ada(c)

    async def send(row: dict[str, Any]) -> tuple[Outcome, bool]:
        payment = orjson.loads(row["payload"])
        if row["state"] in _LOOKUP_FIRST:
            found = await ada.find_payment(str(payment["creditor_payment_reference"]))
            if found is not None:
                return ada.outcome_of(found, 200), False
        return await ada.create_payment(payment), True

    size = run.config.http.ada_batch_size
    if size <= 0:
        await _singles(run, api, rows, send)
        return
    # Bulk: look the doubtful ones up one by one first (rare), then all-or-nothing lists with isolation.
    doubtful = rows.filter(pl.col("state").is_in(list(_LOOKUP_FIRST)))
    if doubtful.height:
        await _singles(run, api, doubtful, send)
        rows = rows.filter(~pl.col("key").is_in(doubtful.get_column("key").to_list()))
    payload_of = {k: orjson.loads(p) for k, p in rows.select("key", "payload").iter_rows()}
    keys_all = list(payload_of)
    queue = [keys_all[i:i + size] for i in range(0, len(keys_all), size)]

    async def worker() -> None:
        while queue:  # a worker that puts innocent payments back keeps going, so none is left behind
            keys = queue.pop(0)
            resp = await _post_batch(run, api, c.name, keys, lambda: ada.create_bulk([payload_of[k] for k in keys]))
            if resp is None:
                continue
            done, innocent = await _ada_bulk_results(ada, resp.status, resp.body, keys)
            run.record(api, done)
            if innocent:
                queue.insert(0, innocent)

    await asyncio.gather(*(worker() for _ in range(min(run.config.http.concurrency, len(queue)))))


async def _ada_bulk_results(ada: AdaClient, status: int, body: Any, keys: list[str]) -> tuple[list[tuple[str, Outcome]], list[str]]:
    """Outcomes of one bulk answer, and the innocent payments of a refused list (to send again without the culprits)."""
    items = body.get("_items") if isinstance(body, dict) else None
    if not (isinstance(items, list) and len(items) == len(keys) and status in (201, 422)):
        return [(k, Outcome("rejected", status, error_message(body), body=body)) for k in keys], []
    if status == 201:
        return list(zip(keys, await asyncio.gather(*(ada.answered(i, 201) for i in items)))), []
    done, innocent, already = [], [], []
    for k, item in zip(keys, items):
        issues = item.get("_issues") if isinstance(item, dict) else None
        if not issues:
            innocent.append(k)
        elif only_not_unique(issues):
            already.append(k)  # an earlier attempt got through (a lost answer): read it back
        else:
            done.append((k, Outcome("rejected", 422, error_message({"_issues": issues}), body=item)))
    found = await asyncio.gather(*(ada.find_payment(k) for k in already))
    done += [(k, ada.outcome_of(f, 200) if f else Outcome("unknown", 422, "not unique, yet not found"))
             for k, f in zip(already, found)]
    return done, innocent


_STRATEGY: dict[str, Callable[[_Run, CreditorConfig, pl.DataFrame], Awaitable[None]]] = {
    "arm.documents": _documents,
    "arm.paymentreservations": _reservations,
    "arm.autopostings": _autopostings,
    "collection.payments": _collection,
    "ada.creditor-payments": _ada,
}


# --- entry points ---------------------------------------------------------------------------------------


def _check_credentials(config: Config, items: pl.DataFrame) -> None:
    """Fail before anything is marked sent when a creditor's secrets are missing from the environment."""
    for name, api in items.select("creditor", "api").unique().sort("creditor", "api").iter_rows():
        c = config.creditor(name)
        if api.startswith(("arm.", "collection.")) and not (c.secrets.client_id and c.secrets.client_secret):
            raise ConfigError(f"creditor {name!r}: set the environment variables {c.client_id_env} and {c.client_secret_env}")
        if api.startswith("ada.") and not c.secrets.ada_api_code:
            raise ConfigError(f"creditor {name!r}: set the environment variable {c.ada_api_code_env}")


def _waiting_for_documents(store: Store, items: pl.DataFrame) -> pl.DataFrame:
    """(creditor, invoice_number) of this delivery's ARM documents that have no final answer yet."""
    docs = items.filter(pl.col("api") == "arm.documents").select("api", "key")
    if docs.height == 0:
        return pl.DataFrame(schema={"creditor": pl.String, "invoice_number": pl.String, "doc_key": pl.String})
    store.con.register("_docs", docs)
    try:
        return store.frame("SELECT o.creditor, o.invoice_number, any_value(o.key) AS doc_key FROM outbox o "
                           "JOIN _docs d USING (api, key) WHERE o.state NOT IN ('confirmed', 'rejected') GROUP BY ALL")
    finally:
        store.con.unregister("_docs")


async def _deliver(run: _Run, items: pl.DataFrame) -> None:
    waiting = None
    try:
        for api in ORDER:
            part = items.filter(pl.col("api") == api)
            if part.height == 0:
                continue
            run.progress.start(api, part.height)
            try:
                if api in ("arm.paymentreservations", "arm.autopostings"):
                    # A payment must not overtake its document: while the document is pending (its batch still
                    # processing, Amili away), the payment waits with it for a rerun instead of being refused.
                    waiting = _waiting_for_documents(run.store, items) if waiting is None else waiting
                    held = part.join(waiting, on=["creditor", "invoice_number"], how="inner")
                    if held.height:
                        unreached = held.filter(pl.col("doc_key").is_in(list(run.unreached))).height
                        run.report.unavailable.extend([f"{api}: waits for its document; Amili unreachable"] * unreached)
                        run.progress.batch(api, held.height, confirmed=0, rejected=0, pending=held.height)
                        part = part.join(waiting, on=["creditor", "invoice_number"], how="anti")
                for (creditor,), rows in part.group_by(["creditor"], maintain_order=True):
                    await _STRATEGY[api](run, run.config.creditor(str(creditor)), rows)
            finally:
                run.progress.finish(api)
    finally:
        run.report.requests.update(run.clients.transport.stats)
        await run.clients.transport.aclose()


def _final_counts(store: Store, items: pl.DataFrame, report: DeliveryReport) -> None:
    """confirmed / rejected / pending per API, read back from the outbox: what the state file says is the truth."""
    store.con.register("_delivered", items.select("api", "key"))
    try:
        rows = store.execute(
            "SELECT o.api, o.state, count(*) FROM outbox o JOIN _delivered d USING (api, key) GROUP BY ALL").fetchall()
    finally:
        store.con.unregister("_delivered")
    for api, state, n in rows:
        target = report.confirmed if state == "confirmed" else report.rejected if state == "rejected" else report.pending
        target[api] += n


def deliver(store: Store, config: Config, run_id: str, items: pl.DataFrame, clock: Callable[[], dt.datetime],
            progress: Progress | None = None) -> DeliveryReport:
    """Send every item of `items` (outbox rows: api, key, creditor, payload, state, batch_key) and record each answer.

    Never raises for Amili's answers or its absence: what could not be delivered is pending in the report
    (and in the outbox, for a rerun). Raises ConfigError when a creditor's secrets are missing.
    """
    report = DeliveryReport()
    if items.height == 0:
        return report
    if "batch_key" not in items.columns:
        items = items.with_columns(pl.lit(None, pl.String).alias("batch_key"))
    _check_credentials(config, items)
    run = _Run(store, config, run_id, clock, report, progress or Progress())
    asyncio.run(_deliver(run, items))
    _final_counts(store, items, report)
    return report


def deliver_pending(store: Store, config: Config, run_id: str, clock: Callable[[], dt.datetime], *,
                    creditors: list[str] | None = None, apis: list[str] | None = None,
                    progress: Progress | None = None) -> DeliveryReport:
    """Deliver every unfinished outbox item (intent, sent, acknowledged, unknown) of the configured creditors.

    For `rerun RUN_ID`: the items are added to `run_id`'s run_items (action deliver) so its reports see them.
    """
    names = creditors if creditors is not None else [c.name for c in config.creditors]
    items = unfinished_items(store, names, apis)
    add_run_items(store, run_id, items)
    return deliver(store, config, run_id, items, clock, progress)


def describe_plan(items: pl.DataFrame, config: Config) -> list[str]:
    """For --dry-run: per endpoint, what would be sent (items, requests, amount per currency)."""
    lines = []
    http = config.http
    for api in ORDER:
        part = items.filter(pl.col("api") == api)
        if part.height == 0:
            continue
        n = part.height
        if api == "arm.documents" and n >= http.document_batch_min:
            how = f"{-(-n // http.document_batch_size)} batch(es) to /documents/batches"
        elif api == "collection.payments":
            how = f"{-(-n // http.collection_batch_size)} batch(es)"
        elif api == "arm.autopostings":
            how = f"{-(-n // http.autoposting_batch_size)} all-or-nothing batch(es)"
        elif api == "ada.creditor-payments" and http.ada_batch_size > 0:
            how = f"{-(-n // http.ada_batch_size)} bulk request(s)"
        else:
            how = f"{n} request(s)"
        sums = part.group_by("currency").agg(pl.col("amount_minor").sum()).sort("currency")
        money = ", ".join(f"{cur} {format_minor(int(v))}" for cur, v in sums.iter_rows())
        lines.append(f"  {api:<26} {n:>7} item(s) in {how}; {money}")
    return lines


def _validate_only(config: Config, items: pl.DataFrame) -> list[str]:
    """For --dry-run: ARM autopostings validated by ARM itself (validateOnly: nothing is stored)."""
    part = items.filter(pl.col("api") == "arm.autopostings")
    if part.height == 0:
        return []

    async def go() -> list[str]:
        clients = _Clients(config)
        lines: list[str] = []
        try:
            for (name,), rows in part.group_by(["creditor"], maintain_order=True):
                c = config.creditor(str(name))
                if not (c.secrets.client_id and c.secrets.client_secret):
                    lines.append(f"    {c.name}: not validated (no credentials in the environment)")
                    continue
                arm = clients.arm(c)
                payloads = {k: orjson.loads(p) for k, p in rows.select("key", "payload").iter_rows()}
                postings, refused = await _resolve_postings(arm, payloads, config.http.concurrency)
                problems = [(k, o.message) for k, o in refused]
                keys = list(postings)
                for i in range(0, len(keys), config.http.autoposting_batch_size):
                    chunk = keys[i:i + config.http.autoposting_batch_size]
                    resp = await arm.autopost(c.arm_autoposting_method, [postings[k] for k in chunk], validate_only=True)
                    results = resp.body.get("autoPostings") if isinstance(resp.body, dict) else None
                    if resp.status == 200:
                        continue
                    if isinstance(results, list) and len(results) == len(chunk):
                        problems += [(k, f"{r.get('resultType')}: {r.get('message')}") for k, r in zip(chunk, results)
                                     if isinstance(r, dict) and r.get("resultType") != "BATCH-REJECTED"]
                    else:
                        problems += [(k, error_message(resp.body)) for k in chunk]
                lines.append(f"    {c.name}: validateOnly: {rows.height - len(problems)} valid, {len(problems)} refused")
                lines += [f"      {k}: {m}" for k, m in problems[:20]]
        except AmiliUnavailableError as exc:
            lines.append(f"    not validated: {exc}")
        finally:
            await clients.transport.aclose()
        return lines

    return asyncio.run(go())


def dry_run_report(config: Config, items: pl.DataFrame) -> list[str]:
    """--dry-run: per endpoint what would be sent, and ARM's own validation of autopostings (validateOnly)."""
    return describe_plan(items, config) + _validate_only(config, items)
