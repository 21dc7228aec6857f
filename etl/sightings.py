"""One payment, two formats: the same payment seen in BgMax or OCR giro and again in camt (docs/formats.md).

Each format keys a payment its own way (BGC serial, Nets archive reference, camt AcctSvcrRef), so the stable key
alone never tells that a camt.054 transaction is a BgMax payment already seen. After the key check
(pipeline._mark_duplicates), every live incoming payment of the run is compared with the live payments seen before
it in **another** of the formats that carry the same payments (camt.053/054 against BgMax, OCR giro and each
other), in this run (earlier in file order) or in any earlier run whose work counts (not a dry run), for the same
creditor (else account), currency and amount:

- **certain**: both carry a bank reference and they are the same (leading zeros and spaces aside), booked within
  `_DAYS` days of each other: `duplicate_of` = the first sighting, never sent;
- **probable**: the same booking date and reference (both without one counts as the same), and the bank references
  do not settle it (one has none, or they differ: banks do not all put the same reference in camt): `duplicate_of`
  says it is only probable; held for a person, not sent.

Either way the row is reported `duplicate_payment` with the first sighting and why. Whichever file comes first,
the second sighting is the duplicate.
"""

from __future__ import annotations

import polars as pl

from etl.reconcile.period import create_work_runs_view
from etl.store import Store

__all__ = ["mark_other_format_sightings", "SAME_PAYMENT_FORMATS"]

# Formats that carry the same incoming payments in another shape (a Swedish bank's camt.054 and Bankgirot's BgMax,
# a Norwegian bank's camt.054 and Nets' OCR giro). Bank CSV exports and MT940 are left out: they show a KID
# agreement's payments as one lump line, which never is one of the payments.
SAME_PAYMENT_FORMATS = ("bgmax", "ocr_giro", "camt054", "camt053")
_CAMT = ("camt054", "camt053")
_DAYS = 7  # a deposit's payment date (BgMax) and the bank's booking date (camt) may be a few bank days apart

_EARLIER_SQL = """
SELECT p.payment_key, p.source_file, p.source_line, p.format, coalesce(p.creditor, p.account) AS _party,
       p.currency, p.amount_minor, p.booking_date, p.reference, p.bank_ref, p.run_id, p.payment_no
FROM payments p
SEMI JOIN _wanted w ON w._party = coalesce(p.creditor, p.account) AND w.amount_minor = p.amount_minor
WHERE p.run_id <> $run_id AND p.run_id IN (SELECT run_id FROM work_runs)
  AND NOT p.held_back AND p.duplicate_of IS NULL AND p.amount_minor > 0
  AND list_contains($formats, p.format)
ORDER BY p.run_id, p.payment_no
"""
_CAMT_SEEN_SQL = """
SELECT EXISTS (SELECT 1 FROM payments WHERE run_id <> $run_id AND run_id IN (SELECT run_id FROM work_runs)
               AND format IN ('camt054', 'camt053') AND NOT held_back AND duplicate_of IS NULL AND amount_minor > 0)
"""


def _norm(col: str) -> pl.Expr:
    """A reference as compared: no spaces, upper case, leading zeros dropped (a BGC serial is zero-padded in BgMax)."""
    text = pl.col(col).cast(pl.String).str.replace_all(r"\s", "").str.to_uppercase().str.strip_chars_start("0")
    return pl.when(text != "").then(text)


def _sightings(pays: pl.DataFrame) -> pl.DataFrame:
    """The comparable columns of `pays`, one row each, `_i` its position."""
    return pays.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_i"),
        pl.coalesce(pl.col("creditor"), pl.col("account")).alias("_party"),
        "payment_key", "format", "currency", "amount_minor", "booking_date",
        _norm("reference").alias("_ref"), _norm("bank_ref").alias("_bank"),
        (pl.col("source_file") + ":" + pl.col("source_line").cast(pl.String)).alias("_where"),
    )


