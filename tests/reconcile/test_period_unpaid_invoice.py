"""sql/period/unpaid_invoice.sql: invoices due by the end of the period with nothing paid by then."""

from __future__ import annotations

import datetime as dt

from tests.reconcile.support import allocation, invoice, period_rows, run


def test_due_and_unpaid_only(store) -> None:
    run(store, "r1", dt.datetime(2026, 11, 5, 6))
    run(store, "r9", dt.datetime(2026, 12, 2, 6))
    invoice(store, "due-unpaid", dt.date(2026, 11, 10), run_id="r1")
    invoice(store, "due-paid", dt.date(2026, 11, 10), run_id="r1")
    allocation(store, "k1", "due-paid", run_id="r1")
    invoice(store, "paid-after", dt.date(2026, 11, 12), run_id="r1")
    allocation(store, "k2", "paid-after", run_id="r9")          # paid in December: unpaid at November's end
    invoice(store, "not-due", dt.date(2026, 12, 1), run_id="r1")
    invoice(store, "credit", dt.date(2026, 11, 1), run_id="r1", amount_minor=-500)
    rows = period_rows(store, "unpaid_invoice", "2026-11")
    assert [(r["invoice_number"], r["expected_minor"], r["first_seen"]) for r in rows] == [
        ("due-unpaid", 10_000, dt.date(2026, 11, 10)), ("paid-after", 10_000, dt.date(2026, 11, 12))]
    assert rows[0]["detail"] == "due 2026-11-10, nothing paid"
