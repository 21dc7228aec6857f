"""Money as integer minor units (øre/öre): parse bank amount text vectorised, format as decimal strings."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

__all__ = ["parse_amount_expr", "format_minor", "format_minor_expr", "minor_to_decimal", "decimal_to_minor"]


def parse_amount_expr(col: str | pl.Expr, decimal: str = ",") -> pl.Expr:
    """Amount text -> Int64 minor units; null when it is not an amount.

    Accepts `-1 234,56`, `-1.234,56`, `1234.5`, `1 000,00 kr`, NBSP or thin-space thousands, a Unicode
    minus, a trailing minus, and blanks (null). `decimal` is the layout's decimal mark ("," or ".").
    Never goes through float: the integer and fraction parts are parsed separately.
    """
    c = pl.col(col) if isinstance(col, str) else col
    thousands = "." if decimal == "," else ","
    s = (
        c.str.strip_chars()
        .str.replace(r"(?i)\s*(kr|sek|nok)\.?$", "")
        .str.replace_many(["\u2212", "\u00a0", "\u202f", " ", "'", thousands], ["-", "", "", "", "", ""])
    )
    if decimal == ",":
        s = s.str.replace(",", ".", literal=True)
    # A trailing minus ("123,00-") is how some banks print debits.
    s = pl.when(s.str.ends_with("-")).then("-" + s.str.strip_chars_end("-")).otherwise(s)
    m = s.str.extract_groups(r"^([+-]?)(\d+)(?:\.(\d{0,2}))?$")
    sign = pl.when(m.struct.field("1") == "-").then(-1).otherwise(1)
    units = m.struct.field("2").cast(pl.Int64, strict=False)
    frac = m.struct.field("3").fill_null("").str.pad_end(2, "0").cast(pl.Int64, strict=False)
    return (sign * (units * 100 + frac)).cast(pl.Int64)


def minor_to_decimal(minor: int) -> Decimal:
    """Minor units -> Decimal with two places."""
    return (Decimal(minor) / 100).quantize(Decimal("0.01"))


def decimal_to_minor(value: Decimal | str | int) -> int:
    """A decimal amount (Decimal, string or int of major units) -> minor units, exactly."""
    return int((Decimal(str(value)) * 100).to_integral_exact())


def format_minor(minor: int) -> str:
    """Minor units -> `1234.50` (a point, no thousands separator), as the report contract wants."""
    return str(minor_to_decimal(minor))


def format_minor_expr(col: str | pl.Expr) -> pl.Expr:
    """Vectorised `format_minor`: Int64 minor units -> decimal string with a point; null stays null."""
    c = (pl.col(col) if isinstance(col, str) else col).cast(pl.Int64)
    sign = pl.when(c < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    a = c.abs()
    return sign + (a // 100).cast(pl.String) + "." + (a % 100).cast(pl.String).str.zfill(2)
