"""Corroboration of invoice numbers found in free text: a number alone is noise until a second fact agrees.

A transfer text is written by the payer (or the payer's bank) and is full of numbers: order numbers, "ref 123456",
phone numbers, dates. One of them equalling an invoice number says little on a file of 300,000 payments. A free-text
candidate (`message~invoice_number`) therefore stands only when one of these agrees as well (docs/matching.md):

- `amount=outstanding`: the payment is exactly what is open on the invoice (and something is open);
- `payer_name~customer_name`: the payer's name is like the invoice's customer name (token Jaccard >= the creditor's
  `name_similarity`, as in the amount + name rule);
- `message~customer_name`: every word of the customer's name is in the text;
- `message~customer_number`: the invoice's customer number is a token of the text;
- `amount=sum(open items)`: the text names two or more open invoices of one customer whose open amounts sum exactly
  to the payment (the multi-invoice case, where no single invoice's amount can agree).

Everything is column expressions over the candidate pairs (a few percent of the payments): no per-row Python.
"""

from __future__ import annotations

import polars as pl

from etl.match.text import GENERIC_TOKEN, name_tokens

__all__ = ["FREE_TEXT_FIELD", "corroborated"]

FREE_TEXT_FIELD = "message~invoice_number"

_SUM_FIELD = "amount=sum(open items)"


def _facts(text: pl.DataFrame, pays: pl.DataFrame, inv: pl.DataFrame, cfg: pl.DataFrame) -> pl.DataFrame:
    """`text` candidates with what each corroborating fact says, as boolean columns `_by_*`."""
    ii = text.get_column("_ii")
    t = text.with_columns(inv.get_column("customer_name").gather(ii).alias("_cname")).join(
        pays.select("_order", "creditor", pl.col("amount_minor").alias("_paid"), "payer_name", "message"),
        on="_order", how="left").join(cfg.select("creditor", "_sim"), on="creditor", how="left")
    cust = name_tokens("_cname")
    payer = name_tokens("payer_name")
    words = name_tokens("message")
    shared = payer.list.set_intersection(cust).list.len()
    jaccard = shared / payer.list.set_union(cust).list.len()
    cust_len = cust.list.len()
    number = pl.col("customer_number").str.to_uppercase()
    return t.with_columns(
        ((pl.col("_paid") == pl.col("outstanding_minor")) & (pl.col("outstanding_minor") > 0)).fill_null(False)
        .alias("_by_amount"),
        (jaccard >= pl.col("_sim").fill_null(0.6)).fill_null(False).alias("_by_payer"),
        ((cust_len > 0) & (words.list.set_intersection(cust).list.len() == cust_len)).fill_null(False).alias("_by_words"),
        (pl.col("message").str.to_uppercase().str.extract_all(GENERIC_TOKEN).list.contains(number)
         & (number != pl.col("invoice_number").str.to_uppercase())).fill_null(False).alias("_by_number"),
    )


def _by_sum(t: pl.DataFrame) -> pl.DataFrame:
    """(_order, _by_sum): payments whose text names 2+ open invoices of one customer and currency summing exactly."""
    open_ = t.filter(pl.col("outstanding_minor") > 0).unique(["_order", "_ii"])
    return open_.group_by("_order").agg(
        ((pl.len() >= 2) & (pl.col("outstanding_minor").sum() == pl.col("_paid").first())
         & (pl.col("customer_number").n_unique() == 1) & (pl.col("currency").n_unique() == 1)).alias("_by_sum"))


def corroborated(cands: pl.DataFrame, pays: pl.DataFrame, inv: pl.DataFrame, cfg: pl.DataFrame) -> pl.DataFrame:
    """`cands` (from the invoice-number rule) with every free-text candidate nothing corroborates dropped, and the
    agreeing facts added to each kept one's `field` ('message~invoice_number, amount=outstanding').

    Structured candidates (camt RfrdDocInf, BgMax references) pass as they are. `pays` carries _order, creditor,
    amount_minor, payer_name, message; `inv` customer_name by row id `_ii`; `cfg` the creditors' `_sim`.
    """
    free = pl.col("field") == FREE_TEXT_FIELD
    text = cands.filter(free)
    if text.height == 0:
        return cands
    t = _facts(text, pays, inv, cfg)
    t = t.join(_by_sum(t), on="_order", how="left").with_columns(
        (pl.col("_by_sum").fill_null(False) & (pl.col("outstanding_minor") > 0)).alias("_by_sum"))
    reasons = [("_by_amount", "amount=outstanding"), ("_by_payer", "payer_name~customer_name"),
               ("_by_words", "message~customer_name"), ("_by_number", "message~customer_number"),
               ("_by_sum", _SUM_FIELD)]
    why = pl.concat_str([pl.when(pl.col(flag)).then(pl.lit(", " + label)) for flag, label in reasons],
                        ignore_nulls=True)
    kept = t.filter(pl.any_horizontal(*[pl.col(flag) for flag, _ in reasons])).with_columns(
        (pl.col("field") + why).alias("field")).select(cands.columns)
    return pl.concat([cands.filter(~free), kept])
