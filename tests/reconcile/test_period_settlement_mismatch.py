"""sql/period/settlement_mismatch.sql: Collection settlements adding up to another amount than we sent."""

from __future__ import annotations

import datetime as dt

from tests.reconcile.support import outbox, period_rows, settlement

API = "collection.payments"
SCOPE = ["collection.settlements|c"]
DAY = dt.date(2026, 11, 20)


def _sent(store, key: str, day: dt.date = DAY, **cols) -> None:
    outbox(store, key, "confirmed", api=API, updated_at=dt.datetime.combine(day, dt.time(6)), **cols)


def test_settled_sum_differs_from_what_was_sent(store) -> None:
    _sent(store, "right")
    settlement(store, "2026-11", "right", DAY)
    _sent(store, "short", http_status=200)
    settlement(store, "2026-11", "short", DAY, amount=8_000, sid="S-9")
    _sent(store, "split")                                                 # 60.00 + 40.00: all of it
    settlement(store, "2026-11", "split", DAY, amount=6_000, sid="S-1")
    settlement(store, "2026-11", "split", dt.date(2026, 12, 1), amount=4_000, sid="S-2")
    _sent(store, "split-wrong")
    settlement(store, "2026-11", "split-wrong", DAY, amount=6_000, sid="S-3")
    settlement(store, "2026-11", "split-wrong", dt.date(2026, 11, 22), amount=5_000, sid="S-4")
    _sent(store, "sek")
    settlement(store, "2026-11", "sek", DAY, currency="SEK")
    _sent(store, "unsettled")                                             # settlement_missing.sql's question
    _sent(store, "october", day=dt.date(2026, 10, 31))                    # judged with October
    settlement(store, "2026-11", "october", dt.date(2026, 11, 2), amount=1)
    _sent(store, "not-read", creditor="x")
    settlement(store, "2026-11", "not-read", DAY, amount=1, creditor="x")
    rows = period_rows(store, "settlement_mismatch", "2026-11", scope=SCOPE)
    got = {r["stable_key"]: (r["category"], r["break_key"], r["amount_minor"], r["expected_minor"], r["currency"])
           for r in rows}
    assert got == {"short": ("settled_amount_mismatch", "settlement:short", 8_000, 10_000, "NOK"),
                   "split-wrong": ("settled_amount_mismatch", "settlement:split-wrong", 11_000, 10_000, "NOK"),
                   "sek": ("settled_amount_mismatch", "settlement:sek", 10_000, 10_000, "NOK")}
    detail = {r["stable_key"]: r["detail"] for r in rows}
    assert detail["short"] == "settled 80.00 NOK in 1 settlement(s) S-9 (batch b-S-9), sent 100.00 NOK"
    assert detail["split-wrong"] == "settled 110.00 NOK in 2 settlement(s) S-3, S-4 (batch b-S-3, b-S-4), sent 100.00 NOK"
    assert detail["sek"].startswith("settled 100.00 SEK")
    assert all(r["source_file"] == "bank.txt" and r["source_line"] == 1 for r in rows)  # lineage to the payment
    assert period_rows(store, "settlement_mismatch", "2026-11", scope=[]) == []


def test_an_overpayment_settled_up_to_what_was_open_is_not_a_second_break(store) -> None:
    # Sent 100.00 on an invoice with 80.00 open: Collection settling 80.00 is the overpayment's own consequence (the
    # run reported the overpayment); settling 70.00 is a break of its own.
    from tests.reconcile.support import match

    for key, settled in (("as-open", 8_000), ("less", 7_000)):
        match(store, key, "reference", invoice_number=key, outstanding_minor=8_000, invoice_currency="NOK", target=API)
        _sent(store, key)
        settlement(store, "2026-11", key, DAY, amount=settled)
    rows = period_rows(store, "settlement_mismatch", "2026-11", scope=SCOPE)
    assert [(r["stable_key"], r["amount_minor"]) for r in rows] == [("less", 7_000)]
