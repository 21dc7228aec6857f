"""difference_minor: what is at stake in each discrepancy, in a run (reconcile_run) and at month-end (reconcile_period)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from etl.config import load_config
from etl.reconcile.period import BREAK_COLUMNS, reconcile_period
from etl.reconcile.runner import DISCREPANCY_COLUMNS, reconcile_run
from tests.conftest import SAMPLE
from tests.reconcile.support import RUN, file, invoice, match, outbox, payment, run


def _by_category(found: pl.DataFrame) -> dict[str, int | None]:
    return dict(found.select("category", "difference_minor").iter_rows())


def test_each_category_carries_what_is_at_stake(store) -> None:
    payment(store, "over", source_line=1, amount_minor=11_500)
    match(store, "over", "reference", invoice_number="1", outstanding_minor=11_000, invoice_currency="NOK")
    payment(store, "under", source_line=2, amount_minor=4_000)
    match(store, "under", "reference", invoice_number="2", outstanding_minor=10_000, invoice_currency="NOK")
    payment(store, "lost", source_line=3, amount_minor=7_700)
    match(store, "lost", "none")
    file(store, "broken.txt", "held_back", computed_total_minor=10_000, declared_total_minor=12_000)
    outbox(store, "settled", "confirmed", api="ada.creditor-payments", amount_minor=10_000, settled_minor=9_000)
    outbox(store, "refused", "rejected", api="ada.creditor-payments", amount_minor=3_300, http_status=422)

    found = reconcile_run(store, RUN)
    assert found.columns == list(DISCREPANCY_COLUMNS) and found.schema["difference_minor"] == pl.Int64
    assert _by_category(found) == {
        "overpayment": 500,  # amount - expected: the over part, not the whole payment
        "underpayment": -6_000,
        "unmatched_payment": 7_700,  # the whole payment is at stake
        "control_total_mismatch": -2_000,  # the file's computed total - its declared total
        "settled_amount_mismatch": -1_000,  # settled - sent
        "rejected": 3_300,
    }
    # Derived, never stored: the table keeps the questions' columns only.
    stored = store.frame("SELECT * FROM discrepancies LIMIT 0").columns
    assert "difference_minor" not in stored


def test_month_end_breaks_carry_it_too(store) -> None:
    config = load_config(SAMPLE / "amili-etl.toml", env={})
    run(store, RUN, dt.datetime(2026, 11, 21, 6))
    invoice(store, "77", dt.date(2026, 11, 10), amount_minor=42_000)  # due in the month, nothing paid
    payment(store, "over", source_line=1, amount_minor=11_500)
    match(store, "over", "reference", invoice_number="1", outstanding_minor=11_000, invoice_currency="NOK")
    reconcile_run(store, RUN)
    breaks = reconcile_period(store, config, "2026-11", None).breaks
    from etl.reconcile.resolutions import RESOLUTION_DETAIL_COLUMNS

    assert breaks.columns == [*BREAK_COLUMNS, *RESOLUTION_DETAIL_COLUMNS]  # resolve's columns last (empty here)
    assert _by_category(breaks) == {"overpayment": 500, "unpaid_invoice": 42_000}  # unpaid: the open amount
