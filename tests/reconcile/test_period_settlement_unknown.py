"""sql/period/settlement_unknown.sql: a Collection settlement under a uniqueSourcePaymentId we never sent."""

from __future__ import annotations

import datetime as dt

from tests.reconcile.support import outbox, period_rows, settlement

DAY = dt.date(2026, 11, 10)


def test_settled_under_a_key_we_never_sent(store) -> None:
    outbox(store, "ours", "confirmed", api="collection.payments")
    settlement(store, "2026-11", "ours", DAY)
    outbox(store, "refused", "rejected", api="collection.payments")      # sent (and refused): not unknown
    settlement(store, "2026-11", "refused", DAY)
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
        ("unknown_in_amili", "collection.settlements:stranger", DAY, 5_000, "collection.settlements"),
        ("unknown_in_amili", "collection.settlements:ours", DAY, 10_000, "collection.settlements"),
    ]
    stranger = rows[1]
    assert stranger["detail"] == ("settlement S-7 of 2026-11-10, S-8 of 2026-11-12 (batch b-S-7, b-S-8), case 1000001 "
                                  "(c): uniqueSourcePaymentId stranger never sent by us")
    assert (stranger["invoice_number"], stranger["reference"]) == ("inv-S-7, inv-S-8", "stranger")
    # The generic question leaves settlements alone (they are keyed by payment, not by an item of their own).
    assert period_rows(store, "unknown_in_amili", "2026-11") == []
