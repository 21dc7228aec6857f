"""ambiguous_match.sql: the candidates and the fields that made them equal are listed, no invoice chosen."""

from __future__ import annotations

from tests.reconcile.support import match, payment, query


def test_candidates_listed(store) -> None:
    payment(store, "k1")
    match(store, "k1", "ambiguous", candidates="100014, 100015", fields="reference=kid")
    payment(store, "k2", source_line=2)
    match(store, "k2", "reference", invoice_number="100016")
    rows = query(store, "ambiguous_match")
    assert len(rows) == 1
    assert rows[0]["detail"] == "candidates: 100014, 100015 (reference=kid)"
    assert rows[0]["invoice_number"] is None
