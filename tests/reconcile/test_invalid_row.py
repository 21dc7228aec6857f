"""invalid_row.sql: one discrepancy per rejected source row, its reasons joined; other runs' rejects ignored."""

from __future__ import annotations

import polars as pl

from tests.reconcile.support import RUN, query


def test_one_row_per_rejected_line_with_reasons_joined(store) -> None:
    store.insert_frame("rejects", pl.DataFrame({
        "run_id": [RUN, RUN, RUN, "other"], "source_file": ["inv.csv"] * 4, "source_line": [4, 4, 7, 9],
        "error_column": ["due_date", "amount", "kid", "kid"], "error_check": ["date", "range", "mod10", "mod10"],
        "error_message": ["bad date", "amount out of range", "KID check digit", "x"],
    }))
    rows = query(store, "invalid_row")
    assert [(r["source_file"], r["source_line"]) for r in rows] == [("inv.csv", 4), ("inv.csv", 7)]
    assert rows[0]["detail"] == "amount out of range; bad date"
    assert {r["category"] for r in rows} == {"invalid_row"} and rows[0]["severity"] == "error"


def test_the_row_carries_what_could_be_read_of_it(store) -> None:
    store.insert_frame("rejects", pl.DataFrame({
        "run_id": [RUN, RUN], "source_file": ["inv.csv", "bank.csv"], "source_line": [4, 9],
        "error_column": ["invoice_date", "booking_date"], "error_check": ["not_nullable", "not_nullable"],
        "error_message": ["invoice_date '2026-11-31' is not a date", "booking_date '45702' is not a date"],
    }))
    store.insert_frame("rejected_rows", pl.DataFrame({
        "run_id": [RUN, RUN], "source_file": ["inv.csv", "bank.csv"], "source_line": [4, 9],
        "kind": ["invoices", "payments"], "booked": [True, True], "reference": ["1000018", "5432591000112"],
        "invoice_number": ["100001", None], "amount_minor": [100_000, 48_000], "currency": ["NOK", "NOK"]}))
    rows = {r["source_file"]: r for r in query(store, "invalid_row")}
    assert (rows["inv.csv"]["invoice_number"], rows["inv.csv"]["reference"], rows["inv.csv"]["amount_minor"]) == (
        "100001", "1000018", 100_000)
    assert (rows["bank.csv"]["reference"], rows["bank.csv"]["amount_minor"], rows["bank.csv"]["currency"]) == (
        "5432591000112", 48_000, "NOK")
    assert rows["inv.csv"]["detail"] == "invoice_date '2026-11-31' is not a date"
