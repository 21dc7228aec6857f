"""Check digits and amount parsing: properties over generated inputs, plus known examples."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.money import decimal_to_minor, format_minor, format_minor_expr, parse_amount_expr
from etl.refs import is_valid_reference, luhn_length_digits, mod10_check_digit, mod11_check_digit, reference_valid_expr

bodies = st.text(alphabet="0123456789", min_size=1, max_size=23)


@given(bodies)
def test_mod10_appended_digit_is_valid_and_any_other_is_not(body: str) -> None:
    good = body + mod10_check_digit(body)
    assert is_valid_reference(good, "mod10")
    wrong = body + str((int(good[-1]) + 1) % 10)
    assert not is_valid_reference(wrong, "mod10")


@given(bodies)
def test_mod11_appended_digit_is_valid(body: str) -> None:
    digit = mod11_check_digit(body)
    assert is_valid_reference(body + digit, "mod11")
    assert is_valid_reference(body + digit, "either")


@given(bodies)
def test_luhn_length(body: str) -> None:
    ref = body + luhn_length_digits(body)
    assert is_valid_reference(ref, "luhn_length")
    assert is_valid_reference(ref, "luhn")


@settings(max_examples=50)
@given(st.lists(st.text(alphabet="0123456789-", min_size=0, max_size=26), min_size=1, max_size=40))
def test_vectorised_checks_agree_with_scalar(refs: list[str]) -> None:
    df = pl.DataFrame({"r": refs})
    for check in ("mod10", "mod11", "either", "luhn", "luhn_length"):
        got = df.select(reference_valid_expr("r", check)).to_series().to_list()
        assert got == [is_valid_reference(r, check) for r in refs], check


def test_known_references() -> None:
    assert is_valid_reference("5432951000017", "mod10")  # from the sample data
    assert not is_valid_reference("500221850000200350786", "mod10")  # Amili's doc example passes neither
    assert not is_valid_reference("500221850000200350786", "mod11")
    assert is_valid_reference(None, "none")


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_amount_round_trip_comma_and_point(minor: int) -> None:
    text = format_minor(minor)
    comma = text.replace(".", ",")
    df = pl.DataFrame({"p": [text], "c": [comma], "kr": [comma + " kr"]})
    out = df.select(
        parse_amount_expr("p", ".").alias("p"), parse_amount_expr("c", ",").alias("c"), parse_amount_expr("kr", ",").alias("kr")
    ).row(0)
    assert out == (minor, minor, minor)
    assert decimal_to_minor(text) == minor
    assert pl.select(format_minor_expr(pl.lit(minor))).item() == text


def test_amount_formats_seen_at_banks() -> None:
    raw = ["-1 234,56", "1.234,5", "1\u00a0000,00 kr", "123,00-", "\u22125,00", "", "abc", None]
    got = pl.DataFrame({"a": raw}).select(parse_amount_expr("a")).to_series().to_list()
    assert got == [-123456, 123450, 100000, -12300, -500, None, None, None]
