"""What every reader returns: canonical rows with lineage, the raw rows as read, and the file's own verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

__all__ = [
    "PAYMENT_SCHEMA",
    "OPTIONAL_PAYMENT_COLUMNS",
    "INVOICE_SCHEMA",
    "INVOICE_LINE_SCHEMA",
    "PROBLEM_SCHEMA",
    "BALANCE_SCHEMA",
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
    # Further references of the same payment, ';'-joined in file order (BgMax TK22/23, camt CdtrRefInf and
    # RfrdDocInf numbers beyond the first, MT940 customer/bank references); null when none.
    "extra_references": pl.String(),
    # The amount of each extra reference, parallel to `extra_references` (same order and count): signed integer
    # minor units with an explicit sign, ';'-joined ("+120000;-30000"); '-' marks a deduction (BgMax TK23), also
    # when its amount is 0 (the post gives none). Only BgMax fills it; null when none.
    "extra_reference_amounts": pl.String(),
    "message": pl.String(),  # free text (Nets item 3, BgMax TK25, CSV description); null when none
    "payer_name": pl.String(),
    "payer_account": pl.String(),
    "payer_address": pl.String(),  # BgMax TK27/28, one line; null when none
    "payer_org_number": pl.String(),  # BgMax TK29 organisation / person number; null when none
    "bank_ref": pl.String(),  # archive reference, BGC serial, bank reference
    "payment_key": pl.String(),  # stable key derived from the source (docs/contracts.md, "Stable keys")
}

# Columns only some formats fill: a reader may leave them out (with_lineage adds them as nulls).
OPTIONAL_PAYMENT_COLUMNS = ("extra_references", "extra_reference_amounts", "payer_address", "payer_org_number")

# One row per invoice in an ERP export.
INVOICE_SCHEMA: dict[str, pl.DataType] = {
    **_LINEAGE,
    "invoice_number": pl.String(),
    "customer_number": pl.String(),
    "customer_name": pl.String(),
    "customer_org_number": pl.String(),  # digits only; null when the export has none
    "kid": pl.String(),  # KID / OCR reference as a string (leading zeros kept); null when none
    "invoice_date": pl.Date(),  # null when missing or unparseable (validation rejects it)
    "due_date": pl.Date(),
    "currency": pl.String(),
    "amount_excl_vat_minor": pl.Int64(),
    "vat_minor": pl.Int64(),
    "amount_minor": pl.Int64(),  # incl. VAT
}

# One row per invoice line of a line-level invoice export; `invoice_line` is the source line of the invoice's
# first line, which is the invoice row's own `source_line` (so its rejects reach every line). Money in minor
# units; quantity in hundredths (7.5 hours = 750).
INVOICE_LINE_SCHEMA: dict[str, pl.DataType] = {
    "source_line": pl.Int64(),
    "invoice_line": pl.Int64(),
    "invoice_number": pl.String(),
    "line_no": pl.Int64(),  # 1-based within the invoice, in file order unless the export numbers its lines
    "article_no": pl.String(),
    "line_text": pl.String(),
    "quantity_hundredths": pl.Int64(),
    "unit_price_minor": pl.Int64(),
    "vat_code": pl.String(),
    "amount_excl_vat_minor": pl.Int64(),
    "vat_minor": pl.Int64(),
    "amount_minor": pl.Int64(),  # incl. VAT
}

# Statement balances a file declares (camt.053 OPBD/CLBD, MT940 :60:/:62:), one row per statement, with the
# booked entries' net sum: opening + entries = closing is checked by the reader; kept for month-end reconciliation.
BALANCE_SCHEMA: dict[str, pl.DataType] = {
    "source_line": pl.Int64(),  # where the statement starts
    "statement_id": pl.String(),
    "account": pl.String(),
    "currency": pl.String(),
    "opening_minor": pl.Int64(),
    "closing_minor": pl.Int64(),
    "opening_date": pl.Date(),
    "closing_date": pl.Date(),
    "entries_minor": pl.Int64(),
    "entries": pl.Int64(),
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
    balances: pl.DataFrame = field(default_factory=lambda: empty_frame(BALANCE_SCHEMA))  # statements only
    # Invoice lines of a line-level invoice export (INVOICE_LINE_SCHEMA), for the ARM documents' documentLines;
    # null when the export has one row per invoice.
    lines: pl.DataFrame | None = None
    # A workbook with several sheets of data: one result per sheet (rows, raw and rejects of that sheet alone, as
    # source_line is the sheet row), reported as `<file>#<sheet>`; `rows` above holds them all. Empty otherwise.
    sheets: tuple[SourceResult, ...] = ()
