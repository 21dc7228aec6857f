"""Value formats at the edge: JSON amounts to minor units and back, dates in the three APIs' styles."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from email.utils import format_datetime

import orjson

__all__ = [
    "to_minor",
    "minor_str",
    "minor_number",
    "is_iso_date",
    "is_iso_datetime",
    "parse_rfc1123",
    "rfc1123",
    "iso_utc",
    "kid_ok",
    "is_currency",
    "seed_minor",
    "sha1_of",
]

_CENT = Decimal("0.01")


def to_minor(value: object) -> int:
    """A JSON number -> integer minor units, exactly; ValueError if not a finite number with at most 2 decimals."""
    d = _json_decimal(value)
    # A strict money API: 8855.710000000001 is refused, never rounded (the client's float arithmetic leaked).
    if d.normalize().as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("must have at most two decimals")
    return int(d.scaleb(2))


def _json_decimal(value: object) -> Decimal:
    """A JSON number as the Decimal the client wrote; ValueError if not a finite number."""
    # bool is an int in Python but never an amount in JSON.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number")
    # str() of a float is its shortest repr, i.e. the digits the client wrote: no binary noise.
    try:
        d = Decimal(str(value))
    except InvalidOperation as exc:  # pragma: no cover - orjson never yields such floats
        raise ValueError("must be a number") from exc
    if not d.is_finite():
        raise ValueError("must be a finite number")
    return d


def seed_minor(value: object) -> int:
    """A seed amount -> minor units, rounded half-up to 2 places: a JSON number or a decimal string ("1234.50")."""
    if isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a decimal amount") from exc
        return _decimal_minor(d)
    return _decimal_minor(_json_decimal(value))  # seeds stay lenient: only what clients send is strict


def _decimal_minor(d: Decimal) -> int:
    if not d.is_finite():
        raise ValueError("must be a finite number")
    return int(d.quantize(_CENT, rounding=ROUND_HALF_UP) * 100)


def minor_str(minor: int) -> str:
    """Minor units -> "123.45" (sign first, always two decimals)."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole}.{cents:02d}"


def minor_number(minor: int) -> int | float:
    """Minor units -> the JSON number Amili would print (an int when whole, as in the docs' examples)."""
    whole, cents = divmod(minor, 100)
    # float(str) of a 2-decimal string is the nearest double, and orjson prints it back as that string.
    return whole if cents == 0 else float(minor_str(minor))


def is_iso_date(value: object) -> bool:
    """True for a "YYYY-MM-DD" string."""
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_iso_datetime(value: object) -> bool:
    """True for an ISO 8601 date or date-time string ("2025-04-27T06:08:37.227Z", "2025-04-27")."""
    if not isinstance(value, str) or len(value) < 10:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def parse_rfc1123(value: object) -> datetime | None:
    """"Fri, 04 Jul 2025 16:20:41 GMT" -> an aware datetime; None when not in that exact format."""
    if not isinstance(value, str):
        return None
    try:
        # strptime's %a/%b are locale-bound; Python's default C locale gives the English names HTTP uses.
        return datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    except ValueError:
        return None


def rfc1123(epoch: float | None = None) -> str:
    """Epoch seconds (default now) -> "Fri, 04 Jul 2025 14:35:29 GMT"."""
    moment = datetime.fromtimestamp(int(time.time() if epoch is None else epoch), UTC)
    return format_datetime(moment, usegmt=True)


def iso_utc(epoch: float) -> str:
    """Epoch seconds -> "2025-07-04T14:35:29.123Z"."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_currency(value: object) -> bool:
    """True for an ISO 4217-shaped code: three upper-case letters."""
    return isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha() and value.isupper()


def kid_ok(kid: str) -> bool:
    """A Norwegian KID: 2-25 digits whose last digit is a MOD10 (Luhn) or MOD11 check digit."""
    if not (kid.isdigit() and kid.isascii() and 2 <= len(kid) <= 25):
        return False
    body, check = kid[:-1], kid[-1]
    return check in (_mod10(body), _mod11(body))


def _mod10(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str((10 - total % 10) % 10)


def _mod11(body: str) -> str:
    total = sum(int(ch) * (2 + i % 6) for i, ch in enumerate(reversed(body)))
    rest = 11 - total % 11
    return "0" if rest == 11 else ("-" if rest == 10 else str(rest))


def sha1_of(value: object) -> str:
    """40-hex SHA-1 of a JSON value in canonical form (sorted keys): equal data, equal digest."""
    return hashlib.sha1(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()
