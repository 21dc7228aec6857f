"""Delivery over real HTTP to a faulty sandbox: every item ends confirmed or rejected for a stated cause, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from etl.amili import Progress, deliver_pending
from etl.sandbox import EmbeddedSandbox, SandboxConfig
from etl.sandbox.readings import READINGS
from etl.store import open_store
from tests.sandbox.support import ManualClock

from . import delivery_support as ds

FAULTS = "500=0.05,503=0.05,429=0.05,timeout=0.02,reset=0.02"
N = 30


@pytest.fixture(params=list(READINGS))
def faulty(request: pytest.FixtureRequest) -> Iterator[EmbeddedSandbox]:
    """A sandbox with the issue's fault mix, under each reading of Amili's pages; some faults strike after the
    item was stored, and a timeout fault holds a request longer than the client waits."""
    cfg = SandboxConfig(faults=FAULTS, fault_seed=7, batch_delay_s=0.1, timeout_sleep_s=1.5, reading=request.param)
    with EmbeddedSandbox(cfg) as sb:
        yield sb


def _settle(config, runs: int = 3) -> None:
    """Deliver until nothing is pending (a rerun delivers what a run left; the faults make that possible)."""
    for i in range(runs):
        ds.run_delivery(config, f"r{i}", N, bad=True, progress=Progress(enabled=False))
        if ds.outbox(config).filter(~pl.col("state").is_in(["confirmed", "rejected"])).height == 0:
            return


def _assert_exactly_once(config, base_url: str) -> pl.DataFrame:
    box = ds.outbox(config)
    planned = ds.plan(config, N, bad=True)
    assert box.height == planned.height
    bad = box.filter(pl.col("key").str.ends_with("-bad"))
    good = box.filter(~pl.col("key").str.ends_with("-bad"))
    # The planted bad items are refused for a stated cause; everything else is confirmed.
    assert bad.get_column("state").to_list() == ["rejected"] * bad.height
    assert all("NO-SUCH-INVOICE" in m for m in bad.get_column("message").to_list())
    assert good.filter(pl.col("state") != "confirmed").height == 0, good.filter(pl.col("state") != "confirmed")
    ledger = ds.ledger(base_url)
    keys = sorted((i["api"], i["key"]) for i in ledger)
    assert len(keys) == len(set(keys))  # one ledger line per key
    assert all(i["accepted"] == 1 for i in ledger)  # applied exactly once, whatever was retried
    want = sorted((a, k.split(":")[-1]) for a, k in good.select("api", "key").iter_rows())
    assert keys == want  # and none missing
    return box


def test_faults_every_item_confirmed_or_rejected_and_the_ledger_holds_each_key_once(tmp_path: Path, faulty) -> None:
    config = ds.load(ds.write_config(tmp_path, faulty.base_url))
    ds.seed(faulty.base_url, N)
    _settle(config)
    _assert_exactly_once(config, faulty.base_url)
    stats = pl.DataFrame([{"route": r, "status": s, "n": n}
                          for r, by in ds.httpx.get(f"{faulty.base_url}/_sandbox/stats").json()["requests"].items()
                          for s, n in by.items()])
    assert stats.filter(pl.col("status").is_in(["500", "503", "429", "timeout", "reset"])).height > 0  # faults did strike
    # Running the same plan again (a rerun weeks later) sends nothing: confirmed and rejected items never go again.
    items, report = ds.run_delivery(config, "again", N, bad=True, progress=Progress(enabled=False))
    assert set(items.get_column("action")) == {"skipped_confirmed", "skipped_rejected"}
    assert sum(report.sent.values()) == 0 and not report.requests


def test_ada_single_posts_under_faults_look_up_before_any_resend(tmp_path: Path, faulty) -> None:
    config = ds.load(ds.write_config(tmp_path, faulty.base_url, {"ada_batch_size": 0}, apis=("ada",)))
    ds.seed(faulty.base_url, N)
    _settle(config)
    _assert_exactly_once(config, faulty.base_url)


def test_changed_payload_under_the_same_key_is_a_conflict_never_sent(tmp_path: Path) -> None:
    with EmbeddedSandbox(SandboxConfig()) as sb:
        config = ds.load(ds.write_config(tmp_path, sb.base_url, apis=("arm",)))
        ds.run_delivery(config, "first", 3)
        before = ds.ledger(sb.base_url)
        with open_store(config.state_path) as store:
            r0 = pl.col("key") == "R-0"
            changed = ds.plan(config, 3).with_columns(
                pl.when(r0).then(pl.col("payload").str.replace('"currencyAmountPaid":100.0', '"currencyAmountPaid":999.0'))
                .otherwise(pl.col("payload")),
                pl.when(r0).then(pl.col("payload_hash") + "x").otherwise(pl.col("payload_hash")))
            items = ds.record_intents(store, "second", changed, ds.NOW)
        conflicts = items.filter(pl.col("action") == "conflict")
        assert conflicts.get_column("key").to_list() == ["R-0"]
        assert ds.ledger(sb.base_url) == before  # nothing sent
        with open_store(config.state_path) as store:
            detail = store.execute("SELECT conflict_detail FROM run_items WHERE run_id = 'second' AND action = 'conflict'").fetchall()
        assert detail and "other data" in detail[0][0]


def test_a_token_that_expires_mid_run_is_renewed_before_it_is_refused(tmp_path: Path) -> None:
    with EmbeddedSandbox(SandboxConfig(token_lifetime_s=1.0)) as sb:
        # 60 requests at 40/s take 1.5 s: the first token dies on the way.
        config = ds.load(ds.write_config(tmp_path, sb.base_url, {"rate_limit": 40.0}, apis=("arm",)))
        n = 30
        ds.run_delivery(config, "r", n)
        assert ds.outbox(config).get_column("state").unique().to_list() == ["confirmed"]
        requests = ds.httpx.get(f"{sb.base_url}/_sandbox/stats").json()["requests"]
        assert requests["POST /auth/token"]["200"] >= 2  # renewed
        assert len(ds.ledger(sb.base_url)) == 2 * n


def test_a_collection_batch_queued_past_the_poll_limit_is_pending_and_a_rerun_completes_it(tmp_path: Path) -> None:
    clock = ManualClock()  # the batch stays queued until the test moves this, however long the first run takes
    with EmbeddedSandbox(SandboxConfig(batch_delay_s=1.5, clock=clock)) as sb:
        config = ds.load(ds.write_config(tmp_path, sb.base_url, {"poll_timeout_s": 0.3}, apis=("collection",)))
        ds.seed(sb.base_url, 5)
        _, report = ds.run_delivery(config, "first", 5)
        assert report.pending["collection.payments"] == 5 and report.sent["collection.payments"] == 5
        assert set(ds.outbox(config).get_column("state")) == {"acknowledged"}
        clock.advance(1.5)
        with open_store(config.state_path) as store:
            again = deliver_pending(store, config, "rerun", lambda: ds.NOW, progress=Progress(enabled=False))
        assert again.confirmed["collection.payments"] == 5
        assert sum(again.sent.values()) == 0  # polled, not resent
        assert [i["accepted"] for i in ds.ledger(sb.base_url)] == [1] * 5


@pytest.mark.parametrize("reading", list(READINGS))
def test_autopostings_isolate_the_failing_posting_and_resend_the_innocent(tmp_path: Path, reading: str) -> None:
    """Under every reading, including ARM answering a refused batch with 200 and a result per posting."""
    # Only 429s: they prove nothing was applied, so a batch may go again (a 503 may come after the work was done).
    with EmbeddedSandbox(SandboxConfig(faults="429=0.2", fault_seed=3, reading=reading)) as sb:
        config = ds.load(ds.write_config(tmp_path, sb.base_url, {"autoposting_batch_size": 10}, apis=("autopostings",)))
        ds.seed(sb.base_url, 12)
        inv, pays = ds.frames(12)
        # One posting more than the AR item's open amount (a WARNING, which rejects the whole batch).
        pays = pays.filter(pl.col("creditor") == "auto-no").with_columns(
            pl.when(pl.col("payment_key") == "T-3").then(500_000).otherwise(pl.col("amount_minor")).alias("amount_minor"))
        with open_store(config.state_path) as store:
            items = ds.record_intents(store, "r", ds.plan_items(config, inv.head(0), pays), ds.NOW)
            report = ds.deliver(store, config, "r", items, lambda: ds.NOW, Progress(enabled=False))
        box = ds.outbox(config)
        culprit = box.filter(pl.col("key") == "T-3").row(0, named=True)
        assert culprit["state"] == "rejected" and "WARNING" in culprit["message"]
        assert box.filter(pl.col("key") != "T-3").get_column("state").unique().to_list() == ["confirmed"]
        ledger = ds.ledger(sb.base_url)
        assert len(ledger) == 11 and all(i["accepted"] == 1 for i in ledger)
        assert report.confirmed["arm.autopostings"] == 11


def test_dry_run_validates_autopostings_with_validate_only_and_stores_nothing(tmp_path: Path) -> None:
    from etl.amili import dry_run_report

    with EmbeddedSandbox(SandboxConfig()) as sb:
        config = ds.load(ds.write_config(tmp_path, sb.base_url, apis=("autopostings", "collection")))
        ds.seed(sb.base_url, 4)
        with open_store(config.state_path) as store:
            items = ds.record_intents(store, "dry", ds.plan(config, 4, bad=True), ds.NOW)
        lines = dry_run_report(config, items)
        text = "\n".join(lines)
        assert "arm.autopostings" in text and "collection.payments" in text and "1 batch(es)" in text
        assert "auto-no: validateOnly: 4 valid, 1 refused" in text and "T-bad: no AR item" in text
        assert ds.ledger(sb.base_url) == []
        requests = ds.httpx.get(f"{sb.base_url}/_sandbox/stats").json()["requests"]
        assert requests["POST /arm/clients/{clientno}/autopostings/{autopostingmethod}"] == {"200": 1}


def test_a_collection_payment_refused_by_a_422_does_not_block_the_rest(tmp_path: Path) -> None:
    with EmbeddedSandbox(SandboxConfig(batch_delay_s=0.05)) as sb:
        config = ds.load(ds.write_config(tmp_path, sb.base_url, apis=("collection",)))
        ds.seed(sb.base_url, 6)
        broken = pl.col("key") == "P-2"  # an amount that is no JSON number: the whole request gets a 422
        planned = ds.plan(config, 6).with_columns(
            pl.when(broken).then(pl.col("payload").str.replace('"amount":100.02', '"amount":"100.02"'))
            .otherwise(pl.col("payload")))
        with open_store(config.state_path) as store:
            items = ds.record_intents(store, "r", planned, ds.NOW)
            ds.deliver(store, config, "r", items, lambda: ds.NOW, Progress(enabled=False))
        box = ds.outbox(config)
        refused = box.filter(pl.col("key") == "P-2").row(0, named=True)
        assert refused["state"] == "rejected" and "amount" in refused["message"] and refused["http_status"] == 422, refused
        assert box.filter(pl.col("key") != "P-2").get_column("state").unique().to_list() == ["confirmed"]
        assert sorted(i["key"] for i in ds.ledger(sb.base_url)) == ["P-0", "P-1", "P-3", "P-4", "P-5"]
