"""Decide one filled row: carry it out (with what), leave it (done already), or refuse it with the reason."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from etl.config import Config
from etl.money import format_minor
from etl.resolve.facts import (find_break, find_invoice, find_payment, item_state, payment_sent, open_resolution,
                               resolution_by_id)
from etl.resolve.read import ACTIONS, Instruction
from etl.store import Store

__all__ = ["FITS", "Decision", "decide", "resolution_id"]

# Which actions fit which categories (docs/contracts.md, "Resolving breaks"). explain closes any break.
FITS: dict[str, tuple[str, ...]] = {
    "match": ("unmatched_payment", "ambiguous_match", "invalid_reference"),
    "write_off": ("underpayment", "overpayment"),
    "refund": ("overpayment", "duplicate_payment"),
}


@dataclass(frozen=True)
class Decision:
    """What to do with one row: verdict 'do' (with the resolution row and, for a match, the payment to deliver),
    'unchanged' (recorded before from this very row) or 'refuse' (reason)."""

    row: Instruction
    verdict: str
    reason: str = ""
    resolution: dict[str, Any] | None = None
    payment: dict[str, Any] | None = None  # match: the payments row, with invoice_number set to the target
    undoes: dict[str, Any] | None = None  # reopen: the resolution it undoes


def resolution_id(row: Instruction) -> str:
    """sha256 of (break key, action, invoice, note, file, row): reading the same file twice finds it recorded."""
    text = "\x1f".join([row.break_key, row.action, row.action_invoice, row.action_note, row.source_file,
                        str(row.source_row)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _refuse(row: Instruction, reason: str) -> Decision:
    return Decision(row, "refuse", reason)


def _reverses(done: dict[str, Any]) -> str:
    """What undoes a delivered resolution (amili-etl never reverses a delivery by itself)."""
    if done["api"] is None:
        return "it is recorded as delivered"
    return (f"it was delivered to Amili as {done['api']} {done['key']}: reverse it there (cancel the "
            f"{'payment' if done['action'] == 'match' else 'posting'} in Amili), then explain the break")


def decide(store: Store, config: Config, row: Instruction, by: str, at: Any) -> Decision:
    """The decision for `row` against the state now (resolutions decided earlier in this call are in the state)."""
    rid = resolution_id(row)
    if resolution_by_id(store, rid) is not None:
        return Decision(row, "unchanged", "recorded before from this row")
    if row.action not in ACTIONS:
        return _refuse(row, f"action {row.action!r} is not one of {', '.join(ACTIONS)}")
    if not row.break_key:
        return _refuse(row, "no break_key on the row (copy the row as the report wrote it)")
    brk = find_break(store, row.category, row.break_key)
    if brk is None:
        return _refuse(row, f"unknown break: no {row.category or '(no category)'} break with key {row.break_key!r}")
    held = open_resolution(store, brk.category, brk.break_key)
    base = {"resolution_id": rid, "break_key": brk.break_key, "category": brk.category, "action": row.action,
            "action_invoice": row.action_invoice or None, "action_note": row.action_note or None, "creditor": None,
            "amount_minor": None, "currency": brk.currency, "resolved_by": by, "resolved_at": at,
            "source_file": row.source_file, "source_row": row.source_row, "state": "active", "api": None, "key": None}
    if row.action == "reopen":
        if held is None:
            return _refuse(row, "nothing to reopen: the break has no resolution")
        if held["state"] == "delivered" or item_state(store, held["api"], held["key"]) not in (None, "intent", "rejected"):
            return _refuse(row, f"cannot reopen: {_reverses(held)}")
        return Decision(row, "do", resolution={**base, "creditor": held["creditor"]}, undoes=held)
    if held is not None:
        return _refuse(row, f"already resolved: {held['action']} by {held['resolved_by']} on "
                            f"{str(held['resolved_at'])[:10]} (reopen it first to change it)")
    if row.action != "explain" and brk.category not in FITS[row.action]:
        return _refuse(row, f"{row.action} does not fit the category {brk.category} (it fits "
                            f"{', '.join(FITS[row.action])}; explain fits every break)")
    if row.action == "explain":
        if not row.action_note:
            return _refuse(row, "explain needs an action_note saying why the break is closed")
        return Decision(row, "do", resolution=base)
    if row.action == "match":
        return _decide_match(store, config, row, brk.break_key, base)
    return _decide_difference(store, row, brk, base)


def _decide_match(store: Store, config: Config, row: Instruction, payment_key: str, base: dict[str, Any]) -> Decision:
    if not row.action_invoice:
        return _refuse(row, "match needs action_invoice: the invoice number the payment is for")
    pay = find_payment(store, payment_key)
    if pay is None or pay.get("creditor") is None:
        return _refuse(row, "the payment of this break belongs to no configured creditor: explain it instead")
    names = [c.name for c in config.creditors]
    if pay["creditor"] not in names:
        return _refuse(row, f"the payment is creditor {pay['creditor']!r}'s, not in this configuration")
    if config.creditor(pay["creditor"]).payments_to == "none":
        return _refuse(row, f"creditor {pay['creditor']!r} sends its payments nowhere (payments_to = \"none\")")
    sent = payment_sent(store, payment_key)
    if sent is not None:
        return _refuse(row, f"the payment went to Amili already ({sent}): explain the break instead")
    inv = find_invoice(store, pay["creditor"], row.action_invoice)
    if inv is None:
        return _refuse(row, f"unknown invoice {row.action_invoice!r} of creditor {pay['creditor']!r}")
    if inv.currency != pay["currency"]:
        return _refuse(row, f"the payment is in {pay['currency']}, invoice {inv.number} in {inv.currency}")
    if pay["amount_minor"] > inv.open_minor:
        return _refuse(row, f"amount {format_minor(pay['amount_minor'])} {pay['currency']} is larger than what is open "
                            f"on invoice {inv.number} ({format_minor(inv.open_minor)} {inv.currency})")
    resolution = {**base, "creditor": pay["creditor"], "amount_minor": pay["amount_minor"], "currency": pay["currency"]}
    return Decision(row, "do", resolution=resolution, payment={**pay, "invoice_number": inv.number})


def _decide_difference(store: Store, row: Instruction, brk: Any, base: dict[str, Any]) -> Decision:
    """write_off (under- or overpayment) and refund (overpayment's over part, or a duplicate payment)."""
    pay = find_payment(store, brk.break_key)
    creditor = pay["creditor"] if pay else None
    if brk.category == "duplicate_payment":
        amount = brk.amount_minor
    else:
        diff = brk.difference_minor
        if diff is None or diff == 0:
            return _refuse(row, "the break has no difference to settle")
        amount = abs(diff)
        if brk.category == "underpayment" and creditor is not None and brk.invoice_number:
            inv = find_invoice(store, creditor, brk.invoice_number)
            open_minor = inv.open_minor if inv else 0
            if amount > open_minor:
                return _refuse(row, f"amount {format_minor(amount)} {brk.currency} is larger than what is open on "
                                    f"invoice {brk.invoice_number} ({format_minor(open_minor)} {brk.currency})")
    if row.action_invoice and brk.invoice_number and row.action_invoice != brk.invoice_number:
        return _refuse(row, f"action_invoice {row.action_invoice!r} is not the break's invoice {brk.invoice_number!r}")
    resolution = {**base, "creditor": creditor, "amount_minor": amount, "action_invoice": brk.invoice_number}
    if row.action == "write_off" and pay is not None and brk.invoice_number:
        # Posted to ARM where the creditor posts autopostings (signed: + the unpaid rest, - the over part).
        signed = amount if brk.category == "underpayment" else -amount
        return Decision(row, "do", resolution=resolution, payment={**pay, "invoice_number": brk.invoice_number,
                                                                   "amount_minor": signed})
    return Decision(row, "do", resolution=resolution)
