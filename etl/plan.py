"""Plan: route each valid invoice and each matched payment to exactly one Amili API, under its stable key.

Payloads are built column-wise: a polars struct per API, JSON-encoded in one expression, its sha256 by
polars-hash. Struct fields are listed in sorted order, so the JSON is canonical (sorted keys, no spaces) and
the same item always hashes the same. Amounts are exact JSON numbers written from the Int64 minor units with
integer arithmetic (`etl.amili.payloads.json_amount_expr`, never a float) and spliced into the JSON as raw text,
dates in each API's format.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import polars as pl
import polars_hash as plh

from etl.amili.outbox import PLANNED_SCHEMA
from etl.amili.payloads import json_amount_expr
from etl.config import Config

__all__ = ["plan_items", "per_invoice", "ROUTES"]

# payments_to -> the API a matched payment goes to (docs/contracts.md, "Stable keys" for the key names).
# A `target` column on the payments (etl/match/route.py) wins; `autopostings = true` on an ARM creditor sends
# its payments as ARM autopostings instead of payment reservations.
ROUTES = {"arm": "arm.paymentreservations", "collection": "collection.payments", "ada": "ada.creditor-payments"}

_OPTIONAL = ("kid", "transactionText", "description", "documentLines")  # omitted from the JSON when null (not sent as null)


@dataclass(frozen=True)
class _Raw:
    """A field whose value is JSON text already (an exact amount, a nested object): spliced in, never re-encoded."""

    name: str
    text: pl.Expr


def _money(col: str | pl.Expr, name: str) -> _Raw:
    """Minor units -> the exact JSON number Amili expects, as a raw field (a float would print 8855.710000000001)."""
    return _Raw(name, json_amount_expr(pl.col(col) if isinstance(col, str) else col))


def _object(*fields: pl.Expr | _Raw) -> pl.Expr:
    """JSON object text of the fields in the order given: encoded runs of plain fields joined with the raw ones."""
    groups: list[_Raw | list[pl.Expr]] = []
    for f in fields:
        if isinstance(f, _Raw):
            groups.append(f)
        elif groups and isinstance(groups[-1], list):
            groups[-1].append(f)
        else:
            groups.append([f])
    # One concat_str over all pieces (measured faster than nesting); a run's braces are cut where it meets others.
    pieces: list[pl.Expr] = []
    for i, g in enumerate(groups):
        first, last = i == 0, i == len(groups) - 1
        if isinstance(g, _Raw):
            # A null raw value is written as null (then dropped like any null optional field).
            pieces += [pl.lit(("{" if first else ",") + f'"{g.name}":'), g.text.fill_null(pl.lit("null"))]
            if last:
                pieces.append(pl.lit("}"))
            continue
        encoded = pl.struct(*g).struct.json_encode()
        if not first:
            pieces.append(pl.lit(","))
            encoded = encoded.str.strip_prefix("{")
        pieces.append(encoded if last else encoded.str.strip_suffix("}"))
    return pl.concat_str(pieces)


def _json(*fields: pl.Expr | _Raw) -> pl.Expr:
    """Canonical JSON of the fields (give them in sorted order); null optional fields are left out."""
    encoded = _object(*fields)
    for name in _OPTIONAL:
        encoded = encoded.str.replace_all(f',"{name}":null', "", literal=True)
    return encoded


def _amounts(excl: pl.Expr, incl: pl.Expr, vat: pl.Expr) -> _Raw:
    """ARM `currencyAmounts` (exclVat, inclVat, vat) from minor units, exact."""
    return _Raw("currencyAmounts", _object(_money(excl, "exclVat"), _money(incl, "inclVat"), _money(vat, "vat")))


def _routes(config: Config) -> pl.DataFrame:
    """One row per creditor: where its invoices and payments go and the ids the payloads need."""
    return pl.DataFrame(
        {
            "creditor": [c.name for c in config.creditors],
            "_invoices_api": ["arm.documents" if c.invoices_to == "arm" else None for c in config.creditors],
            "_payments_api": ["arm.autopostings" if c.payments_to == "arm" and getattr(c, "autopostings", False)
                              else ROUTES.get(c.payments_to) for c in config.creditors],
            "_client_no": [None if c.arm_client_no is None else str(c.arm_client_no) for c in config.creditors],
            "_ada_creditor": [c.ada_creditor for c in config.creditors],
            # Collection's payment `type` as JSON text: the docs' example integer 0 unless configured otherwise.
            "_collection_type": [orjson.dumps(c.collection_payment_type).decode() for c in config.creditors],
        },
        schema={"creditor": pl.String, "_invoices_api": pl.String, "_payments_api": pl.String,
                "_client_no": pl.String, "_ada_creditor": pl.String, "_collection_type": pl.String},
    )


def _document_lines(lines: pl.DataFrame) -> pl.DataFrame:
    """ARM `documentLines` per invoice (source_file, invoice_line), in line order, fields as the docs show them.

    A line without amounts is a text line (`TXT`), any other a product line (`PLH`).
    """
    amounts = ("amount_excl_vat_minor", "vat_minor", "amount_minor")

    def number(col: str) -> pl.Expr:
        return pl.col(col).fill_null(0)

    # Fields in sorted order, as everywhere in a payload (canonical JSON: the payload hash must be stable).
    # Each line is JSON text here; the document splices the `[...]` of its lines in as a raw field.
    line = _object(
        pl.lit("").alias("articleName"),
        pl.col("article_no").fill_null("").alias("articleNo"),
        _amounts(number(amounts[0]), number(amounts[2]), number(amounts[1])),
        pl.col("line_no").alias("lineNo"),
        pl.col("line_text").fill_null("").alias("lineText"),
        pl.when(pl.all_horizontal(pl.col(c).is_null() for c in amounts)).then(pl.lit("TXT"))
        .otherwise(pl.lit("PLH")).alias("lineType"),
        _money(number("unit_price_minor"), "price"),
        _money(number("quantity_hundredths"), "quantity"),  # hundredths: two decimals, like money
        pl.lit("").alias("quantityUnit"),
    )
    return (
        lines.sort("source_file", "invoice_line", "line_no", "source_line")
        .select("source_file", "invoice_line", line.alias("documentLines"))  # text first: flat, not per group
        .group_by("source_file", "invoice_line", maintain_order=True)
        .agg("documentLines")
        .with_columns(pl.concat_str([pl.lit("["), pl.col("documentLines").list.join(","), pl.lit("]")]).alias("documentLines"))
        .rename({"invoice_line": "source_line"})
    )


def _documents(inv: pl.DataFrame, lines: pl.DataFrame | None) -> pl.DataFrame:
    """ARM documents (docs: POST /clients/{clientno}/documents), keyed `{client_no}:{invoice_number}`.

    Invoices from a line-level export carry their lines as `documentLines`; others have none (left out).
    """
    if lines is not None and lines.height:
        inv = inv.join(_document_lines(lines), on=["source_file", "source_line"], how="left")
    else:
        inv = inv.with_columns(documentLines=pl.lit(None, pl.String))
    excl = pl.coalesce("amount_excl_vat_minor", "amount_minor")
    payload = _json(
        pl.col("currency"),
        _amounts(excl, pl.col("amount_minor"), pl.col("vat_minor").fill_null(0)),
        pl.col("customer_number").cast(pl.String).alias("customerNo"),
        pl.col("invoice_date").dt.strftime("%Y-%m-%d").alias("documentDate"),
        _Raw("documentLines", pl.col("documentLines")),
        pl.col("invoice_number").alias("documentNo"),
        pl.when(pl.col("amount_minor") > 0).then(pl.lit("IN")).otherwise(pl.lit("CN")).alias("documentType"),
        pl.col("due_date").dt.strftime("%Y-%m-%d").alias("dueDate"),
        pl.when(pl.col("kid") != "").then(pl.col("kid")).alias("kid"),
    )
    return inv.select(
        pl.col("_invoices_api").alias("api"),
        (pl.col("_client_no") + ":" + pl.col("invoice_number")).alias("key"),
        "creditor",
        payload.alias("payload"),
        "amount_minor", "currency", "source_file", "source_line",
        pl.col("kid").alias("reference"),
        "invoice_number",
    )


def _payment_payload(api: str) -> pl.Expr:
    """The payload of a matched payment for `api`; its stable key goes where that API wants it."""
    day = pl.col("booking_date").dt.strftime("%Y-%m-%d")
    text = pl.when(pl.col("message") != "").then(pl.col("message").str.slice(0, 100))
    if api == "arm.paymentreservations":
        return _json(
            pl.col("currency"),
            _money("amount_minor", "currencyAmountPaid"),
            pl.col("invoice_number").alias("documentNo"),
            (day + "T00:00:00Z").alias("paidTime"),
            pl.col("payment_key").alias("paymentId"),
            text.alias("transactionText"),
        )
    if api == "arm.autopostings":
        # documentNo is swapped for the AR item's arItemId at send time (ARM posts against AR items).
        return _json(
            pl.col("currency"),
            _money("amount_minor", "currencyAmount"),
            pl.col("invoice_number").alias("documentNo"),
            day.alias("voucherDate"),
            pl.col("payment_key").alias("voucherNo"),
        )
    if api == "collection.payments":
        return _json(
            _money("amount_minor", "amount"),
            pl.col("currency"),
            (day + "T00:00:00Z").alias("date"),
            text.alias("description"),
            pl.col("invoice_number").alias("invoiceNumber"),
            _Raw("type", pl.col("_collection_type")),
            pl.col("payment_key").alias("uniqueSourcePaymentId"),
        )
    # ADA creditor payment by invoice number; creditor_payment_reference is the stable key.
    return _json(
        _money("amount_minor", "amount"),
        pl.col("booking_date").dt.strftime("%a, %d %b %Y 00:00:00 GMT").alias("bank_transaction_date"),
        pl.col("_ada_creditor").alias("creditor"),
        pl.col("payment_key").alias("creditor_payment_reference"),
        pl.col("currency"),
        pl.col("invoice_number").alias("invoice_number"),
        pl.lit("creditor_system").alias("origin"),
    )


# A key part taken as written: what the payer's reference usually is (OCR, KID, invoice number); anything else is hashed.
_PLAIN_REF = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,34}$"


def per_invoice(pays: pl.DataFrame) -> pl.DataFrame:
    """One row per delivery: a multi-invoice payment (`_multi`: its allocations) becomes one row per invoice, with
    the invoice's amount and the key `<payment key>:<reference>` (the payer's reference of that invoice, `_split_refs`,
    else the invoice number; hashed when it is not plain ASCII), so each is delivered and looked up on its own. A
    payment allocated to one invoice only (a credit note netted off it) stays one row, for that invoice, under its own
    key. Other rows pass unchanged."""
    if "_multi" not in pays.columns:
        return pays
    alloc = pl.col("_multi")
    positive = alloc.list.eval(pl.element().filter(pl.element().struct.field("amount_minor") > 0))
    split = (pl.col("rule") == "multi_invoice") & (positive.list.len() > 1)
    single = (pl.col("rule") == "multi_invoice") & (positive.list.len() == 1)
    refs = "_split_refs" if "_split_refs" in pays.columns else None
    plain = pays.filter(~split.fill_null(False)).with_columns(
        pl.when(single).then(positive.list.first().struct.field("invoice_number"))
        .otherwise(pl.col("invoice_number")).alias("invoice_number"))
    parts = pays.filter(split.fill_null(False))
    if parts.height == 0:
        return plain.drop([c for c in ("_multi", "_split_refs") if c in plain.columns])
    parts = parts.with_columns(
        pl.col(refs) if refs else pl.lit(None, pl.List(pl.String)).alias("_split_refs"),
    ).with_columns(
        pl.when(pl.col("_split_refs").list.len() == alloc.list.len()).then(pl.col("_split_refs"))
        .otherwise(alloc.list.eval(pl.element().struct.field("invoice_number"))).alias("_part_ref"),
    ).explode("_multi", "_part_ref").with_columns(
        pl.col("_multi").struct.field("invoice_number").alias("invoice_number"),
        pl.col("_multi").struct.field("amount_minor").alias("amount_minor"),
    )
    parts = parts.with_columns(pl.col("_part_ref").fill_null(pl.col("invoice_number")))
    ref = pl.col("_part_ref")
    part_key = pl.when(ref.str.contains(_PLAIN_REF)).then(ref).otherwise(
        plh.col("_part_ref").chash.sha2_256().str.slice(0, 16))
    parts = parts.with_columns((pl.col("payment_key") + ":" + part_key).alias("payment_key")).drop("_part_ref")
    extra = [c for c in ("_multi", "_split_refs") if c in plain.columns]
    plain = plain.drop(extra)
    return pl.concat([plain, parts.select(plain.columns)], how="vertical_relaxed")


def _payments(pays: pl.DataFrame) -> pl.DataFrame:
    frames = []
    for (api,), part in pays.group_by(["_payments_api"], maintain_order=True):
        frames.append(part.select(
            pl.lit(api).alias("api"),
            pl.col("payment_key").alias("key"),
            "creditor",
            _payment_payload(str(api)).alias("payload"),
            "amount_minor", "currency", "source_file", "source_line", "reference", "invoice_number",
        ))
    return pl.concat(frames) if frames else pl.DataFrame()


def plan_items(config: Config, invoices: pl.DataFrame, payments: pl.DataFrame,
               lines: pl.DataFrame | None = None) -> pl.DataFrame:
    """PLANNED_SCHEMA rows: ARM documents for valid invoices, one delivery per matched incoming payment (per invoice
    for a multi-invoice payment: `per_invoice`).

    `invoices`: valid invoices of this run with `creditor`. `payments`: matched payments to send, with
    creditor, invoice_number, payment_key and the canonical payment columns. `lines`: the invoice_lines rows
    of line-level exports (source_file, invoice_line, ...), sent as the documents' documentLines.
    """
    routes = _routes(config)
    parts = []
    if invoices.height:
        inv = invoices.join(routes, on="creditor", how="inner").filter(pl.col("_invoices_api").is_not_null())
        if inv.height:
            parts.append(_documents(inv, lines))
    if payments.height:
        pays = payments.join(routes, on="creditor", how="inner")
        if "target" in pays.columns:  # routed by etl/match/route.py: the plan does not decide again
            pays = pays.with_columns(pl.col("target").alias("_payments_api"))
        pays = per_invoice(pays.filter(pl.col("_payments_api").is_not_null()))
        if pays.height:
            parts.append(_payments(pays))
    if not parts:
        return pl.DataFrame(schema=PLANNED_SCHEMA)
    planned = pl.concat(parts, how="vertical_relaxed").with_columns(
        plh.col("payload").chash.sha2_256().alias("payload_hash"))
    return planned.select([pl.col(c).cast(t) for c, t in PLANNED_SCHEMA.items()])
