"""control_total_mismatch.sql: a held-back file, with computed and declared totals; a file that ties is not reported."""

from __future__ import annotations

from tests.reconcile.support import file, query


def test_held_back_file_is_reported_with_both_totals(store) -> None:
    file(store, "ocr.txt", "held_back", message="ocr.txt: line 26: record 88 total 1563000 != items 1553000",
         declared_total_minor=1_563_000, computed_total_minor=1_553_000)
    file(store, "good.txt", "ok", declared_total_minor=500, computed_total_minor=500)
    rows = query(store, "control_total_mismatch")
    assert len(rows) == 1
    r = rows[0]
    assert (r["source_file"], r["amount_minor"], r["expected_minor"]) == ("ocr.txt", 1_553_000, 1_563_000)
    assert "record 88" in r["detail"]
