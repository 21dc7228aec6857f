"""Precision on a generated noisy bank file (fixed seed, 3,000 payments): no delivery to a wrong invoice, or to an
invoice with nothing open, and the payments that can be found still are (bench/match_precision.py: 300,000)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from etl.config import load_config
from etl.match import match_payments, route_matches
from tests.unit.noisy_payments import score, world

SAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "sample_data" / "amili-etl.toml"


@pytest.fixture(scope="module")
def scored() -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    pays, inv = world(3_000, 4_000, seed=15)
    config = load_config(SAMPLE_CONFIG, env={})
    settings = {c.name: c.matching for c in config.creditors}
    checks = {c.name: c.reference_check for c in config.creditors}
    routed = route_matches(match_payments(pays, inv, settings, checks), pays, config)
    return pays, routed, score(pays, routed)


def test_the_noise_is_there(scored: tuple[pl.DataFrame, pl.DataFrame, dict]) -> None:
    pays, routed, _ = scored
    # Hundreds of random "ref" numbers equal an invoice number: the test would pass for nothing otherwise.
    noise = pays.with_columns(routed.get_column("rule")).filter(pl.col("kind") == "noise_ref")
    hits = noise.with_columns(pl.col("message").str.extract(r"(\d+)$").cast(pl.Int64).alias("n")).filter(
        pl.col("n") < 104_000)
    assert hits.height > 200
    assert set(hits.get_column("rule")) == {"none"}


def test_no_delivery_to_a_wrong_invoice_or_one_with_nothing_open(scored: tuple[pl.DataFrame, pl.DataFrame, dict]) -> None:
    _, _, s = scored
    assert s["wrong_deliveries"] == 0
    assert s["nothing_open_deliveries"] == 0
    for rule, r in s["per_rule"].items():
        assert r["precision"] == 1.0, rule


def test_the_good_ones_are_still_matched(scored: tuple[pl.DataFrame, pl.DataFrame, dict]) -> None:
    _, _, s = scored
    per_kind = {k: (n, delivered, right) for k, n, delivered, right in s["per_kind"].iter_rows()}
    # Every kind whose payment carries its evidence is delivered in full to its invoice.
    for kind in ("kid", "text_kid", "number_full", "number_customer", "two_invoices", "amount_name"):
        n, delivered, right = per_kind[kind]
        assert right == delivered == n, kind
    # The payer's name corroborates unless another customer bears the same name (a few in this world).
    n, delivered, right = per_kind["number_partial_named"]
    assert right == delivered and right >= 0.9 * n
    # Nothing corroborates a part payment naming an invoice number without a payer name: left for a person.
    assert per_kind["number_partial_bare"][1] == 0
    for kind in ("noise_ref", "noise_two", "noise_kid_shape", "paid_again"):
        assert per_kind[kind][1] == 0, kind


def test_a_kid_of_an_invoice_with_nothing_open_is_an_overpayment_not_sent(
        scored: tuple[pl.DataFrame, pl.DataFrame, dict]) -> None:
    pays, routed, _ = scored
    again = routed.hstack(pays.select("kind")).filter(pl.col("kind") == "paid_again")
    assert set(again.get_column("rule")) == {"reference"}  # matched by its KID: the report says overpayment
    assert again.get_column("target").null_count() == again.height
    assert again.get_column("route_reason").str.starts_with("not sent: nothing open on invoice").all()
