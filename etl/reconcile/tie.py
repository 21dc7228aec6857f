"""Totals that tie, per currency: every krone the bank received is delivered, unmatched, held back or rejected.

bank total = delivered + unmatched + held back + rejected; `unexplained` is what is left and must be 0. Each bucket is
summed from its own evidence (sql/tie_out.sql says which, and where the over part of an overpayment goes): a payment
counted nowhere or twice shows as unexplained, it is never absorbed by a "rest" bucket.
A difference written off automatically (write_off.py) is in no bucket: the payment was delivered whole (it is in
`delivered`), and the written-off part is the invoice's rest or the payer's extra, never bank money.
"""

from __future__ import annotations

import polars as pl

from etl.reconcile.runner import by_currency_text, run_query
from etl.store import Store

__all__ = ["TIE_COLUMNS", "tie_out", "tie_summary"]

TIE_COLUMNS = ("currency", "bank_total_minor", "delivered_minor", "unmatched_minor", "held_back_minor", "rejected_minor",
               "unexplained_minor")


def tie_out(store: Store, run_id: str) -> pl.DataFrame:
    """One row per currency of `run_id`'s incoming bank payments: TIE_COLUMNS, amounts Int64 minor units."""
    found = run_query(store, "tie_out", run_id)
    return found.select(pl.col("currency").cast(pl.String), *(pl.col(c).cast(pl.Int64) for c in TIE_COLUMNS[1:]))


def tie_summary(store: Store, run_id: str) -> dict[str, dict[str, str]]:
    """summary.json's totals.tie: per currency, the tie-out as decimal strings (`bank_total`, ..., `unexplained`)."""
    return by_currency_text(tie_out(store, run_id), TIE_COLUMNS[1:])
