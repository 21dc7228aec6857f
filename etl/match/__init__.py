"""Matching bank payments to open invoices (rules with evidence) and routing each match to one Amili target."""

from etl.match.route import ROUTE_COLUMNS, route_matches
from etl.match.rules import ALLOCATION_SCHEMA, MATCH_SCHEMA, MATCHED_RULES, allocations, match_payments

__all__ = ["ALLOCATION_SCHEMA", "MATCH_SCHEMA", "MATCHED_RULES", "ROUTE_COLUMNS", "allocations", "match_payments",
           "route_matches"]
