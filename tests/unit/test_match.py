"""Matching rules: reference first, then invoice number in the text; ties are ambiguous, never guessed."""

from __future__ import annotations

import polars as pl

from etl.match import match_payments

INVOICES = pl.DataFrame({
    "creditor": ["a", "a", "a", "a", "b"],
    "invoice_number": ["100012", "100013", "100014", "100015", "100013"],
    "kid": ["111", None, "222", "222", "111"],
    "amount_minor": [100, 200, 300, 400, 500],
    "outstanding_minor": [100, 150, 300, 400, 500],
    "currency": ["NOK"] * 4 + ["SEK"],
    "customer_name": ["Kari Nordmann"] * 5,
})


def _pays(rows: list[tuple[str, str, str | None, str | None]], amount: int | None = None,
          payer: str | None = None) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["payment_key", "creditor", "reference", "message"], orient="row").with_columns(
        pl.lit(amount, pl.Int64).alias("amount_minor"), pl.lit(payer, pl.String).alias("payer_name"))


def test_reference_wins_over_text() -> None:
    m = match_payments(_pays([("k1", "a", "111", "Faktura 100013")]), INVOICES)
    assert m.row(0, named=True)["rule"] == "reference"
    assert m.row(0, named=True)["invoice_number"] == "100012"


def test_invoice_number_in_text_and_outstanding_carried() -> None:
    # The number in the text is corroborated by the amount: exactly what is open.
    m = match_payments(_pays([("k1", "a", None, "Innbetaling faktura 100013, takk")], 150), INVOICES).row(0, named=True)
    assert (m["rule"], m["invoice_number"], m["outstanding_minor"]) == ("invoice_number", "100013", 150)
    assert m["fields"] == "message~invoice_number, amount=outstanding"


def test_ties_are_ambiguous_with_candidates() -> None:
    by_ref = match_payments(_pays([("k1", "a", "222", None)]), INVOICES).row(0, named=True)
    assert (by_ref["rule"], by_ref["invoice_number"], by_ref["candidates"]) == ("ambiguous", None, "100014, 100015")
    # Both numbers corroborated by the payer's name, their open amounts not summing to the payment: never guessed.
    by_text = match_payments(_pays([("k2", "a", None, "Faktura 100012 og 100014")], 250, "KARI NORDMANN"),
                             INVOICES).row(0, named=True)
    assert (by_text["rule"], by_text["candidates"]) == ("ambiguous", "100012, 100014")


def test_creditors_do_not_mix_and_unmatched_is_none() -> None:
    m = match_payments(_pays([("k1", "b", "222", None), ("k2", "a", "999", "hei")]), INVOICES)
    assert m.get_column("rule").to_list() == ["none", "none"]
    assert m.get_column("payment_key").to_list() == ["k1", "k2"]


def test_number_inside_a_longer_token_does_not_match() -> None:
    m = match_payments(_pays([("k1", "a", None, "ref 1000130 x")], 150), INVOICES).row(0, named=True)
    assert m["rule"] == "none"
