"""The payer's breakdown: a payment whose remittance names several invoices, each with its amount, is decided by it.

A camt.054 `Strd` per invoice with its `RfrdDocAmt` (or BgMax TK22/TK23 with amounts) is the payer saying which
invoice gets what. After the rules (etl/match/rules.py), every payment with two or more items with an amount
(`extra_references` / `extra_reference_amounts`) is decided here, by its items alone (docs/matching.md):

- each item's reference names exactly one open invoice of the creditor (its KID, else its invoice number) and the
  items' signed amounts sum to the payment: `multi_invoice` with the payer's amounts as the allocations, and the
  payer's reference of each invoice beside them (`_split_refs`: the plan derives each delivery's key from it);
- the items do not sum to the payment, an item names no open invoice (or several), or credit notes are netted off
  two or more invoices (which invoice a credit note reduces is not said): `ambiguous`, not split, left for a person,
  the reason in the evidence;
- no item names an open invoice: the rules' decision stands (usually `none`).
"""

from __future__ import annotations

import polars as pl

from etl.match.text import reference_key

__all__ = ["apply_breakdowns", "SPLIT_REFS"]

SPLIT_REFS = "_split_refs"  # List(String): the payer's reference of each allocation (null: not the payer's split)
_ALLOC = pl.List(pl.Struct({"invoice_number": pl.String(), "amount_minor": pl.Int64()}))


def _items(payments: pl.DataFrame) -> pl.DataFrame:
    """(_order, creditor, _pos, ref, amount) per item with an amount of every payment with two or more of them."""
    if "extra_reference_amounts" not in payments.columns:
        return pl.DataFrame(schema={"_order": pl.UInt32, "creditor": pl.String, "_pos": pl.UInt32, "ref": pl.String,
                                    "amount": pl.Int64})
    refs, amounts = pl.col("extra_references").str.split(";"), pl.col("extra_reference_amounts").str.split(";")
    items = (
        payments.with_row_index("_order")
        .filter(pl.col("extra_reference_amounts").is_not_null() & (refs.list.len() == amounts.list.len()))
        .select("_order", "creditor", refs.alias("ref"), amounts.alias("amount"))
        .explode("ref", "amount")
        .with_columns(pl.col("amount").cast(pl.Int64, strict=False))
        .filter(pl.col("amount").is_not_null() & (pl.col("amount") != 0))
        .with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).over("_order").alias("_pos"))
    )
    return items.filter(pl.len().over("_order") >= 2)


def _resolved(items: pl.DataFrame, invoices: pl.DataFrame) -> pl.DataFrame:
    """Each item with the one open invoice its reference names (KID first, else invoice number); null when none or
    several."""
    inv = invoices.select(pl.col("creditor", "invoice_number", "kid", "currency").cast(pl.String),
                          pl.col("outstanding_minor").cast(pl.Int64))
    key = items.with_columns(reference_key("ref").alias("_k"))
    by_kid = key.join(inv.filter(pl.col("kid").is_not_null()).with_columns(reference_key("kid").alias("_k")),
                      on=["creditor", "_k"])
    by_number = key.join(inv.with_columns(pl.col("invoice_number").str.to_uppercase().alias("_k")), on=["creditor", "_k"])
    # A KID decides; the invoice number only for items no KID names.
    hits = pl.concat([by_kid, by_number.join(by_kid.select("_order", "_pos"), on=["_order", "_pos"], how="anti")])
    hits = hits.unique(["_order", "_pos", "invoice_number"]).filter(pl.len().over("_order", "_pos") == 1)
    return items.join(hits.select("_order", "_pos", "invoice_number", "outstanding_minor", "currency"),
                      on=["_order", "_pos"], how="left").sort("_order", "_pos")


