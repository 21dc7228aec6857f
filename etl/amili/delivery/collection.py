"""Collection payments: chunks under an idempotency key, polled until SUCCESS / PARTIAL / FAILED.

A chunk whose POST answer was lost is found again before anything is resent: by the batch search on our
idempotency key, and, where Amili does not keep that key (the header is undocumented), among the organisation's
recent batches that no chunk of ours claims, by their items: a finished batch that holds exactly our payments is
ours. A chunk never holds two payments for one invoice, so items that carry only the invoice map back to one
payment each. What no search finds after `lookup_settle_s` is sent again under the same key, byte for byte.
"""

from __future__ import annotations

import asyncio

import orjson
import polars as pl

from etl.amili.collection import CollectionBatch, CollectionClient, json_body
from etl.amili.delivery.engine import LOOKUP_FIRST, Run, make_batch_key, poll, post_batch, settle_wait
from etl.amili.outbox import acknowledge_batch, batch_remote_ids, claimed_remote_ids, close_batch
from etl.amili.outcome import Outcome, error_message, names_duplicate
from etl.config import CreditorConfig
from etl.errors import AmiliUnavailableError

_API = "collection.payments"
_ROUNDS = 3  # a chunk is posted at most this many times in one run (each after a search found nothing)


async def deliver_collection(run: Run, c: CreditorConfig, rows: pl.DataFrame) -> None:
    """Deliver one creditor's Collection payments: earlier batches found again, new ones posted and polled."""
    col = run.clients.collection(c)
    rows = rows.with_columns(_invoice_ref().alias("_invoice"))
    payload_of = dict(zip(rows.get_column("key").to_list(), rows.get_column("payload").to_list()))
    invoice_of = dict(zip(rows.get_column("key").to_list(), rows.get_column("_invoice").to_list()))
    polls: list[asyncio.Task[None]] = []  # batches are posted one after the other and polled side by side

    def follow(batch_key: str, batch: CollectionBatch, keys: list[str]) -> None:
        acknowledge_batch(run.store, batch_key, _API, batch.batch_id, run.clock())
        polls.append(asyncio.create_task(_finish(run, col, batch_key, batch, keys, invoice_of)))

    # 1. Chunks of earlier attempts: by Amili's batch id, else found by search, else sent again as they were.
    earlier = rows.filter(pl.col("state").is_in(list(LOOKUP_FIRST)) & pl.col("batch_key").is_not_null())
    remote = batch_remote_ids(run.store, earlier.get_column("batch_key").unique().to_list())
    queue: list[list[str]] = []
    for (batch_key,), part in earlier.group_by(["batch_key"], maintain_order=True):
        keys = sorted(part.get_column("key").to_list())
        remote_id = remote.get(batch_key)
        try:
            batch = await col.batch(remote_id) if remote_id else await _locate(run, col, str(batch_key), keys, invoice_of)
        except AmiliUnavailableError as exc:
            run.failed("collection", exc)
            run.skipped(_API, keys)
            continue
        if batch is not None:
            follow(str(batch_key), batch, keys)
        elif remote_id:
            # Amili took this batch once (it gave us its id): never sent again, whatever the batch status says now.
            run.record(_API, [(k, Outcome("unknown", None, f"batch {remote_id} is no longer found at Amili; not "
                                          "sent again: check the payments in Amili")) for k in keys])
        else:
            queue.append(keys)
    # 2. New chunks (and the chunks to send again, each exactly as first composed so its key and body match).
    fresh = rows.filter(~pl.col("key").is_in(earlier.get_column("key").to_list()))
    queue += _chunks(fresh, run.config.http.collection_batch_size)
    posts: dict[str, int] = {}
    while queue:
        keys = queue.pop(0)
        batch_key = make_batch_key(_API, c.name, keys)
        posts[batch_key] = posts.get(batch_key, 0) + 1
        resp = await post_batch(run, _API, c.name, keys,
                                lambda: col.post_payments([orjson.Fragment(payload_of[k]) for k in keys], batch_key),
                                batch_key)
        lost = bool(run.take_lost(_API))
        if resp is None and not lost:
            continue  # Amili unreachable: the chunk waits for a rerun
        body = json_body(resp.body) if resp is not None else None
        data = body.get("data") if isinstance(body, dict) else None
        if resp is not None and 200 <= resp.status < 300 and isinstance(data, dict) and data.get("batchId"):
            follow(batch_key, CollectionBatch({"batchId": data["batchId"], "status": "QUEUED"}, resp.status), keys)
            continue
        if resp is not None and not (200 <= resp.status < 300) and not names_duplicate(resp.status, body):
            queue[:0] = _refused(run, batch_key, keys, resp.status, body)
            continue
        # Fate unknown (answer lost, a 2xx without a batch id) or refused as held already: find the batch.
        dup = _named_duplicates(keys, body)
        if dup:
            # Our uniqueSourcePaymentIds are ours alone: one that Amili says it holds was delivered before.
            run.record(_API, [(k, Outcome("confirmed", resp.status if resp else None, f"delivered before ({msg})"))
                              for k, msg in dup.items()])
            close_batch(run.store, batch_key, run.clock())
            rest = [k for k in keys if k not in dup]
            if rest:
                queue.insert(0, rest)
            continue
        try:
            batch = await _locate(run, col, batch_key, keys, invoice_of)
        except AmiliUnavailableError as exc:
            run.failed("collection", exc)
            continue  # the items stay unknown: the next run searches again before anything is sent
        if batch is not None:
            follow(batch_key, batch, keys)
        elif resp is not None and 400 <= resp.status < 500:
            run.record(_API, [(k, Outcome("unknown", resp.status, "refused as held already, yet no batch holds it: "
                                          + error_message(body))) for k in keys])
        elif posts[batch_key] < _ROUNDS:
            queue.insert(0, keys)  # no batch of Amili's holds them: the same request again, same key
    await asyncio.gather(*polls)


