"""Resolutions in the month-end and run workbooks: the Refunds sheet (overpayments marked `refund`, to be paid back)
and what resolved a break (action, note, who, when)."""

from __future__ import annotations

import polars as pl

from etl.store import Store

__all__ = ["refunds_frame", "with_resolution"]

# Every refund not undone by a reopen, oldest first; amount = the over part to pay back.
_REFUNDS_SQL = """
SELECT break_key, category, creditor, amount_minor, currency, action_note, resolved_by, resolved_at, state,
       source_file, source_row
FROM resolutions
WHERE action = 'refund' AND state <> 'reopened'
ORDER BY resolved_at, break_key
"""


def refunds_frame(store: Store) -> pl.DataFrame:
    """Every refund recorded and not reopened, as the state is now (a run's and a month-end's workbook alike)."""
    return store.frame(_REFUNDS_SQL)


def with_resolution(store: Store, breaks: pl.DataFrame) -> pl.DataFrame:
    """Resolved breaks with what resolved them, where a resolution did: action, note, who and when (the latest)."""
    found = store.frame(
        "SELECT category, break_key, action, action_note, resolved_by, resolved_at FROM resolutions "
        "WHERE state <> 'reopened' AND action <> 'reopen' "
        "QUALIFY row_number() OVER (PARTITION BY category, break_key ORDER BY resolved_at DESC) = 1")
    return breaks.join(found, on=["category", "break_key"], how="left", maintain_order="left")