def _decisions(items: pl.DataFrame, payments: pl.DataFrame) -> pl.DataFrame:
    """Per payment with a breakdown naming at least one open invoice: the decision's columns (see the module doc)."""
    paid = payments.with_row_index("_order").select("_order", pl.col("amount_minor").alias("_paid"),
                                                    pl.col("currency").alias("_pcur"))
    amount = pl.col("amount")
    per_invoice = items.filter(pl.col("invoice_number").is_not_null()).group_by(
        "_order", "invoice_number", maintain_order=True).agg(
        amount.sum(), pl.col("ref").first(), pl.col("outstanding_minor").first(), pl.col("currency").first()
    ).join(paid, on="_order").with_columns(
        (amount > 0).sum().over("_order").alias("_pos"),
        pl.when(amount < 0).then(amount).otherwise(0).sum().over("_order").alias("_credits"),
    ).with_columns(
        # One invoice to pay beside credit notes or the payer's own deductions: it gets what the money left for it
        # (the allocations then sum to the payment).
        pl.when((pl.col("_pos") == 1) & (amount > 0)).then(pl.col("_paid") - pl.col("_credits")).otherwise(amount)
        .alias("amount"),
    ).with_columns(pl.struct(pl.col("invoice_number"), pl.col("amount").alias("amount_minor")).alias("_alloc"))
    g = items.group_by("_order", maintain_order=True).agg(
        pl.col("invoice_number").is_not_null().sum().alias("_found"), amount.sum().alias("_sum"),
        pl.col("ref").filter(pl.col("invoice_number").is_null() & (amount > 0)).first().alias("_unknown"),
        (amount < 0).sum().alias("_neg"), pl.col("ref").str.join(", ").alias("_refs"),
    ).join(per_invoice.group_by("_order", maintain_order=True).agg(
        pl.col("invoice_number").alias("_nums"), pl.col("_alloc"), pl.col("ref").alias(SPLIT_REFS),
        pl.col("invoice_number").filter(amount > 0).first().alias("_first"), pl.col("_pos").first(),
        pl.col("outstanding_minor").sum().alias("_open"), pl.col("currency").first().alias("_icur"),
        pl.col("currency").n_unique().alias("_ncur"),
    ), on="_order").join(paid, on="_order")
    sums = pl.col("_sum") == pl.col("_paid")
    # Decided here when the breakdown says more than the rules can: two or more invoices, an item naming none, or a
    # breakdown that does not add up. One invoice (with deductions that name none) is the rules' single match.
    g = g.filter((pl.col("_found") > 0) & ((pl.col("_nums").list.len() > 1) | pl.col("_unknown").is_not_null() | ~sums))
    sums = pl.col("_sum") == pl.col("_paid")
    why = (
        pl.when(~sums).then(pl.lit("the payer's breakdown (") + pl.col("_refs") + ") sums to "
                            + _money(pl.col("_sum")) + ", the payment is " + _money(pl.col("_paid")))
        .when(pl.col("_unknown").is_not_null()).then(pl.lit("the payer's breakdown names ") + pl.col("_unknown")
                                                     + ", no open invoice (or several)")
        .when(pl.col("_pos") == 0).then(pl.lit("the payer's breakdown names no invoice to pay"))
        .when((pl.col("_neg") > 0) & (pl.col("_pos") > 1)).then(pl.lit(
            "the payer netted a credit note off several invoices; which one it reduces is not said"))
        .when(pl.col("_ncur") > 1).then(pl.lit("the invoices named are in several currencies"))
    )
    nums = pl.col("_nums").list.join(", ")
    decided = why.is_null()
    return g.with_columns(why.alias("_why")).select(
        "_order",
        pl.when(decided).then(pl.lit("multi_invoice")).otherwise(pl.lit("ambiguous")).alias("rule"),
        pl.when(decided).then(pl.col("_first")).alias("invoice_number"),
        pl.when(decided).then(nums).alias("invoice_numbers"),
        pl.when(~decided).then(nums).alias("candidates"),
        pl.lit(None, pl.Int64).alias("invoice_amount_minor"),
        pl.when(decided).then(pl.col("_open")).alias("outstanding_minor"),
        pl.when(decided).then(pl.col("_icur")).alias("invoice_currency"),
        pl.lit("payer's breakdown: reference=kid|invoice_number, amount each").alias("fields"),
        pl.when(decided).then(pl.lit(1.0)).alias("score"),
        pl.when(decided).then(pl.lit("the payer's remittance names each invoice with its amount; they sum to the payment"))
        .otherwise(pl.col("_why") + pl.lit(": not split, left for a person")).alias("evidence"),
        pl.when(decided).then(pl.col("_alloc")).cast(_ALLOC).alias("_multi"),
        pl.when(decided).then(pl.col(SPLIT_REFS)).alias(SPLIT_REFS),
    )


