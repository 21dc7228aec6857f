"""ARM autopostings: all-or-nothing batches; failing postings isolated, innocent BATCH-REJECTED ones resent."""

from __future__ import annotations

import asyncio
from typing import Any

import polars as pl

from etl.amili.arm import ArmClient
from etl.amili.delivery.engine import Run, post_batch
from etl.amili.outcome import Outcome, error_message
from etl.amili.payloads import loads
from etl.config import CreditorConfig


async def deliver_autopostings(run: Run, c: CreditorConfig, rows: pl.DataFrame) -> None:
    """Deliver one creditor's ARM autopostings in all-or-nothing batches, isolating the failing ones."""
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
    payloads = {k: loads(p) for k, p in rows.select("key", "payload").iter_rows()}  # amounts kept exact
    postings, results = await resolve_postings(arm, payloads, run.config.http.concurrency)
    run.record(api, results)
    queue = [list(postings)[i:i + run.config.http.autoposting_batch_size]
             for i in range(0, len(postings), run.config.http.autoposting_batch_size)]
    while queue:
        keys = queue.pop(0)
        resp = await post_batch(run, api, c.name, keys,
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


async def resolve_postings(arm: ArmClient, payloads: dict[str, dict[str, Any]],
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
