"""Apply a layout to a frame of text cells: canonical columns as polars expressions (no per-row Python)."""

from __future__ import annotations

from functools import partial

import polars as pl

from etl.errors import InputError
from etl.mapping.layout import Layout
from etl.money import parse_amount_expr

__all__ = ["apply_mapping", "check_columns", "parse_date_expr", "reference_in_text_expr", "MissingColumnError"]

# Columns that travel with the rows untouched (lineage added by the reader).
_PASS_THROUGH = ("source_line", "source_sheet")


class MissingColumnError(InputError):
    """A column the layout maps is not in the file."""

    def __init__(self, layout: Layout, column: str, field: str, available: list[str]) -> None:
        self.column, self.field, self.available = column, field, available
        have = ", ".join(repr(c) for c in available) or "none"
        super().__init__(
            f"column {column!r} (mapped as {field} by layout {layout.name!r}) is missing; the file has: {have}"
        )


def check_columns(columns: list[str], layout: Layout) -> None:
    """Raise MissingColumnError for the first mapped column that `columns` lacks."""
    present = set(columns)
    for field, cols in [*layout.columns.items(), *(("skip_rows_matching", (c,)) for c in layout.skip_rows_matching)]:
        for col in cols:
            if col not in present:
                raise MissingColumnError(layout, col, field, [c for c in columns if c not in _PASS_THROUGH])


_AMOUNT_FIELDS = ("amount", "amount_in", "amount_out", "amount_excl_vat", "vat_amount", "amount_incl_vat")


def _blank_to_null(e: pl.Expr) -> pl.Expr:
    s = e.cast(pl.String).str.strip_chars()
    return pl.when(s != "").then(s)


def _tmp(field: str) -> str:
    return f"__{field}"


def _source_text(layout: Layout, field: str) -> pl.Expr:
    """A field's text from its source column(s): stripped, blank as null; several columns joined with a space."""
    parts = [_blank_to_null(pl.col(c)) for c in layout.columns[field]]
    if len(parts) == 1:
        return parts[0]
    return pl.concat_str(parts, separator=" ", ignore_nulls=True).replace("", None)


def _text(layout: Layout, field: str) -> pl.Expr:
    """A field's text, as materialised by apply_mapping's first step; null when the layout does not map it."""
    if field not in layout.columns:
        return pl.lit(None, dtype=pl.String)
    return pl.col(_tmp(field))


def parse_date_expr(text: pl.Expr, formats: tuple[str, ...]) -> pl.Expr:
    """Date from text by the layout's formats, else ISO (also `2026-10-01 00:00:00`, as Excel dates read); else null."""
    iso = text.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$", 1)
    tries = [text.str.strptime(pl.Date, fmt, strict=False) for fmt in formats]
    return pl.coalesce([*tries, iso.str.strptime(pl.Date, "%Y-%m-%d", strict=False)])


def _amount(text: pl.Expr, decimal: str) -> pl.Expr:
    """Amount text -> minor units by the layout's decimal mark.

    In a decimal-comma layout a point followed by one or two digits at the end is still a decimal point:
    that is how numeric Excel cells read as text (`1234.5`), and it cannot be a thousands separator.
    """
    if decimal == ",":
        text = (
            pl.when(text.str.contains(r"^[+-]?\d+\.\d{1,2}$"))
            .then(text.str.replace(".", ",", literal=True))
            .otherwise(text)
        )
    return parse_amount_expr(text, decimal=decimal)


def reference_in_text_expr(text: pl.Expr) -> pl.Expr:
    """A KID / OCR number in a text cell: the cell if it is 2-25 digits (spaces allowed), else digits after KID/OCR."""
    compact = text.str.replace_all(r"[\s\u00a0]", "")
    whole = pl.when(compact.str.contains(r"^\d{2,25}$")).then(compact)
    labelled = text.str.extract(r"(?i)\b(?:kid|ocr)(?:-?nr\.?|-?nummer)?[\s:.#]*(\d(?:[ \u00a0]?\d){1,24})\b", 1)
    labelled = labelled.str.replace_all(r"[ \u00a0]", "")
    return pl.coalesce([whole, pl.when(labelled.str.len_chars() <= 25).then(labelled)])


