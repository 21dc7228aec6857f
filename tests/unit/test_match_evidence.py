"""A number in free text needs corroboration; a KID in the text needs no word "KID"; nothing open is never a target."""

from __future__ import annotations

import polars as pl

from etl.config import MatchingConfig
from etl.match import match_payments
from tests.unit.test_match_rules import _inv, _pay

CHECKS = {"a": "mod10"}


def _match(pays: pl.DataFrame, inv: pl.DataFrame, checks: dict[str, str] | None = None) -> dict:
    return match_payments(pays, inv, {"a": MatchingConfig()}, checks).row(0, named=True)


def test_a_random_ref_number_equal_to_an_invoice_number_matches_nothing() -> None:
    inv = _inv([{"invoice_number": "482913", "amount_minor": 50_000, "customer_name": "Kari Nordmann"}])
    pays = _pay([{"payment_key": "p", "message": "Overføring ref 482913", "amount_minor": 12_345,
                  "payer_name": "Per Hansen"}])
    assert _match(pays, inv)["rule"] == "none"


def test_the_payers_name_corroborates_a_part_payment() -> None:
    inv = _inv([{"invoice_number": "100123", "amount_minor": 50_000, "customer_name": "Kari Nordmann"}])
    pays = _pay([{"payment_key": "p", "message": "Faktura 100123", "amount_minor": 20_000,
                  "payer_name": "NORDMANN KARI B"}])
    m = _match(pays, inv)
    assert (m["rule"], m["invoice_number"], m["fields"]) == (
        "invoice_number", "100123", "message~invoice_number, payer_name~customer_name")


def test_a_name_two_customers_bear_corroborates_nothing() -> None:
    inv = _inv([{"invoice_number": "100123", "amount_minor": 50_000, "customer_number": "C1", "customer_name": "Ola Hansen"},
                {"invoice_number": "100200", "amount_minor": 70_000, "customer_number": "C2", "customer_name": "Ola Hansen"}])
    pays = _pay([{"payment_key": "p", "message": "Faktura 100123", "amount_minor": 20_000, "payer_name": "Ola Hansen"}])
    assert _match(pays, inv)["rule"] == "none"
    # The customer number in the text tells the two apart.
    pays = pays.with_columns(pl.lit("Faktura 100123 kundenr C1").alias("message"))
    m = _match(pays, inv)
    assert (m["rule"], m["invoice_number"], m["fields"]) == (
        "invoice_number", "100123", "message~invoice_number, message~customer_number")


def test_a_name_merely_like_the_customers_does_not_corroborate() -> None:
    inv = _inv([{"invoice_number": "100123", "amount_minor": 50_000, "customer_name": "Ola Per Hansen"}])
    pays = _pay([{"payment_key": "p", "message": "ref 100123", "amount_minor": 20_000, "payer_name": "Ola Hansen"}])
    assert _match(pays, inv)["rule"] == "none"


def test_the_customers_name_in_the_text_corroborates() -> None:
    inv = _inv([{"invoice_number": "100123", "amount_minor": 50_000, "customer_name": "Fjordbakeriet AS"}])
    pays = _pay([{"payment_key": "p", "message": "Fjordbakeriet faktura 100123 del 1", "amount_minor": 20_000}])
    m = _match(pays, inv)
    assert (m["rule"], m["fields"]) == ("invoice_number", "message~invoice_number, message~customer_name")


def test_two_invoice_numbers_summing_exactly_are_one_multi_invoice_payment() -> None:
    inv = _inv([{"invoice_number": "100123", "amount_minor": 6_000}, {"invoice_number": "100124", "amount_minor": 4_000}])
    m = _match(_pay([{"payment_key": "p", "message": "Faktura 100123 og 100124", "amount_minor": 10_000}]), inv)
    assert (m["rule"], m["invoice_numbers"]) == ("multi_invoice", "100123, 100124")
    assert "amount=sum(open items)" in m["fields"]


def test_two_uncorroborated_numbers_alone_are_ambiguous_one_with_corroboration_wins() -> None:
    inv = _inv([{"invoice_number": "100123", "amount_minor": 6_000, "customer_name": "Kari Nordmann"},
                {"invoice_number": "100124", "amount_minor": 4_000, "customer_number": "C9", "customer_name": "Per Berg"}])
    text = _pay([{"payment_key": "p", "message": "Faktura 100123 og 100124", "amount_minor": 9_000}])
    m = _match(text, inv)
    assert (m["rule"], m["candidates"]) == ("ambiguous", "100123, 100124")
    # The exact open amount of one of them corroborates that one; the other number is dropped.
    m = _match(text.with_columns(pl.lit(4_000).alias("amount_minor")), inv)
    assert (m["rule"], m["invoice_number"]) == ("invoice_number", "100124")


