"""The amount parser over generated bank-style amounts: every way a bank prints a number reads back exactly,
the plain fast path agrees with the full rules, and text that is not an amount never becomes one."""

from __future__ import annotations

import re

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.money import parse_amount_expr, parse_amounts, plain_amount_expr, plain_amounts

minor_units = st.integers(min_value=-(10**13), max_value=10**13)


def _group(digits: str, sep: str) -> str:
    """1234567 -> 1<sep>234<sep>567."""
    head = len(digits) % 3 or 3
    return sep.join([digits[:head], *(digits[i : i + 3] for i in range(head, len(digits), 3))])


@st.composite
def printed(draw: st.DrawFn) -> tuple[int, str, str]:
    """(minor units, text as a bank prints it, decimal mark)."""
    minor = draw(minor_units)
    decimal = draw(st.sampled_from([",", "."]))
    units, cents = divmod(abs(minor), 100)
    thousands = draw(st.sampled_from(["", " ", "\u00a0", "\u202f", "." if decimal == "," else ","]))
    body = _group(str(units), thousands) if thousands else str(units)
    sign = draw(st.sampled_from(["-", "\u2212", "trailing"])) if minor < 0 else draw(st.sampled_from(["", "+"]))
    # A trailing minus comes after the decimals (`123,00-`); `5-` is no amount (docs/formats.md "Amounts").
    if cents or sign == "trailing" or draw(st.booleans()):
        body += decimal + f"{cents:02d}"
    text = body + "-" if sign == "trailing" else sign + body
    text += draw(st.sampled_from(["", " kr", "kr", " SEK", " NOK", " kr."]))
    return minor, draw(st.sampled_from(["", " ", "  "])) + text + draw(st.sampled_from(["", " "])), decimal


@settings(max_examples=150)
@given(st.lists(printed(), min_size=1, max_size=30))
def test_every_printed_amount_reads_back_exactly(cases: list[tuple[int, str, str]]) -> None:
    for decimal in (",", "."):
        subset = [(m, t) for m, t, d in cases if d == decimal]
        if not subset:
            continue
        frame = pl.DataFrame({"t": [t for _, t in subset]})
        got = parse_amounts(frame.lazy(), {"a": "t"}, decimal).collect()["a"].to_list()
        assert got == [m for m, _ in subset], subset
        assert frame.select(parse_amount_expr("t", decimal)).to_series().to_list() == got


@given(st.lists(minor_units, min_size=1, max_size=50), st.sampled_from([",", "."]))
def test_plain_fast_path_agrees_with_the_full_rules(values: list[int], decimal: str) -> None:
    texts = [("-" if v < 0 else "") + f"{abs(v) // 100}{decimal}{abs(v) % 100:02d}" for v in values]
    frame = pl.DataFrame({"t": [*texts, None]})
    assert plain_amounts(frame, "t", decimal)
    fast = frame.select(plain_amount_expr("t", decimal)).to_series().to_list()
    full = parse_amounts(frame.lazy(), {"a": "t"}, decimal).collect()["a"].to_list()
    assert fast == full == [*values, None]


@given(st.text(alphabet="0123456789,.- krSEKabc+e", max_size=12))
def test_text_is_an_amount_only_if_it_looks_like_one(text: str) -> None:
    got = pl.select(parse_amount_expr(pl.lit(text), ",")).item()
    # One currency suffix, in any case ('kr', 'Kr.', 'SEK', 'nok'): the suffixes etl/money.py documents.
    compact = re.sub(r"(?i)(?:kr\.?|sek|nok)$", "", text.replace(" ", ""))
    if got is not None:
        # digits, at most one comma with 1-2 decimals, points only as thousands marks, one sign at either end
        assert not any(ch in compact for ch in "abce"), text
        assert compact.count(",") <= 1 and compact.strip("+-").replace(".", "").replace(",", "").isdigit(), text


def test_not_amounts() -> None:
    raw = ["12,345", "1,2,3", "--5", "5e3", "kr", "12,00 EUR", "1 2 3,4 5", ",50", "12.3.4,00x"]
    got = pl.DataFrame({"a": raw}).select(parse_amount_expr("a")).to_series().to_list()
    # Group marks only between groups of three, never among the decimals: "1 2 3,4 5" is no amount (issue 14).
    assert got == [None] * 9
