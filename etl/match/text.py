"""Normalising what matching compares: structured references, free-text tokens and payer names (polars expressions)."""

from __future__ import annotations

import polars as pl

__all__ = ["GENERIC_TOKEN", "NOISE", "reference_key", "rf_body", "name_tokens"]

# Tokens of free text that may be invoice numbers: letters, digits and inner dashes/slashes.
GENERIC_TOKEN = r"[0-9A-Za-z][0-9A-Za-z/-]*[0-9A-Za-z]|[0-9A-Za-z]"

# Legal-form words say nothing about who paid: dropped before names are compared.
NOISE = ("as", "asa", "ab", "hb", "kb", "ans", "da", "ltd", "oy", "og", "och", "and", "the", "v", "c", "o")


def reference_key(col: str | pl.Expr) -> pl.Expr:
    """A structured reference as compared: spaces removed, upper case, KID/OCR leading zeros kept."""
    c = pl.col(col) if isinstance(col, str) else col
    return c.str.replace_all(r"[\s\u00a0]", "").str.to_uppercase()


def rf_body(col: str | pl.Expr) -> pl.Expr:
    """The creditor reference inside an ISO 11649 RF reference (`RF18 5390 0754 7034` -> `539007547034`), else null."""
    c = reference_key(col)
    return pl.when(c.str.contains(r"^RF[0-9]{2}[0-9A-Z]{1,21}$")).then(c.str.slice(4)).otherwise(None)


def name_tokens(col: str | pl.Expr) -> pl.Expr:
    """A name as a list of distinct lower-case word tokens without legal forms ('Fjordbakeriet AS' -> ['fjordbakeriet'])."""
    c = pl.col(col) if isinstance(col, str) else col
    return (
        c.str.to_lowercase()
        .str.extract_all(r"[\p{L}\p{N}]+")
        .list.eval(pl.element().filter(~pl.element().is_in(list(NOISE)) & (pl.element().str.len_chars() > 1)))
        .list.unique()
    )