def test_nothing_open_is_a_candidate_only_with_a_name_and_then_an_overpayment() -> None:
    inv = _inv([{"invoice_number": "100123", "amount_minor": 50_000, "outstanding_minor": 0,
                 "customer_name": "Kari Nordmann"}])
    bare = _pay([{"payment_key": "p", "message": "Faktura 100123", "amount_minor": 50_000}])
    assert _match(bare, inv)["rule"] == "none"
    named = bare.with_columns(pl.lit("Kari Nordmann").alias("payer_name"))
    m = _match(named, inv)
    assert (m["rule"], m["outstanding_minor"]) == ("invoice_number", 0)  # routed: not sent (test_match_rules)


def test_a_paid_invoice_named_beside_an_open_one_is_not_part_of_the_payment() -> None:
    inv = _inv([{"invoice_number": "100123", "amount_minor": 50_000, "outstanding_minor": 0},
                {"invoice_number": "100124", "amount_minor": 30_000}])
    pays = _pay([{"payment_key": "p", "message": "Faktura 100123 og 100124", "amount_minor": 30_000,
                  "payer_name": "Kari Nordmann"}])
    m = _match(pays, inv)
    assert (m["rule"], m["invoice_numbers"], m["outstanding_minor"]) == ("invoice_number", "100124", 30_000)


def test_uncorroborated_numbers_never_decide_even_with_a_paid_invoice_or_a_credit_among_them() -> None:
    inv = _inv([{"invoice_number": "100017", "amount_minor": 50_000},
                {"invoice_number": "100018", "amount_minor": 40_000, "outstanding_minor": 0},
                {"invoice_number": "100019", "amount_minor": -20_000}])
    # A paid invoice beside an open one, nothing corroborating either: ambiguous, never the open one by default.
    two = _pay([{"payment_key": "p", "message": "Faktura 100017 og 100018", "amount_minor": 12_345}])
    assert (_match(two, inv)["rule"], _match(two, inv)["candidates"]) == ("ambiguous", "100017, 100018")
    # Open amounts summing to the payment only with a credit note: not corroborated, not decided.
    credit = _pay([{"payment_key": "p", "message": "Faktura 100017 kreditnota 100019", "amount_minor": 30_000}])
    assert _match(credit, inv)["rule"] == "none"


def test_a_kid_in_a_dnb_text_without_the_word_matches_when_it_passes_the_check() -> None:
    inv = _inv([{"invoice_number": "100123", "kid": "0000123455", "amount_minor": 50_000}])
    pays = _pay([{"payment_key": "p", "message": "Betaling 0000123455 faktura", "amount_minor": 20_000}])
    m = _match(pays, inv, CHECKS)
    assert (m["rule"], m["invoice_number"], m["fields"]) == ("reference", "100123", "message~kid")
    assert "KID" in m["evidence"]
    # No check known (or reference_check = "none"): a bare number is free text, and nothing corroborates it.
    assert _match(pays, inv)["rule"] == "none"
    assert _match(pays, inv, {"a": "none"})["rule"] == "none"


def test_a_kid_in_the_text_failing_the_check_or_with_nothing_open_does_not_match() -> None:
    bad = _inv([{"invoice_number": "100123", "kid": "0000123456", "amount_minor": 50_000}])
    pays = _pay([{"payment_key": "p", "message": "Betaling 0000123456 faktura", "amount_minor": 20_000}])
    assert _match(pays, bad, CHECKS)["rule"] == "none"
    paid = _inv([{"invoice_number": "100123", "kid": "0000123455", "amount_minor": 50_000, "outstanding_minor": 0}])
    pays = _pay([{"payment_key": "p", "message": "Betaling 0000123455 faktura", "amount_minor": 20_000}])
    assert _match(pays, paid, CHECKS)["rule"] == "none"


def test_a_short_kid_that_chance_could_hit_needs_corroboration() -> None:
    # 2-digit KIDs: a 2-digit number in a text equals an open one by chance far too often to stand alone.
    inv = _inv([{"invoice_number": "100123", "kid": "18", "amount_minor": 50_000}])
    pays = _pay([{"payment_key": "p", "message": "Betaling 18 stk", "amount_minor": 20_000}])
    assert _match(pays, inv, CHECKS)["rule"] == "none"
    m = _match(pays.with_columns(pl.lit(50_000).alias("amount_minor")), inv, CHECKS)
    assert (m["rule"], m["fields"]) == ("reference", "message~kid, amount=outstanding")


def test_a_structured_invoice_number_needs_no_corroboration() -> None:
    inv = _inv([{"invoice_number": "100123", "amount_minor": 50_000}])
    m = _match(_pay([{"payment_key": "p", "extra_references": "100123", "amount_minor": 20_000}]), inv)
    assert (m["rule"], m["fields"]) == ("invoice_number", "extra_reference=invoice_number")
