"""The match stage of a run: open invoices from the state database, match, route, store matches and allocations."""

from __future__ import annotations

import polars as pl

from etl.config import Config
from etl.match.breakdown import apply_breakdowns
from etl.match.route import ROUTE_COLUMNS, route_matches
from etl.match.rules import MATCH_SCHEMA, MATCHED_RULES, allocations, match_payments
from etl.store import Store

__all__ = ["open_invoices", "match_run"]

# Earlier runs' allocations are what was paid: a second partial payment next week is matched against the rest.
# A dry run's invoices and allocations are not: it sent nothing, so for later runs it never happened.
_OPEN_SQL = """
WITH dry AS (SELECT run_id FROM runs WHERE mode = 'dry-run' AND run_id <> $run_id),
latest AS (
    SELECT * FROM invoices
    WHERE run_id NOT IN (SELECT run_id FROM dry)
    QUALIFY row_number() OVER (PARTITION BY creditor, invoice_number ORDER BY run_id = $run_id DESC, run_id DESC) = 1
),
this_run AS (SELECT payment_key FROM payments WHERE run_id = $run_id),
paid AS (
    SELECT creditor, invoice_number, sum(amount_minor) AS paid_minor FROM (
        SELECT DISTINCT a.creditor, a.invoice_number, a.payment_key, a.amount_minor
        FROM match_allocations a
        WHERE a.run_id <> $run_id AND a.payment_key NOT IN (SELECT payment_key FROM this_run)
          AND a.run_id NOT IN (SELECT run_id FROM dry)
    ) GROUP BY ALL
)
SELECT l.creditor, l.invoice_number, l.kid, l.amount_minor, l.currency, l.customer_number, l.customer_name,
       l.invoice_date, l.due_date, l.amount_minor - coalesce(paid.paid_minor, 0) AS outstanding_minor
FROM latest l LEFT JOIN paid USING (creditor, invoice_number)
ORDER BY l.creditor, l.invoice_number
"""


def open_invoices(store: Store, run_id: str) -> pl.DataFrame:
    """Every known invoice (latest export wins) with what is still open, net of earlier runs' payments."""
    return store.frame(_OPEN_SQL, {"run_id": run_id})


def match_run(store: Store, config: Config, run_id: str, candidates: pl.DataFrame) -> pl.DataFrame:
    """Match this run's candidate payments, route them, store `matches` and `match_allocations`; return the matches.

    `candidates` carry `payment_no` (the payment's number in the run), stored with each match. The returned frame has
    MATCH_SCHEMA plus `target`, `route_reason` and `payment_no` (the plan sends a payment to `target`, and only when
    it is not null), and the allocations the plan splits a multi-invoice payment by (`_multi`, `_split_refs`).
    """
    settings = {c.name: c.matching for c in config.creditors}
    checks = {c.name: c.reference_check for c in config.creditors}
    open_inv = open_invoices(store, run_id)
    found = apply_breakdowns(match_payments(candidates, open_inv, settings, checks), candidates, open_inv)
    routed = route_matches(found, candidates, config)
    run = pl.lit(run_id).alias("run_id")
    with store.transaction():
        store.insert_frame("matches", routed.select(*MATCH_SCHEMA, *ROUTE_COLUMNS, "payment_no").with_columns(run))
        # A payment to an invoice with nothing open is not posted on it (route.py): it pays nothing off, so the
        # invoice's open amount is not driven below zero for the next run.
        alloc = allocations(routed.filter(pl.col("rule").is_in(MATCHED_RULES) & (pl.col("outstanding_minor") > 0)))
        store.insert_frame("match_allocations", alloc.with_columns(run))
    return routed.drop("_paid")