def _digits(e: pl.Expr) -> pl.Expr:
    d = e.str.replace_all(r"\D", "")
    return pl.when(d.str.len_chars() > 0).then(d)


def _fixed_or(layout: Layout, field: str, fixed: str | None) -> pl.Expr:
    """The mapped column's text, falling back to the layout's fixed value (e.g. currency = "NOK")."""
    text = _text(layout, field)
    return text if fixed is None else pl.coalesce([text, pl.lit(fixed)])


def _minor(layout: Layout, field: str) -> pl.Expr:
    """A money field in minor units, as materialised by apply_mapping's second step; null when not mapped."""
    if field not in layout.columns:
        return pl.lit(None, dtype=pl.Int64)
    return pl.col(_tmp(field))


def _bank(layout: Layout) -> list[pl.Expr]:
    if "amount" in layout.columns:
        amount = _minor(layout, "amount")
    else:
        # Out is always money leaving the account, whatever sign the bank prints it with (SpareBank 1 prints -348,56).
        inn, out = _minor(layout, "amount_in"), _minor(layout, "amount_out")
        amount = pl.when(inn.is_null() & out.is_null()).then(None).otherwise(inn.fill_null(0) - out.abs().fill_null(0))
    reference = reference_in_text_expr(_text(layout, "reference")) if "reference" in layout.columns else None
    return [
        _digits(_fixed_or(layout, "account", layout.account)).alias("account"),
        parse_date_expr(_text(layout, "booking_date"), layout.date_formats).alias("booking_date"),
        amount.cast(pl.Int64).alias("amount_minor"),
        _fixed_or(layout, "currency", layout.currency).str.to_uppercase().alias("currency"),
        (reference if reference is not None else pl.lit(None, dtype=pl.String)).alias("reference"),
        _text(layout, "message").alias("message"),
        _text(layout, "payer_name").alias("payer_name"),
        _digits(_text(layout, "payer_account")).alias("payer_account"),
        _text(layout, "bank_ref").alias("bank_ref"),
    ]


def _invoices(layout: Layout) -> list[pl.Expr]:
    money = partial(_minor, layout)
    return [
        _text(layout, "invoice_number").alias("invoice_number"),
        _text(layout, "customer_number").alias("customer_number"),
        _text(layout, "customer_name").alias("customer_name"),
        _text(layout, "kid").str.replace_all(r"[\s\u00a0]", "").alias("kid"),
        parse_date_expr(_text(layout, "invoice_date"), layout.date_formats).alias("invoice_date"),
        parse_date_expr(_text(layout, "due_date"), layout.date_formats).alias("due_date"),
        _fixed_or(layout, "currency", layout.currency).str.to_uppercase().alias("currency"),
        money("amount_excl_vat").alias("amount_excl_vat_minor"),
        money("vat_amount").alias("vat_minor"),
        money("amount_incl_vat").alias("amount_minor"),
    ]


def apply_mapping(frame: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """Text cells in `layout`'s shape -> canonical columns (payments or invoices), rows the layout skips left out.

    `source_line` / `source_sheet` pass through; lineage and keys are the reader's job.
    Raises MissingColumnError when a mapped column is not in `frame`.
    """
    check_columns(frame.columns, layout)
    lf = frame.lazy()
    for col, pattern in layout.skip_rows_matching.items():
        lf = lf.filter(~pl.col(col).fill_null("").str.contains(pattern))
    keep = [c for c in _PASS_THROUGH if c in frame.columns]
    # Staged: each field's text, then each amount, is computed once into a column. parse_amount_expr reuses
    # its input several times, and an inlined input expression would be evaluated again each time
    # (measured: 1M rows of SpareBank 1 took 7 s inlined, under 1.5 s staged).
    lf = lf.with_columns([_source_text(layout, f).alias(_tmp(f)) for f in layout.columns])
    amounts = [f for f in _AMOUNT_FIELDS if f in layout.columns]
    lf = lf.with_columns([_amount(pl.col(_tmp(f)), layout.decimal).cast(pl.Int64).alias(_tmp(f)) for f in amounts])
    exprs = _bank(layout) if layout.kind == "bank" else _invoices(layout)
    return lf.select(*keep, *exprs).collect()
