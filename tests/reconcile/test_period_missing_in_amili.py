"""sql/period/missing_in_amili.sql: confirmed to us, of an API that was read back, not found in Amili."""

from __future__ import annotations

from tests.reconcile.support import outbox, period_rows, readback


def test_confirmed_but_not_read_back(store) -> None:
    api = "ada.creditor-payments"
    outbox(store, "there", "confirmed", api=api)
    outbox(store, "gone", "confirmed", api=api, amili_id="ada-1", http_status=201)
    outbox(store, "never-final", "sent", api=api)
    outbox(store, "other-api", "confirmed", api="arm.paymentreservations")   # not read back: not judged
    readback(store, "2026-11", api, "there")
    rows = period_rows(store, "missing_in_amili", "2026-11", scope=["ada.creditor-payments|c"])
    assert [(r["break_key"], r["api_status"]) for r in rows] == [("ada.creditor-payments:gone", "201")]
    assert "as ada-1, not found when read back" in rows[0]["detail"]
    # Nothing came back at all (Amili lost everything): every confirmed item in scope is missing.
    store.execute("DELETE FROM amili_readback")
    assert len(period_rows(store, "missing_in_amili", "2026-11", scope=["ada.creditor-payments|c"])) == 2
    assert period_rows(store, "missing_in_amili", "2026-11", scope=[]) == []
