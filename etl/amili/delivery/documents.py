"""ARM documents: single POSTs for small runs, else /documents/batches polled until 200/206, resumed after a crash."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import polars as pl

from etl.amili.arm import ArmClient
from etl.amili.delivery.engine import LOOKUP_FIRST, Run, make_batch_key, poll, post_batch, singles
from etl.amili.outbox import acknowledge_batch, batch_remote_ids, close_batch
from etl.amili.outcome import Outcome, error_message
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
    if rows.height < run.config.http.document_batch_min:
        async def send(row: dict[str, Any]) -> tuple[Outcome, bool]:
            doc = orjson.loads(row["payload"])
            if row["state"] in LOOKUP_FIRST:
                found = await arm.find_document(str(doc["documentNo"]))
                if found is not None:
                    return found, False
            return await arm.create_document(orjson.Fragment(row["payload"])), True  # the stored bytes, exact

        await singles(run, api, rows, send)
        return
    # A resend of a document batch is safe: ARM answers an identical documentNo with EXISTS, never twice.
    # Batches are posted one after the other and polled side by side.
    polls: list[asyncio.Task[None]] = []
    for chunk in rows.iter_slices(run.config.http.document_batch_size):
        keys = chunk.get_column("key").to_list()
        # The stored payload bytes go out as they are (amounts exact, the hashed text), never re-encoded.
        docs = [orjson.Fragment(p) for p in chunk.get_column("payload").to_list()]
        batch_key = make_batch_key(api, c.name, keys)
        resp = await post_batch(run, api, c.name, keys, lambda: arm.post_document_batch(docs), batch_key)
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
        results.append((key, o if o is not None else Outcome("unknown", None, f"not in the result of batch {uuid}")))
    run.record(api, results)
    close_batch(run.store, batch_key, run.clock())
