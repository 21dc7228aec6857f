"""The Refunds sheet of the month-end and run workbooks: overpayments marked `refund`, to be paid back."""

from __future__ import annotations

import polars as pl

from etl.store import Store

__all__ = ["refunds_frame"]

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

