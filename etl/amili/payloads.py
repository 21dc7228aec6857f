"""JSON at the edge: amounts become JSON numbers exactly as Amili's docs show them, dates in each API's format."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any

import orjson

__all__ = ["json_amount", "rfc1123", "payload_hash", "dumps"]


def json_amount(minor: int) -> int | float:
    """Minor units -> the JSON number Amili expects (`120.5`, `100`).

    Inside amili-etl money is integer minor units; only here does it become a JSON number. A float's
    shortest repr of a 2-decimal value below 10^13 is that exact decimal, so no rounding can creep in.
    """
    if minor % 100 == 0:
        return minor // 100
    return float(Decimal(minor) / 100)


def rfc1123(day: dt.date) -> str:
    """A date as ADA's RFC 1123 timestamp at midnight GMT: 'Fri, 04 Jul 2025 00:00:00 GMT'."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


def dumps(payload: Any) -> bytes:
    """Canonical JSON bytes (sorted keys) of a payload."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def payload_hash(payload: Any) -> str:
    """sha256 of the canonical JSON: the same key with another hash is a changed payload."""
    return hashlib.sha256(dumps(payload)).hexdigest()
