"""sql/period/unknown_in_amili.sql: Amili holds an item of ours we never sent."""

from __future__ import annotations

import datetime as dt

from tests.reconcile.support import outbox, period_rows, readback


def test_read_back_but_never_sent(store) -> None:
    api = "ada.creditor-payments"
    outbox(store, "ours", "confirmed", api=api)
    readback(store, "2026-11", api, "ours")
    readback(store, "2026-11", api, "stranger", amount=4_200)
    outbox(store, "refused", "rejected", api=api, http_status=400, message="unknown invoice", source_line=5,
           updated_at=dt.datetime(2026, 11, 3, 6))
    readback(store, "2026-11", api, "refused", amount=7_700)  # sent and rejected, yet Amili holds it
    readback(store, "2026-10", api, "last-month")
    readback(store, "2026-11", api, "booked-in-october", booked=dt.date(2026, 10, 30))  # judged with October
    readback(store, "2026-11", api, "booked-in-november", booked=dt.date(2026, 11, 2))
    readback(store, "2026-11", "arm.documents", "old-document", booked=dt.date(2025, 1, 2))  # documents: any date
    rows = period_rows(store, "unknown_in_amili", "2026-11")
    assert [(r["break_key"], r["amount_minor"]) for r in rows] == [
        ("ada.creditor-payments:booked-in-november", 10_000), ("ada.creditor-payments:refused", 7_700),
        ("ada.creditor-payments:stranger", 4_200),
        ("arm.documents:old-document", 10_000)]
    refused = next(r for r in rows if r["stable_key"] == "refused")
    assert (refused["source_file"], refused["source_line"]) == ("bank.txt", 5)
    assert refused["detail"] == ("in Amili as id-refused (c), sent by us 2026-11-03 but rejected by Amili "
                                 "(HTTP 400: unknown invoice)")
    rows = [r for r in rows if r["stable_key"] == "stranger"]
    assert rows[0]["detail"] == "in Amili as id-stranger (c), never sent by us"
