"""tie_out: per currency, bank total = delivered + unmatched + held back + rejected, each from its own evidence."""

from __future__ import annotations

import polars as pl

from etl.reconcile.tie import TIE_COLUMNS, tie_out, tie_summary
from tests.reconcile.support import RUN, match, outbox, payment

ARM = "arm.paymentreservations"


def _delivered(store, key: str, line: int, amount: int, state: str = "confirmed", action: str = "deliver",
               outstanding: int | None = None, **out) -> None:
    payment(store, key, source_line=line, amount_minor=amount)
    match(store, key, "reference", invoice_number=key, outstanding_minor=outstanding or amount, invoice_currency="NOK",
          target=ARM)
    outbox(store, key, state, action=action, api=ARM, amount_minor=amount, **out)


def _rejected_row(store, line: int, amount: int | None, kind: str = "payments", booked: bool = True) -> None:
    store.insert_frame("rejected_rows", pl.DataFrame([{
        "run_id": RUN, "source_file": "bank.csv", "source_line": line, "kind": kind, "booked": booked, "reference": None,
        "invoice_number": None, "amount_minor": amount, "currency": "NOK"}], schema_overrides={"amount_minor": pl.Int64}))


def _every_bucket(store) -> None:
    _delivered(store, "ok", 1, 10_000)
    _delivered(store, "over", 2, 11_500, outstanding=11_000)  # sent whole: the over part is delivered too
    _delivered(store, "waiting", 3, 600, state="sent")  # pending: planned for Amili
    _delivered(store, "refused", 4, 3_300, state="rejected", http_status=422)
    _delivered(store, "clash", 5, 1_100, state="confirmed", action="conflict", message="other data")
    payment(store, "nomatch", source_line=6, amount_minor=7_700)
    match(store, "nomatch", "none")
    payment(store, "twoinv", source_line=7, amount_minor=3_000)
    match(store, "twoinv", "ambiguous", candidates="1, 2")
    payment(store, "stranger", source_line=8, amount_minor=2_000, creditor=None)
    payment(store, "ok", source_line=9, amount_minor=10_000, duplicate_of="bank.txt:1")
    payment(store, "broken", source_line=10, amount_minor=5_000, held_back=True)
    payment(store, "euro", source_line=11, amount_minor=4_000, currency="EUR")
    match(store, "euro", "reference", invoice_number="9", outstanding_minor=4_000, invoice_currency="NOK")  # no target
    payment(store, "refund", source_line=12, amount_minor=-500)  # outgoing: not received money
    _rejected_row(store, 13, 2_500)
    _rejected_row(store, 14, None)  # amount unreadable: in no total
    _rejected_row(store, 15, 1_234, booked=False)  # camt pending: not booked, no money received yet
    _rejected_row(store, 16, 9_999, kind="invoices")  # an invoice row is no bank money


def test_every_bucket_from_its_own_evidence(store) -> None:
    _every_bucket(store)
    tie = tie_out(store, RUN)
    assert tie.columns == list(TIE_COLUMNS)
    assert all(tie.schema[c] == pl.Int64 for c in TIE_COLUMNS[1:])
    rows = {r["currency"]: r for r in tie.to_dicts()}
    assert rows["NOK"] == {
        "currency": "NOK",
        "bank_total_minor": 10_000 + 11_500 + 600 + 3_300 + 1_100 + 7_700 + 3_000 + 2_000 + 10_000 + 5_000 + 2_500,
        "delivered_minor": 10_000 + 11_500 + 600,
        "unmatched_minor": 7_700 + 3_000 + 2_000,
        "held_back_minor": 10_000 + 5_000,  # the duplicate sighting, the held-back file's row
        "rejected_minor": 3_300 + 1_100 + 2_500,  # Amili refused, conflict, invalid row
        "unexplained_minor": 0,
    }
    assert rows["EUR"] == {"currency": "EUR", "bank_total_minor": 4_000, "delivered_minor": 0, "unmatched_minor": 0,
                           "held_back_minor": 4_000, "rejected_minor": 0, "unexplained_minor": 0}
    assert tie_summary(store, RUN)["NOK"] == {"bank_total": "567.00", "delivered": "221.00", "unmatched": "127.00",
                                             "held_back": "150.00", "rejected": "69.00", "unexplained": "0.00"}


def test_a_payment_in_no_bucket_or_in_two_is_unexplained(store) -> None:
    # Routed to ARM but never planned (no run item): in no bucket.
    payment(store, "lost", source_line=1, amount_minor=4_200)
    match(store, "lost", "reference", invoice_number="1", outstanding_minor=4_200, invoice_currency="NOK", target=ARM)
    [row] = tie_out(store, RUN).to_dicts()
    assert (row["bank_total_minor"], row["delivered_minor"], row["unexplained_minor"]) == (4_200, 0, 4_200)
    # Planned twice by the run (two run items for one key): counted twice, so the tie goes negative.
    outbox(store, "lost", "confirmed", api=ARM, amount_minor=4_200)
    store.execute("INSERT INTO run_items SELECT * FROM run_items WHERE key = 'lost'")
    [row] = tie_out(store, RUN).to_dicts()
    assert (row["delivered_minor"], row["unexplained_minor"]) == (8_400, -4_200)


def test_other_runs_are_not_counted(store) -> None:
    _every_bucket(store)
    assert tie_out(store, "another-run").height == 0
