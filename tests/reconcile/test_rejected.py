"""rejected.sql: Amili refused an item (its message and status), or the same key came with other data (conflict)."""

from __future__ import annotations

from tests.reconcile.support import outbox, query


def test_refused_and_conflicting_items(store) -> None:
    outbox(store, "k1", "rejected", http_status=422, message="documentNo unknown", source_line=1)
    outbox(store, "k2", "confirmed", action="conflict", message="same key, other amount", source_line=2)
    outbox(store, "k3", "confirmed", http_status=201, source_line=3)
    rows = query(store, "rejected")
    assert [(r["source_line"], r["api_status"], r["detail"]) for r in rows] == [
        (1, "422", "documentNo unknown"), (2, "conflict", "same key, other amount")]
