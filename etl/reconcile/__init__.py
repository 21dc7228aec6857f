"""Reconciliation: one SQL file per question over the state database, unioned into the run's discrepancies."""

from etl.reconcile.runner import CATEGORIES, DISCREPANCY_COLUMNS, control_summary, control_totals, reconcile_run

__all__ = ["CATEGORIES", "DISCREPANCY_COLUMNS", "control_summary", "control_totals", "reconcile_run"]
