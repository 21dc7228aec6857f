"""Check digits of payment references: Norwegian KID (MOD10, MOD11), Swedish OCR (Luhn, optional length digit).

Scalar functions serve the generator and single checks; the `*_expr` functions are vectorised polars
expressions for the hot path (no per-row Python).
"""

from __future__ import annotations

import polars as pl

__all__ = [
    "REFERENCE_CHECKS",
    "mod10_check_digit",
    "mod11_check_digit",
    "luhn_length_digits",
    "is_valid_reference",
    "reference_valid_expr",
    "restore_kid_zeros",
]

REFERENCE_CHECKS = ("mod10", "mod11", "either", "luhn", "luhn_length", "none")
_MAX_LEN = 25  # a KID is at most 25 digits; Swedish OCR at most 25 as well


def mod10_check_digit(body: str) -> str:
    """The MOD10 (Luhn) check digit for a string of digits (the digit to append)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def mod11_check_digit(body: str) -> str | None:
    """The MOD11 check digit (weights 2..7 from the right); '-' when the remainder gives 10."""
    total = sum(int(ch) * (2 + i % 6) for i, ch in enumerate(reversed(body)))
    rest = 11 - total % 11
    if rest == 11:
        return "0"
    if rest == 10:
        return "-"
    return str(rest)


def luhn_length_digits(body: str) -> str:
    """Length digit plus Luhn check digit to append to `body` (Bankgirot 'OCR with length check')."""
    length_digit = str((len(body) + 2) % 10)
    return length_digit + mod10_check_digit(body + length_digit)


def is_valid_reference(ref: str | None, check: str) -> bool:
    """Whether `ref` passes the creditor's reference check (one of REFERENCE_CHECKS)."""
    if check == "none":
        return True
    if not ref or not (2 <= len(ref) <= _MAX_LEN):
        return False
    if check == "mod11" or check == "either":
        if ref[:-1].isdigit() and ref[-1] in "0123456789-" and mod11_check_digit(ref[:-1]) == ref[-1]:
            return True
        if check == "mod11":
            return False
    if not ref.isdigit():
        return False
    luhn_ok = mod10_check_digit(ref[:-1]) == ref[-1]
    if check == "luhn_length":
        return luhn_ok and int(ref[-2]) == len(ref) % 10
    return luhn_ok


def _digits(expr: pl.Expr) -> pl.Expr:
    """The reference right-aligned in 25 places, as a fixed-size list of Int64 digits (0-padded)."""
    return (
        # Longer strings are cut to 25 so the array shape holds; they fail the length check anyway.
        expr.str.zfill(_MAX_LEN)
        .str.slice(-_MAX_LEN)
        .str.split("")
        .list.eval(pl.element().cast(pl.Int64, strict=False))
        .list.to_array(_MAX_LEN)
    )


def _weighted_sum(expr: pl.Expr, weights: list[int], luhn: bool) -> pl.Expr:
    """Sum of digits x weights (weights given left to right over the 25 places); Luhn folds products > 9."""
    prod = _digits(expr).arr.to_list().list.eval(pl.element()) * pl.lit(pl.Series([weights]))
    if luhn:
        prod = prod.list.eval(pl.when(pl.element() > 9).then(pl.element() - 9).otherwise(pl.element()))
    return prod.list.sum()


# Weights over 25 right-aligned places; the check digit itself sits in the last place.
_LUHN_W = [(2 if (_MAX_LEN - 1 - i) % 2 == 1 else 1) for i in range(_MAX_LEN)]
_MOD11_W = [0 if i == _MAX_LEN - 1 else 2 + (_MAX_LEN - 2 - i) % 6 for i in range(_MAX_LEN)]


def _mod10_ok(col: pl.Expr) -> pl.Expr:
    return (_weighted_sum(col, _LUHN_W, luhn=True) % 10) == 0


def _mod11_ok(col: pl.Expr) -> pl.Expr:
    # A '-' check digit stands for remainder 10; compare the computed digit with the last character.
    body = col.str.slice(0, col.str.len_chars() - 1)
    last = col.str.slice(-1)
    rest = 11 - (_weighted_sum(body + "0", _MOD11_W, luhn=False) % 11)
    expected = (
        pl.when(rest == 11).then(pl.lit("0")).when(rest == 10).then(pl.lit("-")).otherwise(rest.cast(pl.String))
    )
    return body.str.contains(r"^\d+$") & (expected == last)


def reference_valid_expr(col: str | pl.Expr, check: str) -> pl.Expr:
    """Vectorised reference check: true when valid, false when not, null when the reference is null."""
    c = pl.col(col) if isinstance(col, str) else col
    if check == "none":
        return c.is_not_null()
    shape_ok = c.str.len_chars().is_between(2, _MAX_LEN)
    digits_ok = c.str.contains(r"^\d+$")
    if check in ("mod10", "luhn"):
        ok = digits_ok & _mod10_ok(c)
    elif check == "luhn_length":
        ok = digits_ok & _mod10_ok(c) & (c.str.slice(-2, 1).cast(pl.Int64, strict=False) == c.str.len_chars() % 10)
    elif check == "mod11":
        ok = _mod11_ok(c)
    elif check == "either":
        ok = (digits_ok & _mod10_ok(c)) | _mod11_ok(c)
    else:
        raise ValueError(f"unknown reference check {check!r}; expected one of {', '.join(REFERENCE_CHECKS)}")
    return pl.when(c.is_null()).then(None).otherwise(shape_ok & ok.fill_null(False))


def restore_kid_zeros(kids: pl.Series, length: int, check: str) -> pl.Series:
    """KIDs whose leading zeros Excel stripped, padded back to the creditor's fixed KID `length`: only an all-digit
    KID shorter than `length` whose padded form passes `check`; every other value as it was (a KID Excel turned
    into a number like 1.2345E+10 is not digits and stays as it is, for validation to reject)."""
    short = kids.str.contains(r"^\d+$").fill_null(False) & (kids.str.len_chars() < length)
    if not short.any():
        return kids
    padded = kids.str.zfill(length)
    ok = short & pl.select(reference_valid_expr(pl.lit(padded), check)).to_series().fill_null(False)
    return pl.select(pl.when(pl.lit(ok)).then(pl.lit(padded)).otherwise(pl.lit(kids))).to_series().alias(kids.name)