def _money(minor: pl.Expr) -> pl.Expr:
    """Minor units as '1234.50' text (for the evidence)."""
    a = minor.abs()
    return (pl.when(minor < 0).then(pl.lit("-")).otherwise(pl.lit("")) + (a // 100).cast(pl.String) + "."
            + (a % 100).cast(pl.String).str.zfill(2))


def apply_breakdowns(found: pl.DataFrame, payments: pl.DataFrame, invoices: pl.DataFrame) -> pl.DataFrame:
    """`found` (match_payments' answer for `payments`, one row each in order) with the payer's breakdowns decided and
    a `_split_refs` column; `invoices`: the open invoices the rules saw."""
    out = found.with_columns(pl.lit(None, pl.List(pl.String)).alias(SPLIT_REFS))
    items = _items(payments)
    decisions = _decisions(_resolved(items, invoices), payments) if items.height and invoices.height else None
    if decisions is not None and decisions.height:
        out = _replace(out, decisions)
    return _netted_off_several(out)


def _netted_off_several(out: pl.DataFrame) -> pl.DataFrame:
    """A multi-invoice match whose allocations hold a credit note and two or more invoices: `ambiguous` (which invoice
    the credit note reduces is not said, and no API takes a negative payment)."""
    amounts = pl.col("_multi").list.eval(pl.element().struct.field("amount_minor"))
    netted = (pl.col("rule") == "multi_invoice") & (amounts.list.min() < 0) & (
        amounts.list.eval((pl.element() > 0).cast(pl.Int32)).list.sum() > 1)
    if not out.select(netted.any()).item():
        return out
    return out.with_columns(
        pl.when(netted).then(pl.lit("ambiguous")).otherwise(pl.col("rule")).alias("rule"),
        pl.when(netted).then(pl.col("invoice_numbers")).otherwise(pl.col("candidates")).alias("candidates"),
        pl.when(netted).then(pl.col("evidence") + pl.lit(
            "; but a credit note is netted off several invoices and which one it reduces is not said: "
            "not split, left for a person")).otherwise(pl.col("evidence")).alias("evidence"),
        *[pl.when(netted).then(None).otherwise(pl.col(c)).alias(c)
          for c in ("invoice_number", "invoice_numbers", "outstanding_minor", "invoice_currency", "_multi", SPLIT_REFS)],
    )


def _replace(out: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """`out` with the rows of `decisions` (by `_order`, the row number) put in place of the rules' decisions."""
    cols = [c for c in decisions.columns if c != "_order"]
    new = decisions.with_columns(pl.lit(True).alias("_hit")).rename({c: c + "_new" for c in cols})
    joined = out.with_row_index("_order").join(new.with_columns(pl.col("_order").cast(pl.UInt32)), on="_order",
                                               how="left", maintain_order="left")
    hit = pl.col("_hit").fill_null(False)
    return joined.with_columns(
        pl.when(hit).then(pl.col(c + "_new").cast(out.schema[c])).otherwise(pl.col(c)).alias(c) for c in cols
    ).select(out.columns)
