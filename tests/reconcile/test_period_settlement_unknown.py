"""sql/period/settlement_unknown.sql: a Collection settlement under a uniqueSourcePaymentId we never sent."""

from __future__ import annotations

import datetime as dt

from tests.reconcile.support import outbox, period_rows, settlement

DAY = dt.date(2026, 11, 10)


def test_settled_under_a_key_we_never_sent(store) -> None:
    outbox(store, "ours", "confirmed", api="collection.payments")
    settlement(store, "2026-11", "ours", DAY)
    outbox(store, "refused", "rejected", api="collection.payments", http_status=422, source_line=9,
           message="case closed", updated_at=dt.datetime(2026, 11, 3, 6))   # sent, refused, yet settled: unknown
    settlement(store, "2026-11", "refused", DAY, amount=9_000, sid="S-9")
    settlement(store, "2026-11", "stranger", DAY, amount=4_200, sid="S-7")
    settlement(store, "2026-11", "stranger", dt.date(2026, 11, 12), amount=800, sid="S-8")
    settlement(store, "2026-11", None, DAY, sid="S-direct")              # paid to Amili directly: never reported
    settlement(store, "2026-11", "next-month", dt.date(2026, 12, 2))     # read for the lag; judged with December
    settlement(store, "2026-11", "ours", DAY, creditor="d")              # our key, another organisation
    outbox(store, "ada-key", "confirmed", api="ada.creditor-payments")   # the same key at another API is not ours
    settlement(store, "2026-11", "ada-key", DAY)
    rows = period_rows(store, "settlement_unknown", "2026-11")
    got = [(r["category"], r["break_key"], r["first_seen"], r["amount_minor"], r["api"]) for r in rows]
    assert got == [
        ("unknown_in_amili", "collection.settlements:ada-key", DAY, 10_000, "collection.settlements"),
        ("unknown_in_amili", "collection.settlements:refused", DAY, 9_000, "collection.settlements"),
        ("unknown_in_amili", "collection.settlements:stranger", DAY, 5_000, "collection.settlements"),
        ("unknown_in_amili", "collection.settlements:ours", DAY, 10_000, "collection.settlements"),
    ]
    refused = rows[1]
    assert (refused["source_file"], refused["source_line"], refused["stable_key"]) == ("bank.txt", 9, "refused")
    assert refused["detail"] == ("settlement S-9 of 2026-11-10 (batch b-S-9), case 1000001 (c): uniqueSourcePaymentId "
                                 "refused sent by us 2026-11-03 but rejected by Amili (HTTP 422: case closed), "
                                 "settled all the same")
    stranger = rows[2]
    assert stranger["detail"] == ("settlement S-7 of 2026-11-10, S-8 of 2026-11-12 (batch b-S-7, b-S-8), case 1000001 "
                                  "(c): uniqueSourcePaymentId stranger never sent by us")
    assert (stranger["invoice_number"], stranger["reference"]) == ("inv-S-7, inv-S-8", "stranger")
    # The generic question leaves settlements alone (they are keyed by payment, not by an item of their own).
    assert period_rows(store, "unknown_in_amili", "2026-11") == []
