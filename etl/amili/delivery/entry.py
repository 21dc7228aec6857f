"""The entry points: every endpoint in ORDER by its strategy, payments held behind pending documents."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

import polars as pl

from etl.amili.delivery.ada import deliver_ada
from etl.amili.delivery.autopostings import deliver_autopostings
from etl.amili.delivery.collection import deliver_collection
from etl.amili.delivery.documents import deliver_documents
from etl.amili.delivery.engine import ORDER, DeliveryReport, Run
from etl.amili.delivery.reservations import deliver_reservations
from etl.amili.outbox import add_run_items, unfinished_items
from etl.amili.progress import Progress
from etl.config import Config, CreditorConfig, missing_norway_secrets, set_the_variables
from etl.errors import ConfigError
from etl.store import Store


_STRATEGY: dict[str, Callable[[Run, CreditorConfig, pl.DataFrame], Awaitable[None]]] = {
    "arm.documents": deliver_documents,
    "arm.paymentreservations": deliver_reservations,
    "arm.autopostings": deliver_autopostings,
    "collection.payments": deliver_collection,
    "ada.creditor-payments": deliver_ada,
}


def _check_credentials(config: Config, items: pl.DataFrame) -> None:
    """Fail before anything is marked sent when a creditor's secrets are missing from the environment."""
    for name, api in items.select("creditor", "api").unique().sort("creditor", "api").iter_rows():
        c = config.creditor(name)
        if api.startswith(("arm.", "collection.")) and (missing := missing_norway_secrets(c)):
            raise ConfigError(set_the_variables(name, missing))  # only the variables not set, by name
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


async def _deliver(run: Run, items: pl.DataFrame) -> None:
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
    run = Run(store, config, run_id, clock, report, progress or Progress())
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
