"""Collection payments: chunks under an Idempotency-Key, polled until SUCCESS / PARTIAL / FAILED."""

from __future__ import annotations

import asyncio

import orjson
import polars as pl

from etl.amili.collection import CollectionBatch, CollectionClient
from etl.amili.delivery.engine import LOOKUP_FIRST, Run, make_batch_key, poll, post_batch
from etl.amili.outbox import acknowledge_batch, batch_remote_ids, close_batch
from etl.amili.outcome import Outcome, error_message
from etl.config import CreditorConfig
from etl.errors import AmiliUnavailableError


async def deliver_collection(run: Run, c: CreditorConfig, rows: pl.DataFrame) -> None:
    """Deliver one creditor's Collection payments: earlier batches found again, new ones posted and polled."""
    api = "collection.payments"
    col = run.clients.collection(c)
    payload_of = dict(zip(rows.get_column("key").to_list(), rows.get_column("payload").to_list()))
    # 1. Batches of earlier attempts: by Amili's batch id, else searched by our Idempotency-Key, else resent
    #    under the same key (a replay is answered with the first batch, never applied twice).
    earlier = rows.filter(pl.col("state").is_in(list(LOOKUP_FIRST)) & pl.col("batch_key").is_not_null())
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
        batch_key = make_batch_key(api, c.name, keys)
        resp = await post_batch(run, api, c.name, keys,
                                 lambda: col.post_payments([orjson.Fragment(payload_of[k]) for k in keys], batch_key),
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


async def _finish_collection_batch(run: Run, col: CollectionClient, batch_key: str, batch: CollectionBatch,
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
        finished = await poll(run, check)
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
