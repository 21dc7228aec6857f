"""Routing: each matched payment goes to exactly one Amili target, decided by its creditor's configuration.

Columns added to the match frame (the plan reads them, it does not decide again):
- `target`: arm.paymentreservations | arm.autopostings | collection.payments | ada.creditor-payments, or null when
  the payment is not sent (not matched, another currency, nothing open on the invoice, creditor without a payment
  target);
- `route_reason`: why, in words (shown in the report's Matched sheet).
"""

from __future__ import annotations

import polars as pl

from etl.config import Config
from etl.match.rules import MATCHED_RULES
from etl.money import format_minor_expr

__all__ = ["ROUTE_COLUMNS", "route_matches"]

ROUTE_COLUMNS = ("target", "route_reason")

_TARGET = {"arm": "arm.paymentreservations", "collection": "collection.payments", "ada": "ada.creditor-payments"}


def _creditor_routes(config: Config) -> pl.DataFrame:
    """One row per creditor: its payment target and the reason text."""
    rows = []
    for c in config.creditors:
        if c.payments_to == "arm" and c.autopostings:
            target, why = "arm.autopostings", f"{c.name}: payments_to = arm with autopostings = true"
        else:
            target = _TARGET.get(c.payments_to)
            why = f"{c.name}: payments_to = {c.payments_to}" if target else f"{c.name}: payments_to = none (not sent)"
        rows.append({"creditor": c.name, "_target": target, "_why": why})
    return pl.DataFrame(rows, schema={"creditor": pl.String, "_target": pl.String, "_why": pl.String})


def route_matches(matches: pl.DataFrame, payments: pl.DataFrame, config: Config) -> pl.DataFrame:
    """`matches` with `target` and `route_reason` (and `payment_no` when `payments` has it).

    `matches` holds one row per row of `payments`, in the same order (as match_payments answers): the payment's
    currency is taken by position, not by a join on the key text.
    """
    if matches.height != payments.height or not matches.get_column("payment_key").equals(payments.get_column("payment_key")):
        raise ValueError("route_matches: matches and payments must be the same payments in the same order")
    routes = _creditor_routes(config)
    carried = [c for c in ("payment_no",) if c in payments.columns and c not in matches.columns]
    m = matches.with_columns(payments.get_column("currency").alias("_pay_cur"), *[payments.get_column(c) for c in carried])
    m = m.join(routes, on="creditor", how="left", maintain_order="left")
    matched = pl.col("rule").is_in(MATCHED_RULES)
    same_cur = pl.col("invoice_currency") == pl.col("_pay_cur")
    # An invoice with nothing open (paid already, or a credit) is never a delivery target: the payment is an
    # overpayment for a person to refund or place, not money to post on that invoice (docs/matching.md).
    is_open = pl.col("outstanding_minor") > 0
    target = pl.when(matched & same_cur & is_open).then(pl.col("_target"))
    reason = (
        pl.when(~matched).then(pl.lit("not sent: rule ") + pl.col("rule"))
        .when(~same_cur).then(pl.lit("not sent: paid in ") + pl.col("_pay_cur") + ", invoice in " + pl.col("invoice_currency"))
        .when(~is_open.fill_null(False)).then(pl.lit("not sent: nothing open on invoice ") + pl.col("invoice_numbers")
                                             + " (" + format_minor_expr("outstanding_minor").fill_null("unknown") + ")")
        .otherwise(pl.col("_why"))
    )
    # Lazily: the optimiser evaluates the shared conditions once (half the time of the eager form on 1M rows).
    return m.lazy().with_columns(target.alias("target"), reason.alias("route_reason")).drop(
        "_pay_cur", "_target", "_why").collect()
