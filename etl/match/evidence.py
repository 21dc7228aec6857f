"""Corroboration of invoice numbers found in free text: a number alone is noise until a second fact agrees.

A transfer text is written by the payer (or the payer's bank) and is full of numbers: order numbers, "ref 123456",
phone numbers, dates. One of them equalling an invoice number says little on a file of 300,000 payments. A free-text
candidate (`message~invoice_number`) therefore stands only when one of these agrees as well (docs/matching.md):

- `amount=outstanding`: the payment is exactly what is open on the invoice (and something is open);
- `payer_name~customer_name`: the payer's name is the customer's name (the same words in any order; legal forms
  such as AS/AB and initials ignored: "HANSEN OLA K" is "Ola Hansen");
- `message~customer_name`: every word of the customer's name is in the text;
  a name two or more of the creditor's customers bear corroborates nothing ("Ola Hansen" is not one person), and a
  name merely like the customer's does not either (that fuzziness is the amount + name rule's, with its own checks);
- `message~customer_number`: the invoice's customer number is a token of the text;
- `amount=sum(open items)`: the text names two or more open invoices of one customer whose open amounts sum exactly
  to the payment (the multi-invoice case, where no single invoice's amount can agree).

A number nothing corroborates never decides a match: alone it is dropped (the payment goes on to the next rules, or
stays unmatched); two or more of them alone in a payment are kept as the candidates of an `ambiguous` payment.

Everything is column expressions over the candidate pairs (a few percent of the payments): no per-row Python.
"""

from __future__ import annotations

import polars as pl

from etl.match.text import GENERIC_TOKEN, NOISE, name_tokens

__all__ = ["FREE_TEXT_FIELD", "corroborated"]

FREE_TEXT_FIELD = "message~invoice_number"


def _plain_name() -> pl.Expr:
    """A customer name as its own export writes it, compared without case or surrounding blanks."""
    return pl.col("customer_name").str.to_lowercase().str.strip_chars()


def _one_owner(t: pl.DataFrame, inv: pl.DataFrame) -> pl.DataFrame:
    """(creditor, _cname, _one): for the candidates' customer names, whether one customer of the creditor bears that
    name (an export writes one name one way: compared without case)."""
    names = t.select("creditor", pl.col("_cname").alias("customer_name")).drop_nulls().unique().with_columns(
        _plain_name().alias("_plain"))
    owners = inv.select("creditor", "customer_number", _plain_name().alias("_plain")).join(
        names.select("creditor", "_plain").unique(), on=["creditor", "_plain"], how="semi")
    one = owners.group_by("creditor", "_plain").agg((pl.col("customer_number").n_unique() == 1).alias("_one"))
    return names.join(one, on=["creditor", "_plain"], how="left").select(
        "creditor", pl.col("customer_name").alias("_cname"), "_one")


_SUM_FIELD = "amount=sum(open items)"


def _facts(text: pl.DataFrame, pays: pl.DataFrame, inv: pl.DataFrame) -> pl.DataFrame:
    """`text` candidates with what each corroborating fact says, as boolean columns `_by_*`.

    The amount and the customer number are plain comparisons; names need their words, so they are looked at only
    for candidates neither corroborates (and the text only where it holds the customer name's first word at all).
    """
    ii = text.get_column("_ii")
    number = pl.col("customer_number").str.to_uppercase()
    t = text.with_columns(inv.get_column("customer_name").gather(ii).alias("_cname")).join(
        pays.select("_order", "creditor", pl.col("amount_minor").alias("_paid"), "payer_name", "message"),
        on="_order", how="left").with_row_index("_row").with_columns(
        ((pl.col("_paid") == pl.col("outstanding_minor")) & (pl.col("outstanding_minor") > 0)).fill_null(False)
        .alias("_by_amount"),
        (pl.col("message").str.to_uppercase().str.extract_all(GENERIC_TOKEN).list.contains(number)
         & (number != pl.col("invoice_number").str.to_uppercase())).fill_null(False).alias("_by_number"),
    )
    # A cheap first look: a name can agree only where the customer name's first word is there at all (a legal form
    # such as AS, which the comparison ignores, lets the row through).
    first = pl.col("_cname").str.to_lowercase().str.extract(r"([\p{L}\p{N}]{2,})")
    noise = first.is_in(list(NOISE))
    in_payer = noise | pl.col("payer_name").str.to_lowercase().str.contains(first, literal=True)
    in_text = noise | pl.col("message").str.to_lowercase().str.contains(first, literal=True)
    open_question = ~pl.col("_by_amount") & ~pl.col("_by_number") & pl.col("_cname").is_not_null()
    names = t.filter(open_question & (in_payer.fill_null(False) | in_text.fill_null(False)))
    cust, payer = name_tokens("_cname"), name_tokens("payer_name")
    n_cust = cust.list.len()
    names = names.select(
        "_row", "creditor", "_cname",
        # The same words (both lists hold each word once): as many shared as either has.
        ((n_cust > 0) & (payer.list.len() == n_cust) & (payer.list.set_intersection(cust).list.len() == n_cust))
        .fill_null(False).alias("_by_payer"),
        ((n_cust > 0) & (name_tokens("message").list.set_intersection(cust).list.len() == n_cust))
        .fill_null(False).alias("_by_words"),
    ).filter(pl.col("_by_payer") | pl.col("_by_words"))
    if names.height:
        # A name corroborates only when one customer bears it.
        one = _one_owner(names, inv)
        names = names.join(one, on=["creditor", "_cname"], how="left").select(
            "_row", *[(pl.col(c) & pl.col("_one").fill_null(False)).alias(c) for c in ("_by_payer", "_by_words")])
    t = t.join(names.select("_row", "_by_payer", "_by_words"), on="_row", how="left", maintain_order="left")
    return t.with_columns(pl.col("_by_payer").fill_null(False), pl.col("_by_words").fill_null(False))


