"""duplicate_payment.sql: a payment marked as seen before is reported with where it was first seen."""

from __future__ import annotations

from tests.reconcile.support import payment, query


def test_duplicate_reported_first_sighting_not(store) -> None:
    payment(store, "k1", source_file="a.csv", source_line=2)
    payment(store, "k1", source_file="b.csv", source_line=5, duplicate_of="a.csv:2")
    payment(store, "k2", source_file="b.csv", source_line=6, duplicate_of="a.csv:3", held_back=True)
    rows = query(store, "duplicate_payment")
    assert [(r["source_file"], r["source_line"], r["detail"]) for r in rows] == [("b.csv", 5, "first seen at a.csv:2")]
