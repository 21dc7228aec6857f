"""Item 8: a settled_amount_mismatch read back from ADA payouts or Collection settlements stays open, month after
month, until a later read-back shows the item paid out or settled right (then it is resolved)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from etl.config import load_config
from etl.reconcile.period import reconcile_period
from etl.reconcile.readback import READBACK_SCHEMA
from tests.conftest import SAMPLE
from tests.reconcile.support import COLLECTION_CREDITOR, outbox, period_rows, settlement

SCOPE = ["collection.settlements|c"]


def _payout(period: str, payment_id: str, row_id: str, amount: int, booked: dt.date) -> dict:
    return {"api": "ada.payout-specifications", "creditor": "solkraft-se", "key": payment_id, "amili_id": row_id,
            "amount_minor": amount, "currency": "SEK", "status": "payout", "booked": booked}


def _reader(rows_by_period: dict[str, list[dict]]):
    """A read-back that returns, for each period, the rows Amili would return then."""
    def read(config, start, end):
        return pl.DataFrame(rows_by_period.get(start.strftime("%Y-%m"), []), schema=READBACK_SCHEMA)
    return read


@pytest.fixture
def config():
    return load_config(SAMPLE / "amili-etl.toml", env={})


def _state(result, category: str = "settled_amount_mismatch") -> list[tuple]:
    return [(r["break_key"], r["status"], r["amount_minor"])
            for r in result.breaks.filter(pl.col("category") == category).to_dicts()]


def test_payout_mismatch_stays_open_until_paid_out_in_full(store, config) -> None:
    api = "ada.creditor-payments"
    # solkraft-se: the sample's Swedish creditor on ADA, whose payouts are read back.
    outbox(store, "k1", "confirmed", api=api, amili_id="a1", settled_minor=10_000, creditor="solkraft-se")
    read = _reader({
        "2026-11": [_payout("2026-11", "a1", "row-1", 6_000, dt.date(2026, 11, 25))],
        "2026-12": [],                                                              # nothing new paid out
        "2027-01": [_payout("2027-01", "a1", "row-2", 4_000, dt.date(2027, 1, 10))],  # the rest
    })
    today = dt.date(2027, 3, 1)
    nov = reconcile_period(store, config, "2026-11", read, today=today)
    assert _state(nov) == [("payout:k1", "new", 6_000)]
    dec = reconcile_period(store, config, "2026-12", read, today=today)
    assert _state(dec) == [("payout:k1", "persisting", 6_000)]                     # not read again: still open
    jan = reconcile_period(store, config, "2027-01", read, today=today)
    assert _state(jan) == [("payout:k1", "resolved", 6_000)]                       # 60.00 + 40.00 = what was settled


def test_settlement_mismatch_re_judged_on_every_settlement_read_so_far(store) -> None:
    day = dt.datetime(2026, 11, 28, 6)
    outbox(store, "short", "confirmed", api="collection.payments", updated_at=day)
    outbox(store, "late", "confirmed", api="collection.payments", updated_at=day)
    outbox(store, "still", "confirmed", api="collection.payments", updated_at=day)
    store.insert_frame("period_breaks", pl.DataFrame([
        {"period": "2026-11", "category": c, "break_key": k, "first_period": "2026-11", "first_seen": day.date(),
         "status": "new"} for c, k in (("settled_amount_mismatch", "settlement:short"),
                                       ("missing_in_amili", "collection.payments:late"),
                                       ("settled_amount_mismatch", "settlement:still"))]))
    settlement(store, "2026-11", "short", dt.date(2026, 11, 30), amount=6_000, sid="S-1")
    settlement(store, "2026-12", "short", dt.date(2026, 11, 30), amount=6_000, sid="S-1")  # read again: counted once
    settlement(store, "2026-12", "short", dt.date(2026, 12, 20), amount=4_000, sid="S-2")  # the rest: settled right
    settlement(store, "2026-12", "late", dt.date(2026, 12, 20), amount=7_000, sid="S-3")   # came late, and short
    settlement(store, "2026-11", "still", dt.date(2026, 11, 30), amount=5_000, sid="S-4")  # nothing more
    rows = period_rows(store, "settlement_mismatch_carried", "2026-12", SCOPE)
    assert [(r["break_key"], r["amount_minor"], r["expected_minor"]) for r in rows] == [
        ("settlement:late", 7_000, 10_000), ("settlement:still", 5_000, 10_000)]
    assert rows[0]["detail"].startswith("settled 70.00 NOK in 1 settlement(s) S-3")
    assert period_rows(store, "settlement_mismatch_carried", "2026-12", []) == []  # not read: readback_carried's


def test_collection_creditor_settled_late_in_part(tmp_path, store) -> None:
    """The whole month-end: a payment never settled in November is settled short in December: one break resolved,
    one new (the short settlement), never a month where the payment looks fine."""
    path = tmp_path / "c.toml"
    path.write_text(COLLECTION_CREDITOR.replace('"fjord-no"', '"c"'), encoding="utf-8")
    config = load_config(path, env={})
    outbox(store, "k", "confirmed", api="collection.payments", updated_at=dt.datetime(2026, 11, 20, 6))
    read = _reader({"2026-12": [{"api": "collection.settlements", "creditor": "c", "key": "k", "amili_id": "S-9",
                                 "amount_minor": 9_000, "currency": "NOK", "booked": dt.date(2026, 12, 15)}]})
    nov = reconcile_period(store, config, "2026-11", read, today=dt.date(2027, 1, 31))
    assert _state(nov, "missing_in_amili") == [("collection.payments:k", "new", 10_000)]
    dec = reconcile_period(store, config, "2026-12", read, today=dt.date(2027, 1, 31))
    assert _state(dec, "missing_in_amili") == [("collection.payments:k", "resolved", 10_000)]
    assert _state(dec) == [("settlement:k", "new", 9_000)]