def _by_sum(t: pl.DataFrame) -> pl.DataFrame:
    """(_order, _by_sum): payments whose text names 2+ open invoices of one customer and currency summing exactly."""
    open_ = t.filter(pl.col("outstanding_minor") > 0).unique(["_order", "_ii"])
    return open_.group_by("_order").agg(
        ((pl.len() >= 2) & (pl.col("outstanding_minor").sum() == pl.col("_paid").first())
         & (pl.col("customer_number").n_unique() == 1) & (pl.col("currency").n_unique() == 1)).alias("_by_sum"))


def corroborated(cands: pl.DataFrame, pays: pl.DataFrame, inv: pl.DataFrame,
                 field: str = FREE_TEXT_FIELD) -> pl.DataFrame:
    """`cands` with every free-text candidate (`field`) nothing corroborates dropped, and the agreeing facts added to
    each kept one's `field` ('message~invoice_number, amount=outstanding').

    Structured candidates (camt RfrdDocInf, BgMax references) pass as they are. `pays` carries _order, creditor,
    amount_minor, payer_name, message; `inv` (row id `_ii`) creditor, customer_number, customer_name.
    """
    free = pl.col("field") == field
    text = cands.filter(free)
    if text.height == 0:
        return cands
    t = _facts(text, pays, inv)
    t = t.join(_by_sum(t), on="_order", how="left").with_columns(
        (pl.col("_by_sum").fill_null(False) & (pl.col("outstanding_minor") > 0)).alias("_by_sum"))
    reasons = [("_by_amount", "amount=outstanding"), ("_by_payer", "payer_name~customer_name"),
               ("_by_words", "message~customer_name"), ("_by_number", "message~customer_number"),
               ("_by_sum", _SUM_FIELD)]
    why = pl.concat_str([pl.when(pl.col(flag)).then(pl.lit(", " + label)) for flag, label in reasons],
                        ignore_nulls=True)
    any_reason = pl.any_horizontal(*[pl.col(flag) for flag, _ in reasons])
    is_open = pl.col("outstanding_minor") > 0
    # An invoice with nothing open beside a corroborated open one the text names too is not what the payment pays:
    # dropped, so it never becomes the invoice (or part) a payment is delivered to. Alone, it stays: the payment is
    # then an overpayment on it, not sent (route.py).
    corroborated_rows = t.filter(any_reason & (is_open | ~(any_reason & is_open).any().over("_order")))
    # Numbers nothing corroborates never decide a match. Two or more of them, alone in the payment (no corroborated or
    # structured candidate beside them: "Faktura 100017 og 100018" for neither amount), still say the payer meant
    # invoices: they are kept as the candidates of an `ambiguous` payment, for a person. One alone is dropped, and so
    # are several whose open amounts would sum to the payment after all (with a credit note or a paid invoice among
    # them): they must not decide a multi-invoice match that nothing corroborated.
    structured = cands.filter(~free).get_column("_order").unique().implode()
    sets = t.unique(["_order", "_ii"]).group_by("_order").agg(
        (pl.len() >= 2).alias("_several"),
        ((pl.col("outstanding_minor").sum() == pl.col("_paid").first()) & (pl.col("customer_number").n_unique() <= 1)
         & (pl.col("currency").n_unique() == 1)).alias("_sums"))
    alone = t.join(sets, on="_order").filter(
        ~any_reason.any().over("_order") & ~pl.col("_order").is_in(structured) & pl.col("_several") & ~pl.col("_sums"))
    kept = pl.concat([corroborated_rows, alone.select(t.columns)]).with_columns(
        (pl.col("field") + why).alias("field")).select(cands.columns)
    return pl.concat([cands.filter(~free), kept])
