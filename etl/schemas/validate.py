"""Validate canonical rows lazily with pandera and split them into valid rows and reject reasons."""

from __future__ import annotations

import polars as pl

__all__ = ["REJECT_SCHEMA", "validate_rows"]

REJECT_SCHEMA: dict[str, pl.DataType] = {
    "source_line": pl.Int64(),
    "error_column": pl.String(),
    "error_check": pl.String(),
    "error_message": pl.String(),
}

# Plain-language messages for pandera's check names; the check name itself stays in error_check.
_MESSAGES = {
    "not_nullable": "is missing or could not be parsed",
    "not_equal_to": "must not be zero",
    "in_range": "is out of range",
    "str_matches": "has the wrong format",
    "str_length": "has the wrong length",
    "field_uniqueness": "occurs more than once in the file",
}

_ROW = "__row"


def _message_expr() -> pl.Expr:
    """'<column> <plain words> (<value>)'; a whole-row check keeps its own message (vectorised)."""
    check = pl.col("error_check")
    words = pl.lit(None, dtype=pl.String)
    for prefix, text in reversed(list(_MESSAGES.items())):
        words = pl.when(check.str.starts_with(prefix)).then(pl.lit(text)).otherwise(words)
    value = pl.when(pl.col("value").is_null()).then(pl.lit("")).otherwise(pl.lit(" ('") + pl.col("value") + pl.lit("')"))
    per_column = pl.col("error_column") + pl.lit(" ") + words.fill_null(check) + value
    return pl.when(pl.col("error_column").is_null()).then(check).otherwise(per_column)


def validate_rows(rows: pl.DataFrame, kind: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(valid rows, rejects) for canonical `rows` of kind 'payments' or 'invoices'.

    Validates a collected frame (on a LazyFrame pandera checks only types: PERF-NOTES.md) and maps each
    failure back to its source line through an explicit row number.
    """
    import pandera.errors as pe  # imported here: pandera pulls in a lot, keep `--help` fast

    from etl.schemas.models import InvoiceRows, PaymentRows

    model = PaymentRows if kind == "payments" else InvoiceRows
    if rows.height == 0:
        return rows, pl.DataFrame(schema=REJECT_SCHEMA)
    numbered = rows.with_row_index(_ROW)
    try:
        model.validate(numbered, lazy=True)
        return rows, pl.DataFrame(schema=REJECT_SCHEMA)
    except pe.SchemaErrors as errs:
        cases = errs.failure_cases
    except pe.SchemaError as err:  # a single schema-level error (e.g. a column missing entirely)
        raise ValueError(str(err).splitlines()[0]) from None
    row_cases = cases.filter(pl.col("index").is_not_null())
    lines = numbered.select(_ROW, "source_line")
    rejects = (
        row_cases.select(
            pl.col("index").cast(pl.UInt32).alias(_ROW),
            # A whole-row check reports the model's name as its column: show no column for it.
            pl.when(pl.col("schema_context") == "DataFrameSchema")
            .then(None)
            .otherwise(pl.col("column").cast(pl.String))
            .alias("error_column"),
            pl.col("check").cast(pl.String).alias("error_check"),
            pl.col("failure_case").cast(pl.String).alias("value"),
        )
        .join(lines, on=_ROW, how="left")
        .with_columns(_message_expr().alias("error_message"))
        .unique(subset=[_ROW, "error_column", "error_check"], maintain_order=True)
    )
    bad_rows = rejects.get_column(_ROW).unique()
    valid = numbered.filter(~pl.col(_ROW).is_in(bad_rows.implode())).drop(_ROW)
    return valid, rejects.sort(_ROW).select(REJECT_SCHEMA.keys()).cast(REJECT_SCHEMA)
