"""Pandera (polars) models of canonical rows, and the one function that splits valid rows from rejects."""

from etl.schemas.rules import RowRules
from etl.schemas.validate import REJECT_SCHEMA, validate_rows

__all__ = ["REJECT_SCHEMA", "RowRules", "validate_rows"]
