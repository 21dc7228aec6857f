"""Deliver matched payments through the run's outbox and delivery engine: the intent first, a lost answer looked up
before any resend, every answer recorded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import polars as pl

from etl.amili import DeliveryReport, deliver, record_intents
from etl.amili.outbox import UNFINISHED, add_run_items
from etl.config import Config
from etl.plan import plan_items
from etl.store import Store

__all__ = ["deliver_matches", "match_key", "plan_match"]


def match_key(payment_key: str, invoice_number: str) -> str:
    """The stable key of a resolved match: the payment's key and the invoice it goes to (a reopened match sent to
    another invoice is another item; the same one is the same item, never sent twice)."""
    return f"{payment_key}:resolve:{invoice_number}"


def plan_match(config: Config, payment: dict[str, Any]) -> pl.DataFrame:
    """The outbox item (PLANNED_SCHEMA) of `payment` (a payments row whose invoice_number is the target), routed by
    the creditor's payments_to like a run's matched payment."""
    row = {k: payment.get(k) for k in ("creditor", "invoice_number", "amount_minor", "currency", "booking_date",
                                       "message", "source_file", "source_line", "reference")}
    row["payment_key"] = match_key(payment["payment_key"], payment["invoice_number"])
    pays = pl.DataFrame([row], schema={"creditor": pl.String, "invoice_number": pl.String, "amount_minor": pl.Int64,
                                       "currency": pl.String, "booking_date": pl.Date, "message": pl.String,
                                       "source_file": pl.String, "source_line": pl.Int64, "reference": pl.String,
                                       "payment_key": pl.String})
    return plan_items(config, pl.DataFrame(), pays)


def _unplanned(store: Store) -> list[dict[str, Any]]:
    """Active match resolutions whose item is not in the outbox yet (planned, then the process stopped)."""
    return store.frame("""
        SELECT r.* FROM resolutions r
        WHERE r.action = 'match' AND r.state = 'active' AND r.api IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.api = r.api AND o.key = r.key)""").to_dicts()


def deliver_matches(store: Store, config: Config, run_id: str, payments: dict[str, dict[str, Any]],
                    clock: Callable[[], dt.datetime]) -> tuple[DeliveryReport, int]:
    """Commit the intents of every active match resolution not in the outbox yet, then deliver each of their items
    without a final answer. `payments`: resolution_id -> the payment (with its target invoice) of this call's
    matches. Returns the report and how many items were to be delivered."""
    from etl.resolve.facts import find_payment

    planned = []
    for r in _unplanned(store):
        pay = payments.get(r["resolution_id"]) or find_payment(store, r["break_key"])
        if pay is not None:
            planned.append(plan_match(config, {**pay, "invoice_number": r["action_invoice"]}))
    planned_keys: list[str] = []
    if planned:
        frame = pl.concat(planned)
        record_intents(store, run_id, frame, clock().replace(tzinfo=None))
        planned_keys = frame.get_column("key").to_list()
    items = store.frame(f"""
        SELECT o.api, o.key, o.creditor, CAST(o.payload AS VARCHAR) AS payload, o.payload_hash, o.amount_minor,
               o.currency, o.source_file, o.source_line, o.reference, o.invoice_number, o.state, o.batch_key
        FROM outbox o JOIN resolutions r ON r.api = o.api AND r.key = o.key
        WHERE r.action = 'match' AND r.state = 'active' AND o.state IN {UNFINISHED}
        ORDER BY o.api, o.key""")
    if items.height == 0:
        return DeliveryReport(), 0
    add_run_items(store, run_id, items.filter(~pl.col("key").is_in(planned_keys)))  # record_intents added those
    report = deliver(store, config, run_id, items, lambda: clock().replace(tzinfo=None))
    return report, items.height
