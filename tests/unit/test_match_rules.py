"""Every matching rule in its order, with the evidence kept, partials, credit notes, tolerances and routing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.config import MatchingConfig, load_config
from etl.match import allocations, match_payments, route_matches, rules

D = dt.date(2026, 11, 20)


def _inv(rows: list[dict]) -> pl.DataFrame:
    base = {"creditor": "a", "kid": None, "currency": "NOK", "customer_number": "C1", "customer_name": "Kari Nordmann",
            "invoice_date": dt.date(2026, 11, 1), "due_date": dt.date(2026, 11, 15)}
    full = [{**base, **r} for r in rows]
    for r in full:
        r.setdefault("outstanding_minor", r["amount_minor"])
    return pl.DataFrame(full)


def _pay(rows: list[dict]) -> pl.DataFrame:
    base = {"creditor": "a", "reference": None, "message": None, "extra_references": None, "amount_minor": 10_000,
            "currency": "NOK", "booking_date": D, "payer_name": None}
    return pl.DataFrame([{**base, **r} for r in rows], schema_overrides={"extra_references": pl.String,
                                                                         "reference": pl.String, "message": pl.String,
                                                                         "payer_name": pl.String})


def _one(pays: pl.DataFrame, inv: pl.DataFrame, **settings: object) -> dict:
    return match_payments(pays, inv, {"a": MatchingConfig(**settings)}).row(0, named=True)


def test_rf_reference_body_matches_the_kid_with_evidence() -> None:
    inv = _inv([{"invoice_number": "1", "kid": "539007547034", "amount_minor": 10_000}])
    m = _one(_pay([{"payment_key": "p", "reference": "RF18 5390 0754 7034"}]), inv)
    assert (m["rule"], m["invoice_number"], m["fields"], m["score"]) == ("reference", "1", "reference(RF)=kid", 1.0)
    assert "KID" in m["evidence"]


def test_extra_references_name_several_kids_summing_exactly_is_multi_invoice() -> None:
    inv = _inv([{"invoice_number": "1", "kid": "11", "amount_minor": 6_000},
                {"invoice_number": "2", "kid": "22", "amount_minor": 4_000}])
    m = match_payments(_pay([{"payment_key": "p", "reference": "11", "extra_references": "22"}]), inv)
    row = m.row(0, named=True)
    assert (row["rule"], row["invoice_numbers"], row["outstanding_minor"]) == ("multi_invoice", "1, 2", 10_000)
    alloc = allocations(m).sort("invoice_number")
    assert alloc.select("invoice_number", "amount_minor").rows() == [("1", 6_000), ("2", 4_000)]


def test_several_named_invoices_not_summing_are_ambiguous() -> None:
    inv = _inv([{"invoice_number": "1", "kid": "11", "amount_minor": 6_000},
                {"invoice_number": "2", "kid": "22", "amount_minor": 5_000}])
    m = _one(_pay([{"payment_key": "p", "reference": "11", "extra_references": "22"}]), inv)
    assert (m["rule"], m["candidates"], m["invoice_number"]) == ("ambiguous", "1, 2", None)


def test_invoice_number_pattern_from_config_limits_text_tokens() -> None:
    inv = _inv([{"invoice_number": "2026", "amount_minor": 10_000}, {"invoice_number": "INV-77", "amount_minor": 10_000}])
    pays = _pay([{"payment_key": "p", "message": "betaling 2026 for inv-77"}])
    assert _one(pays, inv)["rule"] == "ambiguous"  # both tokens are invoice numbers
    m = _one(pays, inv, invoice_number_pattern=r"INV-\d+")
    assert (m["rule"], m["invoice_number"], m["fields"]) == ("invoice_number", "INV-77",
                                                             "message~invoice_number, amount=outstanding")


def test_amount_and_name_within_relative_tolerance_and_date_window() -> None:
    inv = _inv([{"invoice_number": "1", "amount_minor": 10_050, "customer_name": "Fjordbakeriet AS"},
                {"invoice_number": "2", "amount_minor": 10_000, "customer_name": "Havbris Fiskeutstyr AS"}])
    pays = _pay([{"payment_key": "p", "payer_name": "FJORDBAKERIET A/S"}])
    assert _one(pays, inv)["rule"] == "none"  # strict defaults: no tolerance
    m = _one(pays, inv, amount_tolerance_bp=100)
    assert (m["rule"], m["invoice_number"], m["score"]) == ("amount_name", "1", 1.0)
    late = pays.with_columns(pl.lit(dt.date(2027, 3, 1)).alias("booking_date"))
    assert _one(late, inv, amount_tolerance_bp=100, date_window_days=30)["rule"] == "none"


def test_amount_and_name_tie_is_ambiguous() -> None:
    inv = _inv([{"invoice_number": "1", "amount_minor": 10_000}, {"invoice_number": "2", "amount_minor": 10_000}])
    m = _one(_pay([{"payment_key": "p", "payer_name": "Kari Nordmann"}]), inv)
    assert (m["rule"], m["candidates"]) == ("ambiguous", "1, 2")


def test_subset_of_one_customers_items_with_a_credit_note() -> None:
    inv = _inv([{"invoice_number": "1", "amount_minor": 7_000}, {"invoice_number": "2", "amount_minor": 5_000},
                {"invoice_number": "CN3", "amount_minor": -2_000}, {"invoice_number": "4", "amount_minor": 900}])
    m = match_payments(_pay([{"payment_key": "p", "payer_name": "kari nordmann"}]), inv, {"a": MatchingConfig()})
    row = m.row(0, named=True)
    assert (row["rule"], row["invoice_numbers"]) == ("multi_invoice", "1, 2, CN3")
    assert allocations(m).get_column("amount_minor").to_list() == [7_000, 5_000, -2_000]


def test_two_subsets_summing_alike_are_ambiguous() -> None:
    inv = _inv([{"invoice_number": str(i), "amount_minor": a} for i, a in enumerate([6_000, 4_000, 3_000, 7_000])])
    m = _one(_pay([{"payment_key": "p", "payer_name": "Kari Nordmann"}]), inv)
    assert m["rule"] == "ambiguous" and m["candidates"] == "0+1 | 2+3"


def test_partials_accumulate_within_a_run_in_date_order() -> None:
    inv = _inv([{"invoice_number": "1", "kid": "11", "amount_minor": 10_000, "outstanding_minor": 9_000}])
    pays = _pay([{"payment_key": "late", "reference": "11", "amount_minor": 5_000, "booking_date": D},
                 {"payment_key": "early", "reference": "11", "amount_minor": 3_000, "booking_date": D - dt.timedelta(1)}])
    m = match_payments(pays, inv)
    assert m.get_column("payment_key").to_list() == ["late", "early"]  # input order kept
    assert m.get_column("outstanding_minor").to_list() == [6_000, 9_000]


def test_routing_one_target_per_payment_with_reason(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "sample_data" / "amili-etl.toml").read_text(encoding="utf-8")
    cfg_path = tmp_path / "c.toml"
    cfg_path.write_text(text.replace('payments_to = "arm"', 'payments_to = "arm"\nautopostings = true'), encoding="utf-8")
    config = load_config(cfg_path, env={})
    matches = pl.DataFrame({"payment_key": ["n", "s", "x", "u", "z", "c"],
                            "creditor": ["nordlys-no", "solkraft-se", "solkraft-se", "nordlys-no", "nordlys-no", "nordlys-no"],
                            "rule": ["reference", "invoice_number", "reference", "none", "reference", "invoice_number"],
                            "invoice_numbers": ["1", "2", "3", None, "4", "5"],
                            "outstanding_minor": [100, 200, 300, None, 0, -460_354],
                            "invoice_currency": ["NOK", "SEK", "SEK", None, "NOK", "NOK"]})
    pays = pl.DataFrame({"payment_key": ["n", "s", "x", "u", "z", "c"], "currency": ["NOK", "SEK", "EUR", "NOK", "NOK", "NOK"]})
    out = route_matches(matches, pays, config)
    assert out.get_column("target").to_list() == ["arm.autopostings", "ada.creditor-payments", None, None, None, None]
    reasons = out.get_column("route_reason").to_list()
    assert reasons[0] == "nordlys-no: payments_to = arm with autopostings = true"
    assert reasons[2] == "not sent: paid in EUR, invoice in SEK" and reasons[3] == "not sent: rule none"
    # An invoice with nothing open (paid already, or a credit) is never a delivery target.
    assert reasons[4:] == ["not sent: nothing open on invoice 4 (0.00)", "not sent: nothing open on invoice 5 (-4603.54)"]


def test_payer_names_of_only_legal_forms_match_nothing() -> None:
    inv = _inv([{"invoice_number": "1", "amount_minor": 10_000, "customer_name": "AS"}])
    assert _one(_pay([{"payment_key": "p", "payer_name": "AS"}]), inv)["rule"] == "none"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=-3, max_value=6), min_size=2, max_size=9),
       st.lists(st.integers(min_value=-3, max_value=12), min_size=1, max_size=6), st.integers(min_value=2, max_value=5))
def test_the_set_search_by_join_agrees_with_the_loop(opens: list[int], amounts: list[int], kmax: int) -> None:
    # Rule 4 searches small customers by a join with every index set and large ones by a loop: both must find the
    # same sets in the same order (the first four), whatever the open amounts (repeats, credit notes, zeros).
    todo = pl.DataFrame({"_order": list(range(len(amounts))), "amount_minor": amounts,
                         "outstanding_minor": [opens] * len(amounts), "_n": [len(opens)] * len(amounts),
                         "_kmax": [kmax] * len(amounts)},
                        schema={"_order": pl.UInt32, "amount_minor": pl.Int64, "outstanding_minor": pl.List(pl.Int64),
                                "_n": pl.UInt32, "_kmax": pl.Int64})
    by_join = rules._subset_sums(todo).sort("_order")
    original = rules._VECTOR_N
    try:
        rules._VECTOR_N = 0  # every payment through the loop
        by_loop = rules._subset_sums(todo).sort("_order")
    finally:
        rules._VECTOR_N = original
    assert by_join.to_dicts() == by_loop.to_dicts()


def test_one_set_of_a_customers_items_decides_and_several_are_listed() -> None:
    inv = _inv([{"invoice_number": str(i), "amount_minor": a} for i, a in enumerate([6_000, 4_000, 2_500])])
    m = _one(_pay([{"payment_key": "p", "payer_name": "Kari Nordmann", "amount_minor": 8_500}]), inv)
    assert (m["rule"], m["invoice_numbers"], m["outstanding_minor"]) == ("multi_invoice", "0, 2", 8_500)
    pays = _pay([{"payment_key": "p", "payer_name": "Kari Nordmann", "amount_minor": 8_500}])
    alloc = allocations(match_payments(pays, inv, {"a": MatchingConfig()}))
    assert alloc.select("invoice_number", "amount_minor").rows() == [("0", 6_000), ("2", 2_500)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=5), st.integers(min_value=0, max_value=3)), max_size=40),
       st.booleans())
def test_partials_are_ordered_by_invoice_then_day_then_file_order(rows: list[tuple[int, int]], huge: bool) -> None:
    import numpy as np

    # `huge` invoice numbers do not fit the packed 64-bit key: the stable-sort branch must give the same order.
    invoice = np.array([i + (2**50 if huge else 0) for i, _ in rows], dtype=np.uint64)
    day = np.array([d for _, d in rows], dtype=np.uint64)
    order = rules._invoice_day_file_order(invoice, day) if rows else []
    assert list(order) == sorted(range(len(rows)), key=lambda i: (rows[i][0], rows[i][1], i))


def test_references_written_loosely_are_normalised_before_they_are_compared() -> None:
    # Lower case and spaces anywhere (also a no-break space) are normalised; a column of clean digits is taken as is.
    inv = _inv([{"invoice_number": "1", "kid": "539007547034", "amount_minor": 10_000},
                {"invoice_number": "2", "kid": "ab12", "amount_minor": 10_000}])
    pays = _pay([{"payment_key": "p", "reference": "rf18 5390 0754 7034"}, {"payment_key": "q", "reference": "AB\u00a012"},
                 {"payment_key": "r", "reference": "539007547034"}])
    m = match_payments(pays, inv)
    assert m.select("rule", "invoice_number").rows() == [("reference", "1"), ("reference", "2"), ("reference", "1")]
