"""What every reader returns: canonical rows with lineage, the raw rows as read, and the file's own verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

__all__ = [
    "PAYMENT_SCHEMA",
    "INVOICE_SCHEMA",
    "PROBLEM_SCHEMA",
    "FORMATS",
    "SourceResult",
    "empty_frame",
]

# Lineage columns first: every canonical row can be traced to a file, its hash and a line (or sheet + row).
_LINEAGE: dict[str, pl.DataType] = {
    "source_file": pl.String(),  # the path as given to the reader
    "source_sha256": pl.String(),
    "source_line": pl.Int64(),  # 1-based physical line; for .xlsx the 1-based sheet row
    "source_sheet": pl.String(),  # null for text files
    "format": pl.String(),  # one of FORMATS
}

# One row per incoming or outgoing bank transaction. Money is signed integer minor units (øre/öre).
PAYMENT_SCHEMA: dict[str, pl.DataType] = {
    **_LINEAGE,
    "account": pl.String(),  # receiving account / bankgiro, digits only (the creditor's side)
    "booking_date": pl.Date(),
    "amount_minor": pl.Int64(),  # signed: credit notes / outgoing are negative
    "currency": pl.String(),
    "reference": pl.String(),  # structured reference: KID, Swedish OCR, RF; null when none
    "message": pl.String(),  # free text (Nets item 3, BgMax TK25, CSV description); null when none
    "payer_name": pl.String(),
    "payer_account": pl.String(),
    "bank_ref": pl.String(),  # archive reference, BGC serial, bank reference
    "payment_key": pl.String(),  # stable key derived from the source (DESIGN.md "Stable keys")
}

# One row per invoice in an ERP export.
INVOICE_SCHEMA: dict[str, pl.DataType] = {
    **_LINEAGE,
    "invoice_number": pl.String(),
    "customer_number": pl.String(),
    "customer_name": pl.String(),
    "kid": pl.String(),  # KID / OCR reference as a string (leading zeros kept); null when none
    "invoice_date": pl.Date(),  # null when missing or unparseable (validation rejects it)
    "due_date": pl.Date(),
    "currency": pl.String(),
    "amount_excl_vat_minor": pl.Int64(),
    "vat_minor": pl.Int64(),
    "amount_minor": pl.Int64(),  # incl. VAT
}

# Row problems found while reading (before validation), in the shape of the rejects file.
PROBLEM_SCHEMA: dict[str, pl.DataType] = {
    "source_line": pl.Int64(),
    "error_column": pl.String(),
    "error_check": pl.String(),
    "error_message": pl.String(),
}

FORMATS = (
    "ocr_giro",
    "bgmax",
    "camt054",
    "camt053",
    "mt940",
    "bank_csv",
    "bank_xlsx",
    "invoices_csv",
    "invoices_xlsx",
)


def empty_frame(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with exactly the given columns and types."""
    return pl.DataFrame(schema=schema)


@dataclass(frozen=True)
class SourceResult:
    """One file read: canonical rows, the raw rows as read, and the file-level verdict."""

    path: Path
    format: str | None  # one of FORMATS; None when unrecognised
    kind: str  # "payments" | "invoices" | "unknown"
    sha256: str
    rows: pl.DataFrame  # PAYMENT_SCHEMA or INVOICE_SCHEMA columns, in that order
    # The rows as they were in the file: `source_line` plus the original cells as text
    # (CSV/Excel: the original column names; fixed width: one column `record`). Rejects are written from it.
    raw: pl.DataFrame
    status: str = "ok"  # ok | held_back | unreadable | unrecognised
    message: str = ""  # one line naming the file, the line and the problem; "" when ok
    problems: pl.DataFrame = field(default_factory=lambda: empty_frame(PROBLEM_SCHEMA))
    # Declared and computed control totals where the format has them (count and net amount in minor units).
    control: dict[str, int] = field(default_factory=dict)
    layout: str | None = None  # mapping name for CSV/Excel layouts (e.g. "sparebank1")
