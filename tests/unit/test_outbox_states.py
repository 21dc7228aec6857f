"""Outbox states on a real DuckDB file: forward-only moves, batches, unfinished items for a rerun."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from etl.amili.outbox import (
    OUTCOME_SCHEMA,
    PLANNED_SCHEMA,
    acknowledge_batch,
    batch_remote_ids,
    open_batch,
    record_intents,
    record_outcomes,
    unfinished_items,
)
from etl.store import open_store

NOW = dt.datetime(2026, 11, 21, 6, 0)
API = "collection.payments"


def _planned(keys: list[str]) -> pl.DataFrame:
    return pl.DataFrame([{
        "api": API, "key": k, "creditor": "c", "payload": f'{{"k":"{k}"}}', "payload_hash": k, "amount_minor": 100,
        "currency": "NOK", "source_file": "f", "source_line": i, "reference": None, "invoice_number": "1",
    } for i, k in enumerate(keys)], schema=PLANNED_SCHEMA)


def _outcomes(rows: list[tuple[str, str]]) -> pl.DataFrame:
    return pl.DataFrame([{"key": k, "state": s, "http_status": 200, "message": s, "amili_id": None,
                          "settled_minor": None, "body": "{}"} for k, s in rows], schema=OUTCOME_SCHEMA)


def _states(store) -> dict[str, str]:
    return dict(store.execute("SELECT key, state FROM outbox").fetchall())


def test_confirmed_never_moves_and_rejected_only_to_confirmed(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.duckdb") as store:
        record_intents(store, "r1", _planned(["A", "B", "C"]), NOW)
        record_outcomes(store, "r1", API, _outcomes([("A", "confirmed"), ("B", "rejected"), ("C", "unknown")]), NOW)
        record_outcomes(store, "r2", API, _outcomes([("A", "unknown"), ("B", "unknown"), ("C", "confirmed")]), NOW)
        assert _states(store) == {"A": "confirmed", "B": "rejected", "C": "confirmed"}
        record_outcomes(store, "r3", API, _outcomes([("B", "confirmed")]), NOW)  # a later lookup found it after all
        assert _states(store)["B"] == "confirmed"
        assert store.execute("SELECT count(*) FROM responses").fetchone() == (7,)


def test_a_batch_carries_its_items_from_sent_to_acknowledged_and_they_stay_unfinished(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.duckdb") as store:
        items = record_intents(store, "r1", _planned(["A", "B", "C"]), NOW)
        assert "batch_key" in items.columns
        open_batch(store, "b1", API, "c", ["A", "B"], NOW)
        assert _states(store) == {"A": "sent", "B": "sent", "C": "intent"}
        assert batch_remote_ids(store, ["b1"]) == {"b1": None}
        acknowledge_batch(store, "b1", API, "remote-1", NOW)
        assert _states(store) == {"A": "acknowledged", "B": "acknowledged", "C": "intent"}
        assert batch_remote_ids(store, ["b1"]) == {"b1": "remote-1"}
        record_outcomes(store, "r1", API, _outcomes([("A", "confirmed")]), NOW)
        left = unfinished_items(store)
        assert left.select("key", "state", "batch_key").rows() == [("B", "acknowledged", "b1"), ("C", "intent", None)]
        assert unfinished_items(store, creditors=["other"]).height == 0
        assert unfinished_items(store, apis=["arm.documents"]).height == 0


def test_a_rerun_with_the_same_items_delivers_only_the_unfinished(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.duckdb") as store:
        record_intents(store, "r1", _planned(["A", "B"]), NOW)
        record_outcomes(store, "r1", API, _outcomes([("A", "confirmed")]), NOW)
        again = record_intents(store, "r2", _planned(["A", "B"]), NOW)
        assert dict(again.select("key", "action").rows()) == {"A": "skipped_confirmed", "B": "deliver"}
