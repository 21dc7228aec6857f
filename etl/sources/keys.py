"""Stable keys: derived from a payment's source facts only, never from the run or the file (DESIGN.md)."""

from __future__ import annotations

import hashlib

import polars as pl
import polars_hash as plh

__all__ = ["stable_key_expr", "stable_key", "occurrence_expr"]

_SEP = "|"
_KEY_HEX = 24  # 96 bits: collisions are out of reach for any creditor's lifetime of payments


def stable_key_expr(prefix: str, parts: list[pl.Expr]) -> pl.Expr:
    """`PREFIX-<24 hex of sha256(parts joined by '|')>`, vectorised; nulls hash as empty strings."""
    joined = plh.concat_str([p.cast(pl.String).fill_null("") for p in parts], separator=_SEP)
    return pl.lit(prefix + "-") + joined.chash.sha2_256().str.slice(0, _KEY_HEX)


def stable_key(prefix: str, parts: list[object]) -> str:
    """Scalar twin of `stable_key_expr`, for tests and single items."""
    joined = _SEP.join("" if p is None else str(p) for p in parts)
    return f"{prefix}-{hashlib.sha256(joined.encode()).hexdigest()[:_KEY_HEX]}"


def occurrence_expr(parts: list[pl.Expr]) -> pl.Expr:
    """1-based count of earlier identical rows (by `parts`) in file order: tells twin payments apart."""
    return pl.int_range(pl.len()).over(parts) + 1
