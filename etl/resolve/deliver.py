"""Deliver matched payments through the run's outbox and delivery engine: the intent first, a lost answer looked up
before any resend, every answer recorded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import polars as pl

from etl.amili import DeliveryReport, deliver, record_intents
from etl.amili.outbox import UNFINISHED, add_run_items
from etl.config import Config
from etl.plan import plan_items
from etl.store import Store

__all__ = ["deliver_matches", "match_key", "plan_match", "plan_write_off"]


def match_key(payment_key: str, invoice_number: str) -> str:
    """The stable key of a resolved match: the payment's key and the invoice it goes to (a reopened match sent to
    another invoice is another item; the same one is the same item, never sent twice)."""
    return f"{payment_key}:resolve:{invoice_number}"


def plan_match(config: Config, payment: dict[str, Any], key: str | None = None) -> pl.DataFrame:
    """The outbox item (PLANNED_SCHEMA) of `payment` (a payments row whose invoice_number is the target), routed by
    the creditor's payments_to like a run's matched payment."""
    row = {k: payment.get(k) for k in ("creditor", "invoice_number", "amount_minor", "currency", "booking_date",
                                       "message", "source_file", "source_line", "reference")}
    row["payment_key"] = key or match_key(payment["payment_key"], payment["invoice_number"])
    pays = pl.DataFrame([row], schema={"creditor": pl.String, "invoice_number": pl.String, "amount_minor": pl.Int64,
                                       "currency": pl.String, "booking_date": pl.Date, "message": pl.String,
                                       "source_file": pl.String, "source_line": pl.Int64, "reference": pl.String,
                                       "payment_key": pl.String})
    return plan_items(config, pl.DataFrame(), pays)


def plan_write_off(config: Config, payment: dict[str, Any], amount_minor: int, day: dt.date) -> pl.DataFrame:
    """The ARM autoposting (PLANNED_SCHEMA) writing `amount_minor` off the payment's invoice (positive: the unpaid
    rest of an underpayment; negative: the over part of an overpayment), keyed `<payment key>:writeoff`; empty
    when the creditor does not post autopostings (the write-off is then recorded for the ledger only)."""
    c = config.creditor(payment["creditor"])
    if not (c.payments_to == "arm" and c.autopostings):
        return pl.DataFrame()
    return plan_match(config, {**payment, "amount_minor": amount_minor, "booking_date": day, "message": None,
                               "payment_key": payment["payment_key"]}, key=f"{payment['payment_key']}:writeoff")


def _unplanned(store: Store) -> list[dict[str, Any]]:
    """Active match resolutions whose item is not in the outbox yet (planned, then the process stopped)."""
    return store.frame("""
        SELECT r.* FROM resolutions r
        WHERE r.action IN ('match', 'write_off') AND r.state = 'active' AND r.api IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.api = r.api AND o.key = r.key)""").to_dicts()


def deliver_matches(store: Store, config: Config, run_id: str, payments: dict[str, dict[str, Any]],
                    clock: Callable[[], dt.datetime]) -> tuple[DeliveryReport, int]:
    """Commit the intents of every active match resolution not in the outbox yet, then deliver each of their items
    without a final answer. `payments`: resolution_id -> the payment (with its target invoice) of this call's
    matches. Returns the report and how many items were to be delivered."""
    from etl.resolve.facts import find_payment

    planned = []
    names = {c.name for c in config.creditors}
    for r in _unplanned(store):
        if r["creditor"] not in names:
            continue  # another creditor's (--creditor): its own resolve delivers it
        pay = payments.get(r["resolution_id"]) or find_payment(store, r["break_key"])
        if pay is None:
            continue
        pay = {**pay, "invoice_number": r["action_invoice"]}
        planned.append(plan_match(config, pay) if r["action"] == "match" else
                       plan_write_off(config, pay, r["amount_minor"] * (-1 if r["category"] == "overpayment" else 1),
                                      r["resolved_at"].date()))
    planned_keys: list[str] = []
    if planned:
        frame = pl.concat(planned)
        record_intents(store, run_id, frame, clock().replace(tzinfo=None))
        planned_keys = frame.get_column("key").to_list()
    items = store.frame(f"""
        SELECT o.api, o.key, o.creditor, CAST(o.payload AS VARCHAR) AS payload, o.payload_hash, o.amount_minor,
               o.currency, o.source_file, o.source_line, o.reference, o.invoice_number, o.state, o.batch_key
        FROM outbox o JOIN resolutions r ON r.api = o.api AND r.key = o.key
        WHERE r.action IN ('match', 'write_off') AND r.state = 'active' AND o.state IN {UNFINISHED}
          AND list_contains($creditors, o.creditor)
        ORDER BY o.api, o.key""", {"creditors": [c.name for c in config.creditors]})  # --creditor: its own only
    if items.height == 0:
        return DeliveryReport(), 0
    add_run_items(store, run_id, items.filter(~pl.col("key").is_in(planned_keys)))  # record_intents added those

    def stamp() -> dt.datetime:
        return clock().replace(tzinfo=None)  # the outbox's naive UTC

    report = deliver(store, config, run_id, items.filter(~pl.col("key").str.ends_with(":writeoff")), stamp)
    offs = items.filter(pl.col("key").str.ends_with(":writeoff"))
    if offs.height:  # the same engine, the creditor's write-off method in place of its payment method
        writing_off = replace(config, creditors=tuple(replace(c, arm_autoposting_method=c.arm_writeoff_method)
                                                      for c in config.creditors))
        more = deliver(store, writing_off, run_id, offs, stamp)
        for name in ("sent", "confirmed", "rejected", "pending"):
            getattr(report, name).update(getattr(more, name))
        report.unavailable += more.unavailable
    return report, items.height
