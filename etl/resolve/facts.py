"""What the state knows about a filled row: its break, the payment, the invoice's open amount, earlier resolutions.

A person fills a few dozen rows, so these are small per-row queries (not a hot path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from etl.store import Store

__all__ = ["Break", "Invoice", "find_break", "find_invoice", "find_payment", "item_state", "open_resolution", "payment_sent",
           "resolution_by_id"]

# The break key of a run's discrepancy, exactly as the reports and month-end (open_breaks.sql) write it.
_RUN_BREAKS = """
SELECT d.category, coalesce(d.stable_key, d.source_file || ':' || coalesce(CAST(d.source_line AS VARCHAR), ''))
           AS break_key, d.invoice_number, d.amount_minor, d.currency, d.expected_minor, d.stable_key,
       d.run_id AS seen_in
FROM discrepancies d JOIN runs r USING (run_id)
WHERE r.mode <> 'dry-run'
"""


@dataclass(frozen=True)
class Break:
    """A break as the state has it (the latest run or month-end that reported it)."""

    category: str
    break_key: str
    invoice_number: str | None
    amount_minor: int | None
    currency: str | None
    expected_minor: int | None

    @property
    def difference_minor(self) -> int | None:
        """amount - expected (overpayment +, underpayment -), as the reports' `difference`."""
        if self.amount_minor is None or self.expected_minor is None:
            return None
        return self.amount_minor - self.expected_minor


@dataclass(frozen=True)
class Invoice:
    """An invoice of a creditor and what is still open on it."""

    number: str
    currency: str
    amount_minor: int
    open_minor: int


def _one(store: Store, sql: str, params: dict[str, Any]) -> dict[str, Any] | None:
    rows = store.frame(sql, params).to_dicts()
    return rows[0] if rows else None


def find_break(store: Store, category: str, break_key: str) -> Break | None:
    """The break of `category` with `break_key`: the latest run's discrepancy, else the latest month-end's break."""
    row = _one(store, f"""
        SELECT * FROM (
            SELECT category, break_key, invoice_number, amount_minor, currency, expected_minor, seen_in, 1 AS pref
            FROM ({_RUN_BREAKS}) WHERE category = $category AND break_key = $key
            UNION ALL
            SELECT category, break_key, invoice_number, amount_minor, currency, expected_minor, period, 2
            FROM period_breaks WHERE category = $category AND break_key = $key
        ) ORDER BY pref, seen_in DESC LIMIT 1""", {"category": category, "key": break_key})
    if row is None:
        return None
    return Break(row["category"], row["break_key"], row["invoice_number"], row["amount_minor"], row["currency"],
                 row["expected_minor"])


def find_payment(store: Store, payment_key: str) -> dict[str, Any] | None:
    """The payment with `payment_key` (its first sighting of the latest work run), or None."""
    return _one(store, """
        SELECT p.* FROM payments p JOIN runs r USING (run_id)
        WHERE p.payment_key = $key AND r.mode <> 'dry-run' AND p.duplicate_of IS NULL
        ORDER BY p.run_id DESC, p.payment_no LIMIT 1""", {"key": payment_key})


def find_invoice(store: Store, creditor: str, number: str) -> Invoice | None:
    """The creditor's invoice `number` and what is open on it: its amount less what matched payments (each payment
    once, whatever run matched it) and active resolutions allocate to it."""
    row = _one(store, """
        WITH inv AS (
            SELECT v.invoice_number, v.currency, v.amount_minor FROM invoices v JOIN runs r USING (run_id)
            WHERE v.creditor = $creditor AND v.invoice_number = $number AND r.mode <> 'dry-run'
            ORDER BY v.run_id DESC LIMIT 1
        ),
        paid AS (
            SELECT payment_key, max(a.amount_minor) AS amount_minor FROM match_allocations a JOIN runs r USING (run_id)
            WHERE a.creditor = $creditor AND a.invoice_number = $number AND r.mode <> 'dry-run' GROUP BY payment_key
        ),
        resolved AS (
            SELECT coalesce(sum(amount_minor), 0) AS amount_minor FROM resolutions
            WHERE creditor = $creditor AND state IN ('active', 'delivered')
              AND ((action = 'match' AND action_invoice = $number)
                   OR (action = 'write_off' AND category = 'underpayment' AND action_invoice = $number))
        )
        SELECT inv.*, inv.amount_minor - coalesce((SELECT sum(amount_minor) FROM paid), 0)
               - (SELECT amount_minor FROM resolved) AS open_minor
        FROM inv""", {"creditor": creditor, "number": number})
    if row is None:
        return None
    return Invoice(row["invoice_number"], row["currency"], int(row["amount_minor"]), int(row["open_minor"]))


def open_resolution(store: Store, category: str, break_key: str) -> dict[str, Any] | None:
    """The resolution that holds the break now (active or delivered), or None."""
    return _one(store, """
        SELECT * FROM resolutions WHERE category = $category AND break_key = $key AND action <> 'reopen'
          AND state IN ('active', 'delivered') ORDER BY resolved_at DESC LIMIT 1""",
                {"category": category, "key": break_key})


def resolution_by_id(store: Store, resolution_id: str) -> dict[str, Any] | None:
    """An earlier resolution with this id (the same instruction from the same file row), or None."""
    return _one(store, "SELECT * FROM resolutions WHERE resolution_id = $id", {"id": resolution_id})


def item_state(store: Store, api: str | None, key: str | None) -> str | None:
    """The outbox state of the item a resolution delivers (None: none planned)."""
    if api is None or key is None:
        return None
    row = _one(store, "SELECT state FROM outbox WHERE api = $api AND key = $key", {"api": api, "key": key})
    return row["state"] if row else None


def payment_sent(store: Store, payment_key: str) -> str | None:
    """The state of a run's delivery of this payment under its own key (None: never planned, or refused by Amili)."""
    row = _one(store, "SELECT state FROM outbox WHERE key = $key AND api <> 'arm.documents' AND state <> 'rejected' "
                      "LIMIT 1", {"key": payment_key})
    return row["state"] if row else None
