"""Row models: bank payments and invoices, as pandera polars DataFrameModels (imported only where validation runs)."""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl

__all__ = ["PaymentRows", "InvoiceRows", "MAX_AMOUNT_MINOR"]

# 10 billion in major units: anything larger is a parse error, not a payment.
MAX_AMOUNT_MINOR = 1_000_000_000_000
_EARLIEST = dt.date(2000, 1, 1)
_LATEST = dt.date(2099, 12, 31)
_CURRENCY = r"^[A-Z]{3}$"


class PaymentRows(pa.DataFrameModel):
    """A bank transaction after reading: what must hold before it may be matched and sent."""

    source_line: int = pa.Field(nullable=False)
    amount_minor: int = pa.Field(nullable=False, ne=0, in_range={"min_value": -MAX_AMOUNT_MINOR, "max_value": MAX_AMOUNT_MINOR})
    currency: str = pa.Field(nullable=False, str_matches=_CURRENCY)
    booking_date: dt.date = pa.Field(nullable=False, in_range={"min_value": _EARLIEST, "max_value": _LATEST})
    payment_key: str = pa.Field(nullable=False)

    class Config:
        """Other columns pass through untouched."""

        strict = False


class InvoiceRows(pa.DataFrameModel):
    """An invoice row from an ERP export."""

    source_line: int = pa.Field(nullable=False)
    invoice_number: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 50}, unique=True)
    customer_number: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 50})
    invoice_date: dt.date = pa.Field(nullable=False, in_range={"min_value": _EARLIEST, "max_value": _LATEST})
    due_date: dt.date = pa.Field(nullable=False, in_range={"min_value": _EARLIEST, "max_value": _LATEST})
    currency: str = pa.Field(nullable=False, str_matches=_CURRENCY)
    amount_minor: int = pa.Field(nullable=False, ne=0, in_range={"min_value": -MAX_AMOUNT_MINOR, "max_value": MAX_AMOUNT_MINOR})
    kid: str = pa.Field(nullable=True, str_matches=r"^\d{2,25}$")

    class Config:
        """Other columns pass through untouched."""

        strict = False

    @pa.dataframe_check(error="amount_incl_vat must equal amount_excl_vat + vat_amount")
    @classmethod
    def vat_adds_up(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """Excl. VAT + VAT = incl. VAT wherever the export gives all three."""
        ex, vat, inc = pl.col("amount_excl_vat_minor"), pl.col("vat_minor"), pl.col("amount_minor")
        ok = ex.is_null() | vat.is_null() | inc.is_null() | ((ex + vat) == inc)
        return data.lazyframe.select(ok)
