"""Match bank payments to open invoices: documented rules in order, the first decisive one wins."""

from etl.match.rules import MATCH_SCHEMA, match_payments

__all__ = ["MATCH_SCHEMA", "match_payments"]
