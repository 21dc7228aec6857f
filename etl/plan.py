"""Plan: route each valid invoice and each matched payment to exactly one Amili API, under its stable key."""

from __future__ import annotations

import polars as pl

from etl.amili.outbox import PLANNED_SCHEMA
from etl.amili.payloads import dumps, json_amount, payload_hash, rfc1123
from etl.config import Config

__all__ = ["plan_items", "ROUTES"]

# payments_to -> the API a matched payment goes to (DESIGN.md, "Stable keys" for the key names).
ROUTES = {"arm": "arm.paymentreservations", "collection": "collection.payments", "ada": "ada.creditor-payments"}


def _document(inv: dict) -> dict:
    """An ARM document from an invoice row (docs: POST /clients/{clientno}/documents)."""
    doc = {
        "documentType": "IN" if inv["amount_minor"] > 0 else "CN",
        "customerNo": inv["customer_number"],
        "documentNo": inv["invoice_number"],
        "documentDate": inv["invoice_date"].isoformat(),
        "dueDate": inv["due_date"].isoformat(),
        "currency": inv["currency"],
        "currencyAmounts": {
            "exclVat": json_amount(inv["amount_excl_vat_minor"] if inv["amount_excl_vat_minor"] is not None else inv["amount_minor"]),
            "vat": json_amount(inv["vat_minor"] or 0),
            "inclVat": json_amount(inv["amount_minor"]),
        },
    }
    if inv["kid"]:
        doc["kid"] = inv["kid"]
    return doc


def _reservation(p: dict) -> dict:
    """An ARM payment reservation for a matched payment; paymentId is the payment's stable key."""
    res = {
        "documentNo": p["invoice_number"],
        "paymentId": p["payment_key"],
        "currency": p["currency"],
        "currencyAmountPaid": json_amount(p["amount_minor"]),
        "paidTime": f"{p['booking_date'].isoformat()}T00:00:00Z",
    }
    if p["message"]:
        res["transactionText"] = p["message"][:100]
    return res


def _ada_payment(p: dict, creditor_id: str) -> dict:
    """An ADA creditor payment by invoice number; creditor_payment_reference is the stable key."""
    return {
        "creditor": creditor_id,
        "invoice_number": p["invoice_number"],
        "currency": p["currency"],
        "amount": json_amount(p["amount_minor"]),
        "bank_transaction_date": rfc1123(p["booking_date"]),
        "creditor_payment_reference": p["payment_key"],
        "origin": "creditor_system",
    }


def _row(api: str, key: str, creditor: str, payload: dict, src: dict, amount: int, currency: str,
         reference: str | None, invoice_number: str | None) -> dict:
    return {
        "api": api,
        "key": key,
        "creditor": creditor,
        "payload": dumps(payload).decode(),
        "payload_hash": payload_hash(payload),
        "amount_minor": amount,
        "currency": currency,
        "source_file": src["source_file"],
        "source_line": src["source_line"],
        "reference": reference,
        "invoice_number": invoice_number,
    }


def plan_items(config: Config, invoices: pl.DataFrame, payments: pl.DataFrame) -> pl.DataFrame:
    """PLANNED_SCHEMA rows: ARM documents for valid invoices, one delivery per matched incoming payment.

    `invoices`: valid invoices of this run with `creditor`. `payments`: matched payments to send, with
    creditor, invoice_number, payment_key and the canonical payment columns.
    """
    rows: list[dict] = []
    by_name = {c.name: c for c in config.creditors}
    for inv in invoices.iter_rows(named=True):
        c = by_name[inv["creditor"]]
        if c.invoices_to == "arm":
            key = f"{c.arm_client_no}:{inv['invoice_number']}"
            rows.append(_row("arm.documents", key, c.name, _document(inv), inv, inv["amount_minor"], inv["currency"],
                             inv["kid"], inv["invoice_number"]))
    for p in payments.iter_rows(named=True):
        c = by_name[p["creditor"]]
        api = ROUTES.get(c.payments_to)
        if api is None:
            continue
        if api == "arm.paymentreservations":
            payload = _reservation(p)
        elif api == "ada.creditor-payments":
            payload = _ada_payment(p, str(c.ada_creditor))
        else:
            continue  # Collection direct payments arrive with the submission issue
        rows.append(_row(api, p["payment_key"], c.name, payload, p, p["amount_minor"], p["currency"], p["reference"],
                         p["invoice_number"]))
    return pl.DataFrame(rows, schema=PLANNED_SCHEMA) if rows else pl.DataFrame(schema=PLANNED_SCHEMA)
