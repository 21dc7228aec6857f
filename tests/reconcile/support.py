"""Rows for the reconciliation tests, written into a real DuckDB state file with every other column defaulted."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from etl.reconcile.runner import run_query
from etl.store import Store

RUN = "r1"
NOW = dt.datetime(2026, 11, 21, 6, 0)

# A Norwegian creditor on Collection (fictitious organisation; the account passes MOD11), for the settlement tests.
COLLECTION_ORG = "5a1e0c3e-7d2b-4f4e-9a57-0c6f2d8b9e11"
COLLECTION_ACCOUNT = "15062995979"
COLLECTION_CREDITOR = f"""
[[creditor]]
name = "fjord-no"
country = "NO"
accounts = ["{COLLECTION_ACCOUNT}"]
reference_check = "mod10"
invoices_to = "none"
payments_to = "collection"
invoice_mapping = "invoices_generic"
invoice_files = ["invoices_fjord_*"]
collection = {{ base_url = "https://api.amili.no/collection/v1", org_id = "{COLLECTION_ORG}" }}
auth = {{ token_url = "https://auth.amili.no/token", client_id_env = "AMILI_NO_CLIENT_ID", client_secret_env = "AMILI_NO_CLIENT_SECRET" }}
"""


def payment(store: Store, key: str, **cols: Any) -> None:
    """One payments row of RUN (an incoming 100.00 NOK to creditor c, line 1 of bank.txt) with `cols` overriding.

    Its payment_no is the next free number of its run, as the pipeline numbers a run's payments.
    """
    run_id = cols.get("run_id", RUN)
    number = store.execute("SELECT count(*) FROM payments WHERE run_id = ?", [run_id]).fetchall()[0][0]
    row = {"run_id": RUN, "payment_no": number, "payment_key": key, "source_file": "bank.txt", "source_sha256": "s", "source_line": 1,
           "format": "ocr_giro", "creditor": "c", "account": "1", "booking_date": dt.date(2026, 11, 20),
           "amount_minor": 10_000, "currency": "NOK", "reference": None, "reference_valid": None, "message": None,
           "held_back": False, "duplicate_of": None, **cols}
    store.insert_frame("payments", pl.DataFrame([row]))


def match(store: Store, key: str, rule: str, **cols: Any) -> None:
    """One matches row of RUN for payment `key` (linked by payment_no to its first sighting in the run)."""
    run_id = cols.get("run_id", RUN)
    found = store.execute("SELECT min(payment_no) FROM payments WHERE run_id = ? AND payment_key = ? "
                          "AND duplicate_of IS NULL AND NOT held_back", [run_id, key]).fetchall()[0]
    row = {"run_id": RUN, "payment_no": found[0] if found else None, "payment_key": key, "creditor": "c", "rule": rule, "invoice_number": None,
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


def readback(store: Store, period: str, api: str, key: str, amount: int = 10_000, booked: dt.date | None = None) -> None:
    """One amili_readback row."""
    store.insert_frame("amili_readback", pl.DataFrame([{"period": period, "api": api, "creditor": "c", "key": key,
                                                        "amili_id": f"id-{key}", "amount_minor": amount, "currency": "NOK",
                                                        "status": "ok", "read_at": NOW, "booked": booked}],
                                                      schema_overrides={"booked": pl.Date}))


def settlement(store: Store, period: str, key: str | None, booked: dt.date, amount: int = 10_000,
               sid: str | None = None, creditor: str = "c", currency: str = "NOK") -> None:
    """One Collection settlement read back (key = uniqueSourcePaymentId; None: the debtor paid Amili directly)."""
    sid = sid or f"s-{key}"
    store.insert_frame("amili_readback", pl.DataFrame([{
        "period": period, "api": "collection.settlements", "creditor": creditor, "key": key, "amili_id": sid,
        "amount_minor": amount, "currency": currency, "status": "REMINDER", "read_at": NOW, "booked": booked,
        "batch_id": f"b-{sid}", "invoice_number": f"inv-{sid}", "case_number": "1000001", "reference": key}],
        schema_overrides={"key": pl.String}))


def period_params(period: str, scope: list[str] | None = None, today: dt.date | None = None) -> dict[str, Any]:
    """The parameters reconcile_period binds for `period` (scope: the 'api|creditor' lists read back; today: the
    day of the read, by default long after the period so every payment had its settlement lag)."""
    from etl.reconcile.period import CARRIED, period_bounds, settlement_params

    start, end, previous = period_bounds(period)
    return {"start": start, "end": end, "period": period, "previous": previous, "scope": scope or [],
            "carried": list(CARRIED),
            **settlement_params(start, end, today or end + dt.timedelta(days=60))}


def period_rows(store: Store, name: str, period: str, scope: list[str] | None = None,
                today: dt.date | None = None) -> list[dict[str, Any]]:
    """The rows one month-end question answers."""
    from etl.reconcile.period import period_query

    return period_query(store, name, period_params(period, scope, today)).to_dicts()
