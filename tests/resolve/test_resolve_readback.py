"""A match resolve delivers is an outbox item like a run's: month-end reads it back from Amili (ADA creditor payments
over real HTTP) and the break is resolved only because Amili holds it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from etl.reconcile.period import reconcile_period
from etl.reconcile.readback import read_back
from etl.resolve import resolve_files
from etl.store import open_store
from tests.e2e.delivery_support import NOW, load, seed, write_config
from tests.reconcile.support import invoice, payment, run
from tests.resolve.support import one_row, store_break


def test_an_ada_match_is_read_back_at_month_end(tmp_path: Path, sandbox) -> None:
    config = load(write_config(tmp_path, sandbox.base_url, apis=("ada",)))
    seed(sandbox.base_url, 1)  # ADA holds a case for invoice S1 (1000.00 SEK)
    with open_store(config.state_path) as store:
        run(store, "r1", NOW)
        payment(store, "D-7", creditor="ada-se", currency="SEK", amount_minor=50_000)
        invoice(store, "S1", dt.date(2026, 11, 30), creditor="ada-se", currency="SEK", amount_minor=100_000)
    store_break(config.state_path, "unmatched_payment", "D-7", 50_000, "SEK")
    filled = one_row(tmp_path / "filled.csv", "unmatched_payment", "D-7", "match", "S1", "half of S1, says the payer")
    result = resolve_files(config, [filled], "kari", lambda: dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc),
                           tmp_path / "out")
    assert result.exit_code == 0 and result.delivered == 1, result.rows

    with open_store(config.state_path) as store:
        month = reconcile_period(store, config, "2026-11", read_back, today=dt.date(2026, 12, 6))
        read = store.frame("SELECT api, key, amount_minor FROM amili_readback WHERE key LIKE 'D-7%'").rows()
    assert read == [("ada.creditor-payments", "D-7:resolve:S1", 50_000)]
    assert month.breaks.filter(pl.col("category") == "missing_in_amili").height == 0
    mine = month.breaks.filter(pl.col("break_key") == "D-7").select("category", "status", "action", "action_note").rows()
    assert mine == [("unmatched_payment", "resolved", "match", "half of S1, says the payer")]
