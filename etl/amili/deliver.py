"""Deliver this run's outbox items to Amili: documents first, then payments; every answer recorded."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import polars as pl

from etl.amili.ada import AdaClient
from etl.amili.arm import ArmClient
from etl.amili.auth import AdaAuth, NorwayAuth
from etl.amili.outbox import mark_sent, record_outcome
from etl.amili.outcome import Outcome
from etl.amili.transport import Transport
from etl.config import Config, CreditorConfig
from etl.errors import AmiliUnavailableError, ConfigError, EtlError
from etl.store import Store

__all__ = ["DeliveryReport", "deliver"]

# Documents must exist before payments can point at them.
_ORDER = ("arm.documents", "arm.paymentreservations", "arm.autopostings", "collection.payments", "ada.creditor-payments")


@dataclass
class DeliveryReport:
    """Per API: how many items this run POSTed, and how they ended."""

    sent: Counter[str] = field(default_factory=Counter)
    confirmed: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    pending: Counter[str] = field(default_factory=Counter)
    unavailable: list[str] = field(default_factory=list)  # messages of items that hit an unreachable Amili


class _Clients:
    """One transport and per-creditor API clients, built on first use."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.transport = Transport(config.http)
        self._arm: dict[str, ArmClient] = {}
        self._ada: dict[str, AdaClient] = {}

    def arm(self, c: CreditorConfig) -> ArmClient:
        if c.name not in self._arm:
            if not c.arm_base_url or c.arm_client_no is None:
                raise EtlError(f"creditor {c.name!r}: arm.base_url and arm.client_no are required")
            self._arm[c.name] = ArmClient(self.transport, NorwayAuth(self.transport, c), c.arm_base_url, c.arm_client_no)
        return self._arm[c.name]

    def ada(self, c: CreditorConfig) -> AdaClient:
        if c.name not in self._ada:
            if not c.ada_base_url:
                raise EtlError(f"creditor {c.name!r}: ada.base_url is required")
            self._ada[c.name] = AdaClient(self.transport, AdaAuth(self.transport, c), c.ada_base_url)
        return self._ada[c.name]


async def _send_one(clients: _Clients, creditor: CreditorConfig, api: str, state: str, payload: dict[str, Any]) -> tuple[Outcome, bool]:
    """(outcome, posted): looks up first when an earlier attempt may have got through."""
    if api == "arm.documents":
        return await clients.arm(creditor).create_document(payload), True
    if api == "arm.paymentreservations":
        # ARM answers a repeated paymentId without storing it twice, so a resend doubles as the lookup.
        return await clients.arm(creditor).create_reservation(payload), True
    if api == "ada.creditor-payments":
        ada = clients.ada(creditor)
        if state in ("sent", "unknown"):
            found = await ada.find_payment(str(payload["creditor_payment_reference"]))
            if found is not None:
                return ada.outcome_of(found, 200), False
        return await ada.create_payment(payload), True
    raise EtlError(f"{api}: delivery is not supported yet")


def _check_credentials(config: Config, items: pl.DataFrame) -> None:
    """Fail before anything is marked sent when a creditor's secrets are missing from the environment."""
    for name, api in items.select("creditor", "api").unique().sort("creditor", "api").iter_rows():
        c = config.creditor(name)
        if api.startswith(("arm.", "collection.")) and not (c.secrets.client_id and c.secrets.client_secret):
            raise ConfigError(f"creditor {name!r}: set the environment variables {c.client_id_env} and {c.client_secret_env}")
        if api.startswith("ada.") and not c.secrets.ada_api_code:
            raise ConfigError(f"creditor {name!r}: set the environment variable {c.ada_api_code_env}")


async def _deliver(store: Store, config: Config, run_id: str, items: pl.DataFrame, clock: Callable[[], dt.datetime],
                   report: DeliveryReport) -> None:
    _check_credentials(config, items)
    clients = _Clients(config)
    limit = asyncio.Semaphore(config.http.concurrency)

    async def one(row: dict[str, Any]) -> None:
        api, key = row["api"], row["key"]
        creditor = config.creditor(row["creditor"])
        async with limit:
            try:
                outcome, posted = await _send_one(clients, creditor, api, row["state"], orjson.loads(row["payload"]))
            except AmiliUnavailableError as exc:
                report.unavailable.append(str(exc))
                report.pending[api] += 1
                record_outcome(store, run_id, api, key, "unknown", None, str(exc), None, None, None, clock())
                return
        if posted:
            report.sent[api] += 1
        counter = report.confirmed if outcome.state == "confirmed" else report.rejected
        counter[api] += 1
        body = orjson.dumps(outcome.body).decode() if outcome.body is not None else None
        record_outcome(store, run_id, api, key, outcome.state, outcome.http_status, outcome.message,
                       outcome.amili_id, outcome.settled_minor, body, clock())

    try:
        for api in _ORDER:
            batch = items.filter(pl.col("api") == api)
            if batch.height == 0:
                continue
            mark_sent(store, api, batch.get_column("key").to_list(), clock())
            await asyncio.gather(*(one(row) for row in batch.iter_rows(named=True)))
    finally:
        await clients.transport.aclose()


def deliver(store: Store, config: Config, run_id: str, items: pl.DataFrame, clock: Callable[[], dt.datetime]) -> DeliveryReport:
    """Send every item of `items` (outbox rows with action 'deliver') and record each answer."""
    report = DeliveryReport()
    if items.height:
        asyncio.run(_deliver(store, config, run_id, items, clock, report))
    return report
