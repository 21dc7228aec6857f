"""Pandera (polars) models of canonical rows, and the one function that splits valid rows from rejects."""

from etl.schemas.validate import REJECT_SCHEMA, validate_rows

__all__ = ["REJECT_SCHEMA", "validate_rows"]
