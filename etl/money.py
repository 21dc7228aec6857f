"""Money as integer minor units (øre/öre): parse bank amount text vectorised, format as decimal strings."""

from __future__ import annotations

import re
from decimal import Decimal

import polars as pl

__all__ = [
    "parse_amount_expr",
    "parse_amounts",
    "plain_amounts",
    "plain_amount_columns",
    "plain_amount_expr",
    "format_minor",
    "format_minor_expr",
    "minor_to_decimal",
    "decimal_to_minor",
]

# Removed before parsing: thousands spaces (plain, NBSP, narrow NBSP), apostrophes, TABs; a Unicode minus
# becomes '-'. One Aho-Corasick pass (replace_many) is several times cheaper than a regex.
_NOISE = ["\u2212", "\u00a0", "\u202f", " ", "'", "\t", "\r", "\n"]
_NOISE_TO = ["-", "", "", "", "", "", "", ""]
# Currency suffixes, stripped from the end (after the spaces are gone): `1 000,00 kr` -> `1000,00`.
_SUFFIX = r"(?i)(?:kr\.?|sek|nok)$"


def parse_amounts(frame: pl.LazyFrame, columns: dict[str, str], decimal: str = ",") -> pl.LazyFrame:
    """Add Int64 minor-unit columns `out` parsed from the text columns `src` ({out: src}); null when not an amount.

    Accepts `-1 234,56`, `-1.234,56`, `1234.5`, `1 000,00 kr`, NBSP or thin-space thousands, a Unicode
    minus, a trailing minus, and blanks (null). `decimal` is the layout's decimal mark ("," or ".").
    In a decimal-comma layout a point followed by one or two digits at the end, with no comma, is still a
    decimal point: that is how numeric Excel cells read as text (`1234.5`); it cannot be a thousands mark.
    Never goes through float: the digits are read as one integer and scaled by the count of decimals.

    Staged on purpose: each step is materialised as a column before the next reads it. One nested
    expression reuses its input several times and polars evaluates it again at each use: 1M rows of
    two amount columns took 3.4 s as one expression, 0.45 s staged.
    """
    if decimal not in (",", "."):
        raise ValueError(f"decimal must be ',' or '.', not {decimal!r}")
    if not columns:
        return frame
    outs = list(columns)
    frame = frame.with_columns(_strip_suffixes(pl.col(src).cast(pl.String).str.replace_many(_NOISE, _NOISE_TO)).alias(out) for out, src in columns.items())
    if decimal == ",":
        frame = frame.with_columns(_comma_to_point(pl.col(out)).alias(out) for out in outs)
    else:
        frame = frame.with_columns(pl.col(out).str.replace_all(",", "", literal=True) for out in outs)
    # A trailing minus ("123,00-") is how some banks print debits.
    frame = frame.with_columns(
        pl.when(pl.col(out).str.ends_with("-"))
        .then(pl.lit("-") + pl.col(out).str.strip_chars_end("-"))
        .otherwise(pl.col(out))
        .alias(out)
        for out in outs
    )
    return frame.with_columns(_to_minor(pl.col(out)).alias(out) for out in outs)


def plain_amounts(frame: pl.DataFrame, col: str, decimal: str = ",") -> bool:
    """Whether every amount in `col` is plain: `[-]digits<decimal mark>two digits`, no thousands, no suffix
    (or empty).

    Most bank exports are; `plain_amount_expr` then parses them in one cheap pass instead of the full rules
    of `parse_amounts` (1M rows: 0.05 s instead of 0.25 s per column). One regex pass decides.
    """
    return col in plain_amount_columns(frame, [col], decimal)


def plain_amount_columns(frame: pl.DataFrame, cols: list[str], decimal: str = ",") -> set[str]:
    """Those of `cols` whose amounts are all plain (see `plain_amounts`): one query, the columns side by side."""
    if not cols:
        return set()
    mark = re.escape(decimal)
    checks = [
        (pl.col(c).str.contains(rf"^(?:-?\d{{1,15}}{mark}\d\d)?$") | pl.col(c).is_null()).all().alias(str(k))
        for k, c in enumerate(cols)  # an empty cell (a quoted "") is plain too
    ]
    verdicts = frame.select(checks).row(0)
    return {c for c, ok in zip(cols, verdicts, strict=True) if ok}


def plain_amount_expr(col: str, decimal: str = ",") -> pl.Expr:
    """Plain amount text (see `plain_amounts`) -> Int64 minor units: drop the decimal mark, read the integer."""
    return pl.col(col).str.replace(decimal, "", literal=True).cast(pl.Int64, strict=False)  # "" -> null


def _strip_suffixes(s: pl.Expr) -> pl.Expr:
    """Remove one currency suffix (one anchored regex pass: cheaper than a chain of strip_suffix)."""
    return s.str.replace(_SUFFIX, "")


def _comma_to_point(s: pl.Expr) -> pl.Expr:
    """Decimal-comma text -> decimal-point text: points are thousands marks unless they end like a decimal."""
    dot = s.str.find(".", literal=True)
    excel_number = (dot >= s.str.len_bytes() - 3) & ~s.str.contains(",", literal=True)
    converted = s.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    return pl.when(excel_number).then(s).otherwise(converted)


def _to_minor(s: pl.Expr) -> pl.Expr:
    """`[-]digits[.d[d]]` -> Int64 minor units; anything else (letters, two signs, 3+ decimals) -> null."""
    dot = s.str.find(".", literal=True)
    decimals = s.str.len_bytes() - dot - 1
    # Only [+-]digits[.dd] may reach the cast (a digit before the point; at most two after it).
    units = pl.when(s.str.contains(r"^[+-]?\d+(?:\.\d{0,2})?$")).then(s.str.replace(".", "", literal=True))
    scale = (
        pl.when(dot.is_null())
        .then(100)
        .when(decimals == 2)
        .then(1)
        .when(decimals == 1)
        .then(10)
        .when(decimals == 0)
        .then(100)
    )
    return (units.cast(pl.Int64, strict=False) * scale).cast(pl.Int64)


def _parse_series(decimal: str):  # noqa: ANN202 - a polars batch function
    def parse(s: pl.Series) -> pl.Series:
        return parse_amounts(s.to_frame("a").lazy(), {"a": "a"}, decimal).collect().to_series()

    return parse


def parse_amount_expr(col: str | pl.Expr, decimal: str = ",") -> pl.Expr:
    """Amount text -> Int64 minor units, as an expression (same rules as `parse_amounts`, run batch-wise)."""
    c = pl.col(col) if isinstance(col, str) else col
    return c.cast(pl.String).map_batches(_parse_series(decimal), return_dtype=pl.Int64, is_elementwise=True)


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
