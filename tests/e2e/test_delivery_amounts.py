"""Amounts on the wire: the planner's exact amounts reach the sandbox over real HTTP, byte for byte."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from etl.amili import Progress
from etl.amili.payloads import amount_text
from etl.amili.transport import Transport
from etl.sandbox import EmbeddedSandbox, SandboxConfig
from etl.sandbox.values import minor_str
from etl.store import open_store

from . import delivery_support as ds

# Minor units whose float division by 100 printed noise (8855.710000000001, 641.5500000000001, 9099.800000000001).
AMOUNTS = [885571, 64155, 909980, 1, 7, 10, 100, 12050, 99_999_999_999]
_DECIMALS = re.compile(rb"[:\[,]-?\d+\.(\d+)")


@pytest.fixture
def sandbox() -> Iterator[EmbeddedSandbox]:
    with EmbeddedSandbox(SandboxConfig()) as sb:
        yield sb


def test_amounts_leave_exact_and_the_strict_sandbox_takes_them(tmp_path: Path, sandbox: EmbeddedSandbox,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[bytes] = []
    send = Transport._send

    async def recording(self: Transport, method: str, url: str, **kwargs: Any) -> Any:
        if kwargs.get("content"):
            sent.append(kwargs["content"])  # the exact bytes handed to httpx
        return await send(self, method, url, **kwargs)

    monkeypatch.setattr(Transport, "_send", recording)
    config = ds.load(ds.write_config(tmp_path, sandbox.base_url, apis=("arm", "collection", "ada", "autopostings")))
    n = len(AMOUNTS)
    ds.seed(sandbox.base_url, n)
    inv, pays = ds.frames(n)
    inv = inv.with_columns(pl.Series("amount_minor", AMOUNTS))
    pays = pays.with_columns(pl.Series("amount_minor", AMOUNTS * (pays.height // n)))
    # The autoposting creditor's AR items are open for 1000.00 each (ds.seed): post at most that.
    pays = pays.with_columns(pl.when(pl.col("creditor") == "auto-no").then(pl.col("amount_minor") % 100_000)
                             .otherwise(pl.col("amount_minor")).alias("amount_minor"))
    planned = ds.plan_items(config, inv, pays)
    with open_store(config.state_path) as store:
        items = ds.record_intents(store, "r1", planned, ds.NOW)
        ds.deliver(store, config, "r1", items.filter(pl.col("action") == "deliver"), lambda: ds.NOW, Progress(enabled=False))
    box = ds.outbox(config)
    assert box.filter(pl.col("state") != "confirmed").height == 0, box.filter(pl.col("state") != "confirmed").rows()
    # On the wire: no number with more than two decimals, and each stored payload (what was hashed) verbatim,
    # except autopostings, whose documentNo is swapped for the AR item's id at send time.
    assert sent and all(len(d) <= 2 for body in sent for d in _DECIMALS.findall(body))
    wire = b"\n".join(sent)
    for api, payload in planned.select("api", "payload").iter_rows():
        if api != "arm.autopostings":
            assert payload.encode() in wire, payload
    assert all(f'"currencyAmount":{amount_text(a % 100_000)}'.encode() in wire for a in AMOUNTS)
    # The sandbox refuses more than two decimals, so it took these amounts as written: its ledger (which has no
    # autopostings) holds them exactly.
    ledger = ds.ledger(sandbox.base_url)
    by_key = {(i["api"], i["key"]): i["amount"] for i in ledger}
    for api, key, minor in planned.filter(pl.col("api") != "arm.autopostings").select("api", "key", "amount_minor").iter_rows():
        assert by_key[(api, key.split(":")[-1])] == minor_str(minor), (api, key)
