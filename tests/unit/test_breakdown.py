"""The payer's breakdown decides a multi-invoice payment (etl/match/breakdown.py) and the plan delivers it once per
invoice under `<payment key>:<reference>` (etl/plan.py per_invoice)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from etl.match.breakdown import apply_breakdowns
from etl.match.rules import match_payments
from etl.plan import per_invoice

_INV = [("705011", "7050114", 520_000), ("705012", "7050122", 130_000), ("K4711", None, -20_000),
        ("705013", "7050130", 90_000)]


def _invoices() -> pl.DataFrame:
    return pl.DataFrame(
        [{"creditor": "se", "invoice_number": n, "kid": k, "amount_minor": a, "outstanding_minor": a,
          "currency": "SEK", "customer_number": "C1"} for n, k, a in _INV])


def _decide(*payments: tuple[int, str, str]) -> pl.DataFrame:
    pays = pl.DataFrame(
        [{"payment_key": f"CAMT-{i}", "creditor": "se", "reference": refs.split(";")[0], "message": None,
          "extra_references": refs, "extra_reference_amounts": amounts, "amount_minor": paid, "currency": "SEK",
          "booking_date": dt.date(2026, 11, 20)} for i, (paid, refs, amounts) in enumerate(payments)])
    inv = _invoices()
    return apply_breakdowns(match_payments(pays, inv), pays, inv).with_columns(pays.get_column("amount_minor"))


def test_the_payers_amounts_are_the_allocations_and_the_open_amounts_the_expectation():
    # 5200 of 5200 and 1000 of 1300: the rules alone (open amounts sum to 6500) would call this ambiguous.
    m = _decide((620_000, "7050114;7050122", "+520000;+100000")).row(0, named=True)
    assert (m["rule"], m["invoice_numbers"], m["outstanding_minor"]) == ("multi_invoice", "705011, 705012", 650_000)
    assert m["_multi"] == [{"invoice_number": "705011", "amount_minor": 520_000},
                           {"invoice_number": "705012", "amount_minor": 100_000}]
    assert m["_split_refs"] == ["7050114", "7050122"]


def test_a_breakdown_that_does_not_add_up_is_left_for_a_person():
    m = _decide((600_000, "7050114;7050122", "+520000;+130000")).row(0, named=True)
    assert m["rule"] == "ambiguous" and m["_multi"] is None
    assert m["evidence"] == ("the payer's breakdown (7050114, 7050122) sums to 6500.00, the payment is 6000.00: "
                             "not split, left for a person")
    assert m["candidates"] == "705011, 705012"


def test_an_item_naming_no_open_invoice_is_left_for_a_person():
    m = _decide((650_000, "7050114;9999990", "+520000;+130000")).row(0, named=True)
    assert m["rule"] == "ambiguous" and "names 9999990, no open invoice" in m["evidence"]


def test_a_credit_note_netted_off_one_invoice_pays_that_invoice_the_rest():
    m = _decide((500_000, "7050114;K4711", "+520000;-20000")).row(0, named=True)
    assert m["rule"] == "multi_invoice" and m["invoice_number"] == "705011"
    assert m["_multi"] == [{"invoice_number": "705011", "amount_minor": 520_000},
                           {"invoice_number": "K4711", "amount_minor": -20_000}]
    assert sum(a["amount_minor"] for a in m["_multi"]) == 500_000  # what match_allocations records: the money


def test_a_credit_note_netted_off_several_invoices_is_left_for_a_person():
    m = _decide((630_000, "7050114;7050122;K4711", "+520000;+130000;-20000")).row(0, named=True)
    assert m["rule"] == "ambiguous" and "which one it reduces is not said" in m["evidence"]


def test_one_invoice_less_the_payers_own_deduction_stays_the_rules_match():
    m = _decide((500_000, "7050114;777", "+520000;-20000")).row(0, named=True)
    assert (m["rule"], m["invoice_number"]) == ("reference", "705011")


def test_each_invoice_its_own_delivery_and_key():
    decided = _decide((620_000, "7050114;7050122", "+520000;+100000"), (90_000, "7050130", "+90000"))
    pays = decided.select("payment_key", "creditor", "rule", "invoice_number", "_multi", "_split_refs",
                          pl.lit("SEK").alias("currency"), pl.Series("amount_minor", [620_000, 90_000]))
    rows = per_invoice(pays).sort("payment_key")
    assert rows.select("payment_key", "invoice_number", "amount_minor").rows() == [
        ("CAMT-0:7050114", "705011", 520_000), ("CAMT-0:7050122", "705012", 100_000), ("CAMT-1", "705013", 90_000)]
    assert "_multi" not in rows.columns


def test_a_reference_that_is_not_plain_text_is_hashed_into_the_key():
    pays = pl.DataFrame({"payment_key": ["CAMT-0"], "rule": ["multi_invoice"], "invoice_number": ["A"],
                         "amount_minor": [300]},
                        ).with_columns(
        pl.lit([{"invoice_number": "A", "amount_minor": 100}, {"invoice_number": "B", "amount_minor": 200}]).alias(
            "_multi"), pl.lit(["Fakt nr Ö1", "B-2"]).alias("_split_refs"))
    keys = per_invoice(pays).get_column("payment_key").to_list()
    assert keys[1] == "CAMT-0:B-2"
    assert keys[0].startswith("CAMT-0:") and len(keys[0]) == len("CAMT-0:") + 16 and keys[0][7:].isalnum()
