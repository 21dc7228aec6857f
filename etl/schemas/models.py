"""Row models: bank payments and invoices, as pandera polars schemas (imported only where validation runs).

The static checks live in the DataFrameModels; `payment_schema` / `invoice_schema` add the checks that
depend on the file (its country) or the creditor (its currencies). Identifier checks (accounts, IBANs,
organisation numbers) run python-stdnum once per distinct value and map the verdicts back to the rows:
a file has few distinct accounts, so this costs next to nothing even for a million rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData
from stdnum import iban
from stdnum.no import kontonr
from stdnum.no import orgnr as no_orgnr
from stdnum.se import orgnr as se_orgnr
from stdnum.se import personnummer

from etl.schemas.rules import RowRules

__all__ = ["PaymentRows", "InvoiceRows", "RowRules", "payment_schema", "invoice_schema", "MAX_AMOUNT_MINOR"]

# 10 billion in major units: anything larger is a parse error, not a payment.
MAX_AMOUNT_MINOR = 1_000_000_000_000
_EARLIEST = dt.date(2000, 1, 1)
_LATEST = dt.date(2099, 12, 31)
_CURRENCY = r"^[A-Z]{3}$"
_IBAN_SHAPE = r"^[A-Z]{2}\d{2}"


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

    @pa.dataframe_check(error="due_date is before invoice_date")
    @classmethod
    def due_after_invoice(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """An invoice cannot fall due before it was issued."""
        inv, due = pl.col("invoice_date"), pl.col("due_date")
        return data.lazyframe.select(inv.is_null() | due.is_null() | (due >= inv))


def _by_distinct_value(data: PolarsData, is_valid: Callable[[str], bool], applies: pl.Expr | None = None) -> pl.LazyFrame:
    """Run a scalar check once per distinct value of the column and map the verdicts back to every row.

    Rows where `applies` is false, and nulls, pass.
    """
    col = pl.col(data.key)
    scope = data.lazyframe if applies is None else data.lazyframe.filter(applies)
    distinct = scope.select(col.drop_nulls().unique()).collect().to_series()
    good = pl.Series([v for v in distinct.to_list() if is_valid(v)], dtype=pl.String)
    ok = col.is_null() | col.is_in(good.implode())
    return data.lazyframe.select(ok if applies is None else ~applies.fill_null(False) | ok)


def _account_ok(country: str | None) -> Callable[[str], bool]:
    """An IBAN by its check digits; a Norwegian 11-digit account by MOD11 (country NO); anything else passes."""

    def ok(value: str) -> bool:
        if value[:2].isalpha():
            return iban.is_valid(value)
        if country == "NO" and len(value) == 11:
            return kontonr.is_valid(value)
        return True

    return ok


def _org_number_ok(country: str | None) -> Callable[[str], bool]:
    """A Norwegian organisation number (9 digits, MOD11) or a Swedish organisation / personal number (Luhn)."""

    def ok(value: str) -> bool:
        if country == "NO" or (country is None and len(value) == 9):
            return no_orgnr.is_valid(value)
        return se_orgnr.is_valid(value) or personnummer.is_valid(value)

    return ok


def payment_schema(rules: RowRules) -> pa.DataFrameSchema:
    """PaymentRows plus the receiving account check (incoming rows only: the other side is the payee's), and
    for exports with per-transaction references, a reference seen earlier in the file (a line listed twice)."""
    incoming = pl.col("amount_minor") > 0
    account = pa.Check(
        lambda data: _by_distinct_value(data, _account_ok(rules.country), incoming), name="account_number"
    )
    columns = {"account": pa.Column(str, nullable=True, checks=[account])}
    if rules.unique_bank_ref:
        ref = pl.col("bank_ref")
        again = pa.Check(
            lambda data: data.lazyframe.select(ref.is_null() | ref.is_first_distinct()), name="bank_ref_repeated"
        )
        columns["bank_ref"] = pa.Column(str, nullable=True, checks=[again])
    return PaymentRows.to_schema().add_columns(columns)


def invoice_schema(rules: RowRules) -> pa.DataFrameSchema:
    """InvoiceRows plus: one invoice per KID, the customer's organisation number, the creditor's currencies."""
    schema = InvoiceRows.to_schema()
    kid = pl.col("kid")
    kid_once = pa.Check(lambda data: data.lazyframe.select(kid.is_null() | ~kid.is_duplicated()), name="kid_unique")
    org = pa.Check(lambda data: _by_distinct_value(data, _org_number_ok(rules.country)), name="org_number")
    schema = schema.update_column("kid", checks=[*schema.columns["kid"].checks, kid_once])
    if rules.currencies:
        codes = sorted(rules.currencies)
        allowed = pa.Check(lambda data: data.lazyframe.select(pl.col(data.key).is_in(codes)), name="creditor_currency")
        schema = schema.update_column("currency", checks=[*schema.columns["currency"].checks, allowed])
    return schema.add_columns({"customer_org_number": pa.Column(str, nullable=True, checks=[org], required=False)})
