"""What a person reads in a workbook: a label for each category and each summary total, instead of its machine key."""

from __future__ import annotations

__all__ = ["CATEGORY_LABELS", "category_label", "total_label"]

# One label per category of the fixed vocabulary (a test checks that none is missing), each short enough to name a
# sheet (Excel allows 31 characters) and none the same as a fixed sheet name (Unmatched, Rejects, Matched, ...).
CATEGORY_LABELS = {
    "invalid_row": "Invalid row",
    "control_total_mismatch": "Control total mismatch",
    "duplicate_payment": "Duplicate payment",
    "invalid_reference": "Invalid reference (KID)",
    "unmatched_payment": "Unmatched payment",
    "ambiguous_match": "Ambiguous match",
    "underpayment": "Underpayment",
    "overpayment": "Overpayment",
    "currency_mismatch": "Currency mismatch",
    "rejected": "Rejected by Amili",
    "pending": "Pending at Amili",
    "settled_amount_mismatch": "Settled amount mismatch",
    "missing_in_amili": "Missing in Amili",
    "unknown_in_amili": "Unknown in Amili",
    "unpaid_invoice": "Unpaid invoice",
}

# summary.json's totals, by key (nested keys are labelled part by part: `incoming_amount.NOK` -> "Incoming amount: NOK").
_TOTALS = {
    "rows_read": "Rows read",
    "rows_rejected": "Rows rejected (see Rejects)",
    "rows_held_back": "Rows held back (file totals broken)",
    "payments": "Payments (not held back)",
    "payments_outgoing": "Outgoing payments (not ours to send)",
    "payments_incoming": "Incoming payments",
    "payments_duplicate": "Duplicate payments",
    "payments_matched": "Payments matched",
    "payments_unmatched": "Payments not matched",
    "incoming_amount": "Incoming amount",
    "planned": "Items planned",
    "confirmed": "Items confirmed by Amili",
    "rejected": "Items rejected by Amili",
    "pending": "Items pending at Amili",
    "control": "Control totals",
    "runs": "Runs in the period",
    "runs_incomplete": "Runs not complete",
    "breaks_new": "Breaks new this period",
    "breaks_persisting": "Breaks persisting",
    "breaks_resolved": "Breaks resolved",
    "oldest_open_days": "Oldest open break (days)",
    "open_amount": "Open amount",
    "readback_items": "Items read back from Amili",
    "collection_settlements": "Collection settlements",
    "statements_checked": "Bank statements checked",
    "incomplete_because": "Incomplete because",
    "written_off": "Written off automatically (see Written off)",
    "written_off_amount": "Written off amount",
}


def category_label(category: str) -> str:
    """'unmatched_payment' -> 'Unmatched payment' (an unknown key is shown as it is)."""
    return CATEGORY_LABELS.get(category, category)


def _words(key: str) -> str:
    """A part of a key as words: 'file_total' -> 'file total'; currency codes and API names stay as they are."""
    return key.replace("_", " ") if "_" in key and "." not in key else key


def total_label(path: tuple[str, ...]) -> str:
    """A totals key path as a label: ('rows_read',) -> 'Rows read'; ('planned', 'arm.documents') -> 'Items planned:
    arm.documents'; ('control', 'NOK', 'file_total') -> 'Control totals: NOK file total'."""
    head = _TOTALS.get(path[0]) or _words(path[0]).capitalize()
    return head + (": " + " ".join(_words(p) for p in path[1:]) if len(path) > 1 else "")
