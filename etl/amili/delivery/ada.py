"""ADA creditor payments: single POSTs, or bulk lists with isolation (`http.ada_batch_size`)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import polars as pl

from etl.amili.ada import AdaClient, only_not_unique
from etl.amili.delivery.engine import LOOKUP_FIRST, ROUNDS, Run, deliver_one, post_batch, singles
from etl.amili.outcome import Outcome, error_message, names_duplicate
from etl.amili.payloads import loads
from etl.config import CreditorConfig
from etl.errors import AmiliUnavailableError


async def deliver_ada(run: Run, c: CreditorConfig, rows: pl.DataFrame) -> None:
    """Deliver one creditor's ADA creditor payments, one request each or in bulk lists."""
    api = "ada.creditor-payments"
    ada = run.clients.ada(c)

    async def send(row: dict[str, Any]) -> tuple[Outcome, bool]:
        # ADA may store a repeated creditor_payment_reference again: never resent before a lookup by it.
        payment = loads(row["payload"])  # amounts kept exact
        reference = str(payment["creditor_payment_reference"])
        return await deliver_one(row, lambda: ada.create_payment(payment), lambda: ada.lookup(reference))

    size = run.config.http.ada_batch_size
    if size <= 0:
        await singles(run, api, rows, send)
        return
    # Bulk: look the doubtful ones up one by one first (rare), then all-or-nothing lists with isolation.
    doubtful = rows.filter(pl.col("state").is_in(list(LOOKUP_FIRST)))
    if doubtful.height:
        await singles(run, api, doubtful, send)
        rows = rows.filter(~pl.col("key").is_in(doubtful.get_column("key").to_list()))
    # The stored payload bytes go out as they are (amounts exact, the hashed text), never re-encoded.
    payload_of = {k: orjson.Fragment(p) for k, p in rows.select("key", "payload").iter_rows()}
    todo = list(payload_of)
    for _ in range(ROUNDS):
        unsure = await _post_lists(run, c, ada, todo, payload_of, size)
        if not unsure:
            return
        # Lists whose answer was lost or unclear: every payment looked up; what ADA does not have goes again.
        try:
            found = await _look_up_all(ada, unsure, run.config.http.concurrency)
        except AmiliUnavailableError as exc:
            run.failed("ada", exc)
            return  # they stay unknown: the next run looks them up before anything is sent
        run.record(api, list(found.items()))
        todo = [k for k in unsure if k not in found]
        if not todo:
            return


async def _post_lists(run: Run, c: CreditorConfig, ada: AdaClient, keys_all: list[str],
                      payload_of: dict[str, orjson.Fragment], size: int) -> list[str]:
    """POST the payments in all-or-nothing lists, `concurrency` at a time; returns the keys to look up."""
    api = "ada.creditor-payments"
    queue = [keys_all[i:i + size] for i in range(0, len(keys_all), size)]
    to_look_up: list[str] = []

    async def worker() -> None:
        while queue:  # a worker that puts innocent payments back keeps going, so none is left behind
            keys = queue.pop(0)
            resp = await post_batch(run, api, c.name, keys, lambda: ada.create_bulk([payload_of[k] for k in keys]))
            if resp is None:
                continue
            done, innocent, unsure = await _ada_bulk_results(ada, resp.status, resp.body, keys)
            run.record(api, done)
            to_look_up.extend(unsure)
            if innocent:
                queue.insert(0, innocent)

    await asyncio.gather(*(worker() for _ in range(min(run.config.http.concurrency, len(queue)))))
    return list(dict.fromkeys(run.take_lost(api) + to_look_up))


async def _look_up_all(ada: AdaClient, keys: list[str], concurrency: int) -> dict[str, Outcome]:
    """The outcome of every payment ADA holds under one of our references (`concurrency` lookups at a time)."""
    sem = asyncio.Semaphore(concurrency)

    async def one(key: str) -> tuple[str, Outcome | None]:
        async with sem:
            return key, await ada.lookup(key)

    return {k: o for k, o in await asyncio.gather(*(one(k) for k in keys)) if o is not None}


async def _ada_bulk_results(ada: AdaClient, status: int, body: Any,
                            keys: list[str]) -> tuple[list[tuple[str, Outcome]], list[str], list[str]]:
    """Outcomes of one bulk answer, the innocent payments of a refused list (to send again without the culprits),
    and the payments to look up one by one (an answer that does not say what was stored)."""
    items = body.get("_items") if isinstance(body, dict) else None
    readable = isinstance(items, list) and len(items) == len(keys) and all(isinstance(i, dict) for i in items)
    if 200 <= status < 300:
        if readable:
            return list(zip(keys, await asyncio.gather(*(ada.answered(i, status) for i in items)))), [], []
        return [], [], keys  # stored, but the answer does not say as what: read back
    if status == 422 and readable:
        done, innocent, already = [], [], []
        for k, item in zip(keys, items):
            issues = item.get("_issues")
            if not issues:
                innocent.append(k)
            elif only_not_unique(issues):
                already.append(k)  # an earlier attempt got through (a lost answer): read it back
            else:
                done.append((k, Outcome("rejected", 422, error_message({"_issues": issues}), body=item)))
        return done, innocent, already
    if names_duplicate(status, body):
        return [], [], keys  # some reference is held already, the answer does not say which: one by one
    return [(k, Outcome("rejected", status, error_message(body), body=body)) for k in keys], [], []
