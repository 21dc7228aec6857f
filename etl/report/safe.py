"""Escaping against formula injection: a text cell that starts with = + - @ (or tab / CR) is not a formula."""

from __future__ import annotations

import re

import polars as pl

__all__ = ["escape_cell", "escape_text_columns"]

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# A signed plain number ("-348,56", "+12.00") cannot run as a formula: leave it, so rejects files stay re-readable.
_PLAIN_NUMBER = r"^[+-][0-9][0-9 .,\u00a0]*$"


def escape_cell(value: object, *, numbers_too: bool = False) -> object:
    """Prefix a dangerous text cell with an apostrophe; other values pass unchanged.

    A signed plain number is left alone unless `numbers_too` (the workbook escapes every such text cell; CSV files
    keep "-348,56" so a rejects file can be fed back in).
    """
    if isinstance(value, str) and value.startswith(_TRIGGERS) and (numbers_too or not re.match(_PLAIN_NUMBER, value)):
        return "'" + value
    return value


def escape_text_columns(frame: pl.DataFrame, keep: tuple[str, ...] = (), *, numbers_too: bool = False) -> pl.DataFrame:
    """Vectorised `escape_cell` over every String column except `keep` (e.g. amounts we formatted ourselves)."""
    risky = r"^[=+\-@\t\r]"
    plain = pl.lit(False) if numbers_too else None
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(risky) & ~(plain if plain is not None else pl.col(c).str.contains(_PLAIN_NUMBER)))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c, t in frame.schema.items()
        if t == pl.String and c not in keep
    )
