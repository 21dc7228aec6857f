"""Month-end and the accountant's resolutions: a break closed by `resolve` shows as resolved with who, when, what
and why in the month it was closed, and never comes back after; a match still on its way to Amili stays open with
the resolution beside it."""

from __future__ import annotations

import datetime as dt

import polars as pl

from etl.store import Store

__all__ = ["RESOLUTION_DETAIL_COLUMNS", "apply_resolutions"]

RESOLUTION_DETAIL_COLUMNS = ("action", "action_invoice", "action_note", "resolved_by", "resolved_at")

# The resolution holding each break now: a reopen leaves the undone row 'reopened' and itself is no resolution.
_HOLDING = """
SELECT category, break_key, action, action_invoice, action_note, resolved_by, resolved_at,
       action IN ('explain', 'refund') OR (action = 'write_off' AND api IS NULL) OR state = 'delivered' AS closes
FROM resolutions
WHERE action <> 'reopen' AND state IN ('active', 'delivered')
QUALIFY row_number() OVER (PARTITION BY category, break_key ORDER BY resolved_at DESC) = 1
"""


def apply_resolutions(store: Store, breaks: pl.DataFrame, start: dt.date) -> pl.DataFrame:
    """`breaks` with RESOLUTION_DETAIL_COLUMNS: a break closed (explain, refund, a write-off recorded or posted, a delivered
    match) on or after
    `start` is `resolved`; one closed before `start` was shown resolved in its own month and is left out; a match
    (or an ARM write-off) not delivered yet keeps its status (it is an outbox item, checked against the read-back like any other)."""
    held = store.frame(_HOLDING)
    joined = breaks.join(held, on=["category", "break_key"], how="left")
    closed = pl.col("closes").fill_null(False)
    earlier = closed & (pl.col("resolved_at").cast(pl.Date) < start)
    return joined.filter(~earlier).with_columns(
        pl.when(closed).then(pl.lit("resolved")).otherwise(pl.col("status")).alias("status"),
    ).drop("closes")
