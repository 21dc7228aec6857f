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


_NO_LOOKUP = ("an earlier attempt may have been applied and ARM offers no lookup for autopostings: never sent "
              "again; check the AR item in ARM")


async def deliver_autopostings(run: Run, c: CreditorConfig, rows: pl.DataFrame) -> None:
    """Deliver one creditor's ARM autopostings in all-or-nothing batches, isolating the failing ones."""
    api = "arm.autopostings"
    arm = run.clients.arm(c)
    # ARM has no uniqueness rule and no lookup for autopostings: one whose earlier attempt may have been applied
    # is never resent blind; it stays unknown until a person checks the AR item (docs/delivery.md).
    doubtful = rows.filter(pl.col("state").is_in(["sent", "unknown"]))
    if doubtful.height:
        run.record(api, [(k, Outcome("unknown", None, _NO_LOOKUP)) for k in doubtful.get_column("key")])
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
        lost = run.take_lost(api)
        if lost:
            run.record(api, [(k, Outcome("unknown", None, _NO_LOOKUP)) for k in lost])
        if resp is None:
            continue
        done, retry = _autoposting_results(resp.status, resp.body, keys)
        run.record(api, done)
        queue = retry + queue


_APPLIED = ("CREATED", "POSTED", "OK", "PROCESSED")
_FAILED_WORDS = ("FAIL", "REJECT", "ERROR")


def _autoposting_results(status: int, body: Any, keys: list[str]) -> tuple[list[tuple[str, Outcome]], list[list[str]]]:
    """Outcomes of one batch answer, and the batches to send again (innocent postings, or halves to bisect).

    Read per posting whatever the status: ARM may answer a refused batch with 200 and a `resultType` per posting,
    so a 200 alone never confirms a posting that its own result says was not applied.
    """
    items = body.get("autoPostings") if isinstance(body, dict) else None
    ok = 200 <= status < 300
    if isinstance(items, list) and len(items) == len(keys) and all(isinstance(i, dict) for i in items):
        done: list[tuple[str, Outcome]] = []
        innocent: list[str] = []
        culprits = 0
        for k, item in zip(keys, items):
            kind = str(item.get("resultType") or "").upper()
            result = str(item.get("result") or "").upper()
            if kind == "BATCH-REJECTED":
                innocent.append(k)
            elif ok and (kind == "OK" or (not kind and result in _APPLIED)):
                done.append((k, Outcome("confirmed", status, str(item.get("message") or "posted"), body=item)))
            else:
                culprits += 1
                done.append((k, Outcome("rejected", status, f"{kind or result}: {item.get('message')}", body=item)))
        if culprits or not innocent:  # culprits named (or nothing to resend): the innocent go again together
            return done, ([innocent] if innocent else [])
        keys = innocent  # every posting "batch-rejected" and none named: bisect below
    elif ok:
        verdict = f"{body.get('status', '')} {body.get('result', '')}".upper() if isinstance(body, dict) else ""
        if not any(word in verdict for word in _FAILED_WORDS):
            return [(k, Outcome("confirmed", status, "posted", body=None)) for k in keys], []
    if len(keys) == 1 or not (status in (400, 422) or ok):
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
