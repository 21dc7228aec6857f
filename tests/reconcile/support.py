"""Rows for the reconciliation tests, written into a real DuckDB state file with every other column defaulted."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from etl.reconcile.runner import run_query
from etl.store import Store

RUN = "r1"
NOW = dt.datetime(2026, 11, 21, 6, 0)


def payment(store: Store, key: str, **cols: Any) -> None:
    """One payments row of RUN (an incoming 100.00 NOK to creditor c, line 1 of bank.txt) with `cols` overriding."""
    row = {"run_id": RUN, "payment_key": key, "source_file": "bank.txt", "source_sha256": "s", "source_line": 1,
           "format": "ocr_giro", "creditor": "c", "account": "1", "booking_date": dt.date(2026, 11, 20),
           "amount_minor": 10_000, "currency": "NOK", "reference": None, "reference_valid": None, "message": None,
           "held_back": False, "duplicate_of": None, **cols}
    store.insert_frame("payments", pl.DataFrame([row]))


def match(store: Store, key: str, rule: str, **cols: Any) -> None:
    """One matches row of RUN for payment `key`."""
    row = {"run_id": RUN, "payment_key": key, "creditor": "c", "rule": rule, "invoice_number": None,
           "candidates": None, "invoice_amount_minor": None, "outstanding_minor": None, "invoice_currency": None,
           "evidence": None, "fields": None, "score": None, "target": None, "route_reason": None, **cols}
    store.insert_frame("matches", pl.DataFrame([row], schema_overrides={"score": pl.Float64, "outstanding_minor": pl.Int64,
                                                                       "invoice_amount_minor": pl.Int64}))


def outbox(store: Store, key: str, state: str, action: str = "deliver", api: str = "arm.paymentreservations",
           **cols: Any) -> None:
    """One outbox item (100.00 NOK from bank.txt line 1) and the run_items row of RUN that planned it."""
    row = {"api": api, "key": key, "creditor": "c", "payload_hash": "h", "payload": "{}", "state": state,
           "amount_minor": 10_000, "currency": "NOK", "source_file": "bank.txt", "source_line": 1, "reference": None,
           "invoice_number": "1", "first_run_id": RUN, "last_run_id": RUN, "attempts": 1, "http_status": None,
           "amili_id": None, "settled_minor": None, "message": None, "created_at": NOW, "updated_at": NOW, **cols}
    store.insert_frame("outbox", pl.DataFrame([row], schema_overrides={"http_status": pl.Int32, "settled_minor": pl.Int64}))
    store.insert_frame("run_items", pl.DataFrame([{"run_id": RUN, "api": api, "key": key, "action": action,
                                                   "conflict_detail": cols.get("message") if action == "conflict" else None}]))


def file(store: Store, path: str, status: str, **cols: Any) -> None:
    """One files row of RUN."""
    row = {"run_id": RUN, "path": path, "sha256": "s", "format": "ocr_giro", "kind": "payments", "status": status,
           "message": None, "rows": 1, "valid": 1, "rejected": 0, "total_minor": 10_000, "currency": "NOK",
           "declared_total_minor": None, "computed_total_minor": None, **cols}
    store.insert_frame("files", pl.DataFrame([row], schema_overrides={"declared_total_minor": pl.Int64,
                                                                     "computed_total_minor": pl.Int64}))


def query(store: Store, name: str, run_id: str = RUN) -> list[dict[str, Any]]:
    """The rows one reconciliation query answers, as dicts."""
    return run_query(store, name, run_id).to_dicts()


def run(store: Store, run_id: str, started: dt.datetime, status: str = "discrepancies") -> None:
    """One runs row."""
    store.execute("INSERT INTO runs (run_id, started_at, mode, status) VALUES (?, ?, 'run', ?)", [run_id, started, status])


def invoice(store: Store, number: str, due: dt.date, run_id: str = RUN, **cols: Any) -> None:
    """One invoices row (100.00 NOK of creditor c)."""
    row = {"run_id": run_id, "creditor": "c", "invoice_number": number, "kid": None, "invoice_date": due - dt.timedelta(14),
           "due_date": due, "currency": "NOK", "amount_minor": 10_000, "source_file": "inv.csv", "source_sha256": "s",
           "source_line": 2, **cols}
    store.insert_frame("invoices", pl.DataFrame([row]))


def allocation(store: Store, key: str, number: str, amount: int = 10_000, run_id: str = RUN) -> None:
    """One match_allocations row."""
    store.insert_frame("match_allocations", pl.DataFrame([{"run_id": run_id, "payment_key": key, "creditor": "c",
                                                           "invoice_number": number, "amount_minor": amount}]))


def readback(store: Store, period: str, api: str, key: str, amount: int = 10_000) -> None:
    """One amili_readback row."""
    store.insert_frame("amili_readback", pl.DataFrame([{"period": period, "api": api, "creditor": "c", "key": key,
                                                        "amili_id": f"id-{key}", "amount_minor": amount, "currency": "NOK",
                                                        "status": "ok", "read_at": NOW}]))


def period_params(period: str, scope: list[str] | None = None) -> dict[str, Any]:
    """The parameters reconcile_period binds for `period` (scope: the 'api|creditor' lists read back)."""
    from etl.reconcile.period import period_bounds

    start, end, previous = period_bounds(period)
    return {"start": start, "end": end, "period": period, "previous": previous, "scope": scope or []}


def period_rows(store: Store, name: str, period: str, scope: list[str] | None = None) -> list[dict[str, Any]]:
    """The rows one month-end question answers."""
    from etl.reconcile.period import period_query

    return period_query(store, name, period_params(period, scope)).to_dicts()
