"""--dry-run: per endpoint what would be sent, and ARM's validateOnly check of autopostings."""

from __future__ import annotations

import asyncio

import polars as pl

from etl.amili.delivery.autopostings import resolve_postings
from etl.amili.delivery.clients import Clients
from etl.amili.delivery.engine import ORDER
from etl.amili.outcome import error_message
from etl.amili.payloads import loads
from etl.config import Config
from etl.errors import AmiliUnavailableError
from etl.money import format_minor


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
        clients = Clients(config)
        lines: list[str] = []
        try:
            for (name,), rows in part.group_by(["creditor"], maintain_order=True):
                c = config.creditor(str(name))
                if not (c.secrets.client_id and c.secrets.client_secret):
                    lines.append(f"    {c.name}: not validated (no credentials in the environment)")
                    continue
                arm = clients.arm(c)
                payloads = {k: loads(p) for k, p in rows.select("key", "payload").iter_rows()}  # amounts kept exact
                postings, refused = await resolve_postings(arm, payloads, config.http.concurrency)
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
