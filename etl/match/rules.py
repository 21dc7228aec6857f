"""The matching rules, vectorised in polars, each decision kept with its evidence.

Order (first decisive rule wins):
1. `reference`: the payment's structured reference (KID / OCR) equals an open invoice's KID.
2. `invoice_number`: a token of the payment's free text equals an open invoice's number.
A rule that finds more than one candidate is decisive too: `ambiguous`, with the candidates listed, never guessed.
Payments no rule matches get rule `none`.
"""

from __future__ import annotations

import polars as pl

__all__ = ["MATCH_SCHEMA", "match_payments"]

MATCH_SCHEMA: dict[str, pl.DataType] = {
    "payment_key": pl.String(),
    "creditor": pl.String(),
    "rule": pl.String(),  # reference | invoice_number | ambiguous | none
    "invoice_number": pl.String(),
    "candidates": pl.String(),
    "invoice_amount_minor": pl.Int64(),
    "outstanding_minor": pl.Int64(),
    "invoice_currency": pl.String(),
    "evidence": pl.String(),
}

# Tokens of free text that may be invoice numbers: letters, digits and inner dashes/slashes.
_TOKEN = r"[0-9A-Za-z][0-9A-Za-z/-]*[0-9A-Za-z]|[0-9A-Za-z]"


def _decide(cands: pl.DataFrame, rule: str, evidence: str) -> pl.DataFrame:
    """One row per payment from (payment_key, creditor, invoice columns) candidates: a match or ambiguous."""
    grouped = cands.group_by("payment_key", "creditor", maintain_order=True).agg(
        pl.col("invoice_number").unique(maintain_order=True).alias("_nums"),
        pl.col("amount_minor").first().alias("invoice_amount_minor"),
        pl.col("outstanding_minor").first(),
        pl.col("currency").first().alias("invoice_currency"),
    )
    single = pl.col("_nums").list.len() == 1
    return grouped.select(
        "payment_key",
        "creditor",
        pl.when(single).then(pl.lit(rule)).otherwise(pl.lit("ambiguous")).alias("rule"),
        pl.when(single).then(pl.col("_nums").list.first()).alias("invoice_number"),
        pl.when(~single).then(pl.col("_nums").list.sort().list.join(", ")).alias("candidates"),
        pl.when(single).then(pl.col("invoice_amount_minor")).alias("invoice_amount_minor"),
        pl.when(single).then(pl.col("outstanding_minor")).alias("outstanding_minor"),
        pl.when(single).then(pl.col("invoice_currency")).alias("invoice_currency"),
        pl.when(single)
        .then(pl.lit(evidence))
        .otherwise(pl.lit(f"{rule}: several open invoices fit"))
        .alias("evidence"),
    )


def match_payments(payments: pl.DataFrame, invoices: pl.DataFrame) -> pl.DataFrame:
    """Decide every payment: MATCH_SCHEMA rows, one per payment, in the payments' order.

    `payments`: payment_key, creditor, reference, message (others ignored).
    `invoices`: creditor, invoice_number, kid, amount_minor, outstanding_minor, currency (open invoices).
    """
    text = ("creditor", "invoice_number", "kid", "currency")
    inv = invoices.select(
        *(pl.col(c).cast(pl.String) for c in text[:3]), "amount_minor", "outstanding_minor", pl.col("currency").cast(pl.String)
    )
    pays = payments.select(pl.col(c).cast(pl.String) for c in ("payment_key", "creditor", "reference", "message"))

    by_ref = pays.filter(pl.col("reference").is_not_null()).join(
        inv.filter(pl.col("kid").is_not_null()),
        left_on=["creditor", "reference"],
        right_on=["creditor", "kid"],
        how="inner",
    )
    decided = _decide(by_ref, "reference", "reference = invoice KID")

    rest = pays.join(decided.select("payment_key"), on="payment_key", how="anti")
    tokens = (
        rest.filter(pl.col("message").is_not_null())
        .select("payment_key", "creditor", pl.col("message").str.extract_all(_TOKEN).alias("token"))
        .explode("token")
        .unique()
    )
    by_number = tokens.join(
        inv, left_on=["creditor", "token"], right_on=["creditor", "invoice_number"], how="inner"
    ).with_columns(pl.col("token").alias("invoice_number"))
    decided_num = _decide(by_number, "invoice_number", "invoice number found in the payment text")

    all_decided = pl.concat([decided, decided_num], how="vertical_relaxed")
    unmatched = pays.join(all_decided.select("payment_key"), on="payment_key", how="anti").select(
        "payment_key", "creditor", pl.lit("none").alias("rule")
    )
    out = pl.concat([all_decided, unmatched], how="diagonal_relaxed")
    order = pays.select("payment_key").with_row_index("_order")
    return (
        out.join(order, on="payment_key", how="left")
        .sort("_order")
        .drop("_order")
        .select([pl.col(c).cast(t) for c, t in MATCH_SCHEMA.items()])
    )