def _invoice_ref() -> pl.Expr:
    """The invoice each payment names, as `invoiceId:X` or `invoiceNumber:X` (what a batch item can be mapped by)."""
    by_id = pl.col("payload").str.json_path_match("$.invoiceId")
    by_number = pl.col("payload").str.json_path_match("$.invoiceNumber")
    return pl.when(by_id.is_not_null()).then(pl.lit("invoiceId:") + by_id).otherwise(pl.lit("invoiceNumber:") + by_number)


def _chunks(rows: pl.DataFrame, size: int) -> list[list[str]]:
    """Chunks of at most `size` keys, never two payments for one invoice in a chunk, keys sorted in each (a resend
    of the same chunk is then byte for byte the first request)."""
    ranked = rows.select("key", pl.int_range(pl.len()).over("_invoice").alias("_n"))
    chunks: list[list[str]] = []
    for (_,), part in ranked.group_by(["_n"], maintain_order=True):
        keys = part.get_column("key").to_list()
        chunks += [sorted(keys[i:i + size]) for i in range(0, len(keys), size)]
    return chunks


def _named_duplicates(keys: list[str], body: object) -> dict[str, str]:
    """Our keys that a refusal names as held already (`payments[i].uniqueSourcePaymentId`: duplicate ...)."""
    refused = CollectionClient.refused_indexes(body)
    return {keys[i]: msg for i, msg in refused.items()
            if i < len(keys) and "uniquesourcepaymentid" in msg.casefold() and names_duplicate(409, {"message": msg})}


def _refused(run: Run, batch_key: str, keys: list[str], status: int, body: object) -> list[list[str]]:
    """Record a refused chunk; returns the innocent payments to send again when only some were named."""
    close_batch(run.store, batch_key, run.clock())
    refused = CollectionClient.refused_indexes(body) if status == 422 else {}
    if refused and len(refused) < len(keys):
        run.record(_API, [(keys[i], Outcome("rejected", 422, msg, body=body)) for i, msg in sorted(refused.items())
                          if i < len(keys)])
        return [sorted(k for i, k in enumerate(keys) if i not in refused)]
    run.record(_API, [(k, Outcome("rejected", status, refused.get(i) or error_message(body), body=body))
                      for i, k in enumerate(keys)])
    return []


async def _locate(run: Run, col: CollectionClient, batch_key: str, keys: list[str],
                  invoice_of: dict[str, str | None]) -> CollectionBatch | None:
    """The batch of Amili's that holds this chunk, or None; a first miss is searched again after the settle wait."""
    for attempt in range(2):
        found = await _search(run, col, batch_key, keys, invoice_of)
        if found is not None or attempt:
            return found
        await settle_wait(run)
    return None


async def _search(run: Run, col: CollectionClient, batch_key: str, keys: list[str],
                  invoice_of: dict[str, str | None]) -> CollectionBatch | None:
    by_key = await col.search(IdempotencyKey=batch_key)
    for b in by_key:
        if b.idempotency_key == batch_key:
            return b
    # The key is not shown (or not kept): recent batches no chunk of ours claims, recognised by their items.
    claimed = claimed_remote_ids(run.store, _API)
    recent = by_key + await col.search(SortDirection="DESC")
    candidates = {b.batch_id: b for b in recent if b.idempotency_key is None and b.batch_id not in claimed}
    finished = await asyncio.gather(*(_until_done(run, col, b) for b in candidates.values()))
    return next((b for b in finished if b is not None and b.matches(keys, invoice_of)), None)


async def _until_done(run: Run, col: CollectionClient, batch: CollectionBatch) -> CollectionBatch | None:
    """The batch once finished (polled), or None when it does not finish within the poll limit."""
    latest = [batch]

    async def check() -> bool:
        if not latest[0].done:
            latest[0] = await col.batch(latest[0].batch_id) or latest[0]
        return latest[0].done

    return latest[0] if await poll(run, check) else None


async def _finish(run: Run, col: CollectionClient, batch_key: str, batch: CollectionBatch, keys: list[str],
                  invoice_of: dict[str, str | None]) -> None:
    """Poll a batch to SUCCESS / PARTIAL / FAILED and map its items back; past the poll limit they stay pending."""
    try:
        latest = await _until_done(run, col, batch)
    except AmiliUnavailableError as exc:
        run.failed("collection", exc)
        latest = None
    if latest is None:
        run.progress.batch(_API, len(keys), pending=len(keys))
        return  # acknowledged: the next run polls this batch again
    outcomes = latest.outcomes(keys, invoice_of)
    run.record(_API, [(k, outcomes.get(k) or Outcome("unknown", 200, f"not in the result of batch {latest.batch_id}"))
                      for k in keys])
    close_batch(run.store, batch_key, run.clock())
