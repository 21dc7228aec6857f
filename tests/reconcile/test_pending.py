"""pending.sql: delivered items without a final answer; confirmed and rejected ones are final."""

from __future__ import annotations

from tests.reconcile.support import outbox, query


def test_items_without_final_answer(store) -> None:
    for i, state in enumerate(["intent", "sent", "acknowledged", "unknown", "confirmed", "rejected"], start=1):
        outbox(store, f"k{i}", state, source_line=i)
    rows = query(store, "pending")
    assert [(r["source_line"], r["api_status"]) for r in rows] == [
        (1, "intent"), (2, "sent"), (3, "acknowledged"), (4, "unknown")]
    assert rows[0]["detail"] == "no final answer from Amili yet"
