"""The outbox on a real DuckDB file, and the report writers' contract details."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from etl.amili.outbox import PLANNED_SCHEMA, mark_sent, record_intents, record_outcome
from etl.report.safe import escape_cell, escape_text_columns
from etl.report.tables import CSV_COLUMNS, write_csv
from etl.store import open_store

NOW = dt.datetime(2026, 11, 21, 6, 0)


def _planned(key: str, payload: str) -> pl.DataFrame:
    return pl.DataFrame([{
        "api": "arm.paymentreservations", "key": key, "creditor": "c", "payload": payload,
        "payload_hash": str(hash(payload)), "amount_minor": 100, "currency": "NOK", "source_file": "f",
        "source_line": 3, "reference": None, "invoice_number": "1",
    }], schema=PLANNED_SCHEMA)


def test_confirmed_is_never_delivered_again_and_changed_payload_is_a_conflict(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.duckdb") as store:
        first = record_intents(store, "r1", _planned("K", '{"a":1}'), NOW)
        assert first.get_column("action").to_list() == ["deliver"]
        mark_sent(store, "arm.paymentreservations", ["K"], NOW)
        record_outcome(store, "r1", "arm.paymentreservations", "K", "confirmed", 200, "ok", "K", None, None, NOW)
        again = record_intents(store, "r2", _planned("K", '{"a":1}'), NOW)
        assert again.get_column("action").to_list() == ["skipped_confirmed"]
        changed = record_intents(store, "r3", _planned("K", '{"a":2}'), NOW)
        assert changed.get_column("action").to_list() == ["conflict"]
        state = store.execute("SELECT state, attempts, payload FROM outbox").fetchall()
        assert state == [("confirmed", 1, '{"a":1}')]


def test_state_survives_reopen(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.duckdb") as store:
        record_intents(store, "r1", _planned("K", "{}"), NOW)
        mark_sent(store, "arm.paymentreservations", ["K"], NOW)
    with open_store(tmp_path / "s.duckdb") as store:
        assert store.execute("SELECT state FROM outbox").fetchall() == [("sent",)]


def test_formula_cells_are_escaped_but_signed_numbers_are_not() -> None:
    assert escape_cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert escape_cell("@SUM(A1)") == "'@SUM(A1)"
    assert escape_cell("-348,56") == "-348,56"
    out = escape_text_columns(pl.DataFrame({"t": ["+cmd", "ok", "-1+1"]})).get_column("t").to_list()
    assert out == ["'+cmd", "ok", "'-1+1"]


def test_csv_has_the_contract_columns_and_decimal_amounts(tmp_path: Path) -> None:
    found = pl.DataFrame([{
        "category": "overpayment", "severity": "warning", "source_file": "=evil.csv", "source_line": 4,
        "reference": "123", "invoice_number": "9", "amount_minor": -123450, "currency": "NOK",
        "expected_minor": 5, "api": None, "api_status": None, "detail": "d", "difference_minor": -123455,
        "stable_key": "k",
    }])
    write_csv(found, tmp_path / "d.csv")
    lines = (tmp_path / "d.csv").read_text(encoding="utf-8").splitlines()
    # The contract's order (docs/reports.md); new columns are only ever appended.
    assert lines[0] == ",".join(CSV_COLUMNS) == ("category,severity,source_file,source_line,reference,invoice_number,"
                                                 "amount,currency,expected_amount,api,api_status,detail,difference,"
                                                 "break_key,action,action_invoice,action_note")
    # break_key is the stable key here; the three action columns are for the accountant to fill.
    assert lines[1] == "overpayment,warning,'=evil.csv,4,123,9,-1234.50,NOK,0.05,,,d,-1234.55,k,,,"