def _first_sighting(cands: pl.DataFrame) -> pl.DataFrame:
    """Per later row (`_i`): the earliest certain sighting, else the earliest probable one, with the reason."""
    same_bank = pl.col("_bank").is_not_null() & (pl.col("_bank") == pl.col("_bank_e"))
    days = (pl.col("booking_date") - pl.col("booking_date_e")).dt.total_days().abs()
    certain = same_bank & (days <= _DAYS)
    probable = (pl.col("booking_date") == pl.col("booking_date_e")) & pl.col("_ref").eq_missing(pl.col("_ref_e"))
    found = cands.with_columns(certain.alias("_certain"), probable.alias("_probable")).filter(
        pl.col("_certain") | pl.col("_probable"))
    return found.sort("_i", "_certain", "_rank", descending=[False, True, False]).unique("_i", keep="first").select(
        "_i",
        pl.when(pl.col("_certain")).then(
            pl.col("_where_e") + " (" + pl.col("format_e") + ", the same bank reference " + pl.col("_bank")
            + "): not sent again")
        .otherwise(
            pl.col("_where_e") + " (" + pl.col("format_e") + "; probably the same payment: the same account, "
            "booking date, amount and reference, and no bank reference in common): held for a person, not sent"
        ).alias("_dup"),
    )


def mark_other_format_sightings(store: Store, pays: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """`pays` (this run's payments after the key check, in run order) with `duplicate_of` set on every live incoming
    payment already seen in another format (see the module doc)."""
    live = (~pl.col("held_back")) & pl.col("duplicate_of").is_null() & (pl.col("amount_minor") > 0) & pl.col(
        "format").is_in(SAME_PAYMENT_FORMATS)
    if pays.height == 0 or not pays.select(live.any()).item():
        return pays
    # Only runs whose work counts (not dry runs, not runs that failed before sending anything) saw a payment first.
    create_work_runs_view(store)
    live_rows = pays.select(live).to_series()
    camt_here = bool(pays.filter(live_rows).get_column("format").is_in(_CAMT).any())
    if not camt_here and not store.frame(_CAMT_SEEN_SQL, {"run_id": run_id}).item():
        return pays  # no camt in this run nor before it: no payment can have come in two formats
    mine = _sightings(pays).filter(live_rows)
    # A run without camt can only repeat camt payments of earlier runs: only those are fetched.
    wanted_formats = list(SAME_PAYMENT_FORMATS if camt_here else _CAMT)
    store.con.register("_wanted", mine.select("_party", "amount_minor").unique())
    try:
        earlier = store.frame(_EARLIER_SQL, {"run_id": run_id, "formats": wanted_formats})
    finally:
        store.con.unregister("_wanted")
    earlier = _sightings(earlier.rename({"_party": "creditor"}).with_columns(pl.lit(None, pl.String).alias("account")))
    # Earlier runs first (by run, then position), then this run's rows before the row in question.
    ranked = pl.concat([
        earlier.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_rank"), pl.lit(-1, pl.Int64).alias("_i")),
        mine.with_columns((pl.col("_i") + earlier.height).alias("_rank")),
    ])
    is_camt = pl.col("format").is_in(_CAMT)
    on = ["_party", "currency", "amount_minor"]
    # Only pairs with a camt side can be the same payment in two formats: camt rows against every row, other rows
    # against camt rows (never a million OCR payments against each other).
    pairs = pl.concat([
        mine.filter(is_camt).join(ranked, on=on, suffix="_e"),
        mine.filter(~is_camt).join(ranked.filter(is_camt), on=on, suffix="_e"),
    ])
    cands = pairs.filter(
        (pl.col("format") != pl.col("format_e")) & (pl.col("payment_key") != pl.col("payment_key_e"))
        & ((pl.col("_i_e") < 0) | (pl.col("_i_e") < pl.col("_i"))))
    if cands.height == 0:
        return pays
    dup = _first_sighting(cands)
    # The earliest sighting is picked; should that be a row this run marks too, the payment's first live sighting is
    # still sent once and every later one is not.
    marks = pl.Series("duplicate_of", [None] * pays.height, dtype=pl.String).scatter(
        dup.get_column("_i"), dup.get_column("_dup"))
    return pays.with_columns(pl.coalesce(pl.col("duplicate_of"), marks).alias("duplicate_of"))
