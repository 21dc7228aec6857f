"""Which creditors and bank booking dates a report covers, read from the state database (for the Summary's heading)."""

from __future__ import annotations

import datetime as dt

from etl.store import Store

__all__ = ["report_scope"]

_SQL = """
SELECT
  (SELECT list(DISTINCT c ORDER BY c) FROM (
      SELECT creditor AS c FROM files WHERE list_contains($runs, run_id)
      UNION ALL SELECT creditor FROM payments WHERE list_contains($runs, run_id)) WHERE c IS NOT NULL) AS creditors,
  min(booking_date) AS first_booked, max(booking_date) AS last_booked
FROM payments
WHERE list_contains($runs, run_id) AND booking_date >= $start AND booking_date < $end
"""


def report_scope(store: Store, run_ids: list[str], within: tuple[dt.date, dt.date] | None = None
                 ) -> tuple[tuple[str, ...], tuple[dt.date, dt.date] | None]:
    """The creditors of the runs' files and payments, and the first and last booking date of their bank payments
    (only those booked in [start, end) when `within` is given: a month-end covers its own month)."""
    start, end = within or (dt.date.min, dt.date.max)
    row = store.frame(_SQL, {"runs": run_ids, "start": start, "end": end}).row(0, named=True)
    booked = (row["first_booked"], row["last_booked"]) if row["first_booked"] is not None else None
    return tuple(row["creditors"] or ()), booked
