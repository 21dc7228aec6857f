"""ARM documents: single POSTs for small runs, else /documents/batches polled until 200/206, resumed after a crash."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import polars as pl

from etl.amili.arm import ArmClient
from etl.amili.delivery.engine import LOOKUP_FIRST, Run, deliver_one, make_batch_key, poll, post_batch, settle_wait, singles
from etl.amili.outbox import acknowledge_batch, batch_remote_ids, close_batch
from etl.amili.outcome import DUPLICATE, Outcome, error_message, names_duplicate
from etl.config import CreditorConfig
from etl.errors import AmiliUnavailableError


async def deliver_documents(run: Run, c: CreditorConfig, rows: pl.DataFrame) -> None:
    """Deliver one creditor's ARM documents: earlier batches resumed, then single POSTs or polled batches."""
    api = "arm.documents"
    arm = run.clients.arm(c)
    polled = await _resume_document_batches(run, c, arm, rows)
    rows = rows.filter(~pl.col("key").is_in(polled))
    if rows.height == 0:
        return

    async def send(row: dict[str, Any]) -> tuple[Outcome, bool]:
        document_no = str(orjson.loads(row["payload"])["documentNo"])
        body = orjson.Fragment(row["payload"])  # the stored bytes, amounts exact
        return await deliver_one(row, lambda: arm.create_document(body), lambda: arm.find_document(document_no))

    # An item whose earlier attempt may have got through never goes into a new batch: it is looked up one by one
    # (ARM may store a repeated documentNo twice). One that went out in a batch whose answer was lost may still
    # be processing at ARM: its lookup waits `lookup_settle_s` first, so "not found" means not there.
    doubtful = rows.filter(pl.col("state").is_in(list(LOOKUP_FIRST)))
    fresh = rows.filter(~pl.col("state").is_in(list(LOOKUP_FIRST)))
    if doubtful.height:
        if doubtful.get_column("batch_key").is_not_null().any():
            await settle_wait(run)
        await singles(run, api, doubtful, send)
    if fresh.height == 0:
        return
    if fresh.height < run.config.http.document_batch_min:
        await singles(run, api, fresh, send)
        return
    # Batches are posted one after the other and polled side by side.
    polls: list[asyncio.Task[None]] = []
    for chunk in fresh.iter_slices(run.config.http.document_batch_size):
        keys = chunk.get_column("key").to_list()
        # The stored payload bytes go out as they are (amounts exact, the hashed text), never re-encoded.
        docs = [orjson.Fragment(p) for p in chunk.get_column("payload").to_list()]
        batch_key = make_batch_key(api, c.name, keys)
        resp = await post_batch(run, api, c.name, keys, lambda: arm.post_document_batch(docs), batch_key)
        if resp is None:
            continue
        uuid = resp.body.get("batchUuid") if isinstance(resp.body, dict) else None
        if (200 <= resp.status < 300 and not uuid) or names_duplicate(resp.status, resp.body):
            # Taken, but we cannot follow the batch (or refused as held already): look its documents up instead.
            run.lost.setdefault(api, []).extend(keys)
            run.record(api, [(k, Outcome("unknown", resp.status, "batch answer without a batchUuid, to be looked up"))
                             for k in keys])
            close_batch(run.store, batch_key, run.clock())
            continue
        if not uuid:
            msg = error_message(resp.body)
            run.record(api, [(k, Outcome("rejected", resp.status, msg, body=resp.body)) for k in keys])
            close_batch(run.store, batch_key, run.clock())
            continue
        acknowledge_batch(run.store, batch_key, api, str(uuid), run.clock())
        polls.append(asyncio.create_task(
            _poll_document_batch(run, arm, batch_key, str(uuid), dict(zip(_document_nos(chunk), keys)))))
    await asyncio.gather(*polls)
    lost = run.take_lost(api)
    if lost:
        # Batches whose answer was lost: looked up (after ARM had time to process them), sent alone if absent.
        await settle_wait(run)
        await singles(run, api, fresh.filter(pl.col("key").is_in(lost)).with_columns(pl.lit("unknown").alias("state")),
                      send)


def _document_nos(rows: pl.DataFrame) -> list[str]:
    return [str(orjson.loads(p)["documentNo"]) for p in rows.get_column("payload").to_list()]


async def _resume_document_batches(run: Run, c: CreditorConfig, arm: ArmClient, rows: pl.DataFrame) -> list[str]:
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


async def _poll_document_batch(run: Run, arm: ArmClient, batch_key: str, uuid: str, by_doc_no: dict[str, str]) -> None:
    api = "arm.documents"
    status: list[Any] = []

    async def check() -> bool:
        st = await arm.batch_status(uuid)
        status[:] = [st]
        return st.done

    try:
        finished = await poll(run, check)
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
        if o is not None and o.state == DUPLICATE:
            o = await _held_already(run, arm, doc_no, o)
        results.append((key, o if o is not None else Outcome("unknown", None, f"not in the result of batch {uuid}")))
    run.record(api, results)
    close_batch(run.store, batch_key, run.clock())


async def _held_already(run: Run, arm: ArmClient, doc_no: str, refused: Outcome) -> Outcome:
    """A batch item refused because ARM holds its documentNo already (an earlier attempt): found, or unknown."""
    try:
        found = await arm.find_document(doc_no)
    except AmiliUnavailableError as exc:
        run.failed("arm", exc)
        found = None
    return found or Outcome("unknown", refused.http_status, f"refused as held already, not found yet: {refused.message}")
