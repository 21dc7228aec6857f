"""Amounts at the edge: exact JSON numbers from integer minor units, at most two decimals, never a float."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import orjson
import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from etl.amili.payloads import amount_text, json_amount, json_amount_expr, loads
from tests.e2e import delivery_support as ds

# Any JSON number in a payload's text (strings are cut out first: a message may hold digits and dots).
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NUMBER = re.compile(r"-?\d+(?:\.(\d+))?(?:[eE][-+]?\d+)?")
_CONFIG: dict[str, object] = {}

minor_units = st.integers(min_value=-(10**15), max_value=10**15)


def _config(tmp: Path):  # noqa: ANN202 - a Config, built once for all examples
    if "c" not in _CONFIG:
        _CONFIG["c"] = ds.load(ds.write_config(tmp, "http://127.0.0.1:9", apis=("arm", "collection", "ada", "autopostings")))
    return _CONFIG["c"]


def _numbers(payload: str) -> list[str]:
    return [m.group(0) for m in _NUMBER.finditer(_STRING.sub('""', payload))]


def test_amount_text_examples() -> None:
    cases = {0: "0.0", 1: "0.01", 7: "0.07", -305: "-3.05", 12050: "120.5", 10000: "100.0", 885571: "8855.71",
             64155: "641.55", 909980: "9099.8", -1: "-0.01", 10**15: "10000000000000.0"}
    assert {m: amount_text(m) for m in cases} == cases
    got = pl.DataFrame({"m": [*cases, None]}, schema={"m": pl.Int64}).select(json_amount_expr(pl.col("m"))).to_series()
    assert got.to_list() == [*cases.values(), None]
    assert orjson.dumps({"a": json_amount(885571)}) == b'{"a":8855.71}'


@settings(max_examples=300)
@given(st.lists(minor_units, min_size=1, max_size=50))
@example([885571, 64155, 909980, 1, -305, 10**15, 0, -(10**15), 99, -99, 10, -10])
def test_the_expression_and_the_python_form_agree_and_are_exact(values: list[int]) -> None:
    got = pl.DataFrame({"m": values}, schema={"m": pl.Int64}).select(json_amount_expr(pl.col("m"))).to_series().to_list()
    assert got == [amount_text(v) for v in values]
    for v, text in zip(values, got):
        assert Decimal(text) * 100 == v  # exact, whatever its size
        assert len(text.split(".")[1]) <= 2


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(minor_units, min_size=1, max_size=12))
@example([885571, 64155, 909980, 1, -305, 10**15, 0, -(10**15)])
def test_every_planned_amount_has_at_most_two_decimals_and_is_exact(tmp_path_factory, values: list[int]) -> None:  # noqa: ANN001
    config = _config(tmp_path_factory.mktemp("amounts"))
    n = len(values)
    inv, pays = ds.frames(n)
    inv = inv.with_columns(pl.Series("amount_minor", values), pl.Series("vat_minor", [v // 5 for v in values]),
                           pl.Series("amount_excl_vat_minor", [v - v // 5 for v in values]))
    per_api = pays.height // n
    pays = pays.with_columns(pl.Series("amount_minor", values * per_api))
    lines = inv.select("source_file", pl.col("source_line").alias("invoice_line"), pl.lit(1).alias("line_no"),
                       pl.lit(1).alias("source_line"), pl.lit("A").alias("article_no"), pl.lit("t").alias("line_text"),
                       "amount_minor", "amount_excl_vat_minor", "vat_minor",
                       pl.col("amount_minor").alias("unit_price_minor"), pl.lit(100).alias("quantity_hundredths"))
    planned = ds.plan_items(config, inv, pays, lines)
    assert planned.height == n * (1 + per_api)
    for api, payload, minor in planned.select("api", "payload", "amount_minor").iter_rows():
        for number in _numbers(payload):
            assert "e" not in number.lower() and len(number.partition(".")[2]) <= 2, (number, payload)
        doc = json.loads(payload, parse_float=Decimal)  # the exact decimal written, no float in between
        amount = {"arm.documents": lambda d: d["currencyAmounts"]["inclVat"], "arm.paymentreservations":
                  lambda d: d["currencyAmountPaid"], "arm.autopostings": lambda d: d["currencyAmount"]}.get(
                      api, lambda d: d["amount"])(doc)
        assert Decimal(amount) * 100 == minor, (api, payload)
        # Canonical: sorted keys, no spaces; a Python round trip through `loads` gives back the same bytes.
        assert orjson.dumps(loads(payload), option=orjson.OPT_SORT_KEYS).decode() == payload
        if api == "arm.documents":
            line = doc["documentLines"][0]
            assert Decimal(line["price"]) * 100 == minor and Decimal(line["currencyAmounts"]["vat"]) * 100 == minor // 5
