"""JSON at the edge: amounts become JSON numbers exactly as Amili's docs show them, dates in each API's format."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import orjson
import polars as pl

__all__ = ["amount_text", "json_amount", "json_amount_expr", "loads", "rfc1123", "payload_hash", "dumps"]

# Inside amili-etl money is integer minor units; only at the edge does it become a JSON number, written from the
# integer with integer arithmetic (minor / 100 as a float prints 8855.710000000001 for 885571). The form is the
# one the payloads have always had for amounts a float printed right: at most two decimals, trailing zeros
# dropped, a whole amount as `100.0`, so the payload hashes of earlier runs stay the same.


def amount_text(minor: int) -> str:
    """Minor units -> the amount's exact JSON number text: `120.5`, `100.0`, `8855.71`, `-3.05`, `0.07`."""
    whole, cents = divmod(abs(minor), 100)
    sign = "-" if minor < 0 else ""
    return f"{sign}{whole}." + ("0" if cents == 0 else f"{cents:02d}".rstrip("0"))


def json_amount(minor: int) -> orjson.Fragment:
    """Minor units -> an exact JSON number for orjson.dumps (a Fragment: its bytes go out as written)."""
    return orjson.Fragment(amount_text(minor))


def json_amount_expr(minor: pl.Expr) -> pl.Expr:
    """Vectorised `amount_text`: Int64 minor units -> the exact JSON number text; null stays null."""
    m = minor.cast(pl.Int64)
    a = m.abs()
    sign = pl.when(m < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    # The decimals by table lookup (cents -> "0", "05", "5", "55"): measured faster than string ops per row.
    return pl.concat_str([sign, (a // 100).cast(pl.String), pl.lit("."), pl.lit(_DECIMALS).gather(a % 100)])


_DECIMALS = pl.Series("decimals", [amount_text(c)[2:] for c in range(100)], dtype=pl.String)


def loads(payload: str | bytes) -> dict[str, Any]:
    """A stored payload as a dict whose decimal numbers (the amounts) stay their exact JSON text when dumped again."""
    # orjson.loads would make 8855.71 a float; a Fragment keeps the bytes the planner wrote and hashed.
    return json.loads(payload, parse_float=orjson.Fragment)  # type: ignore[no-any-return]


def rfc1123(day: dt.date) -> str:
    """A date as ADA's RFC 1123 timestamp at midnight GMT: 'Fri, 04 Jul 2025 00:00:00 GMT'."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


def dumps(payload: Any) -> bytes:
    """Canonical JSON bytes (sorted keys) of a payload."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def payload_hash(payload: Any) -> str:
    """sha256 of the canonical JSON: the same key with another hash is a changed payload."""
    return hashlib.sha256(dumps(payload)).hexdigest()
