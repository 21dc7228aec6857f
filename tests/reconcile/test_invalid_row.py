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
