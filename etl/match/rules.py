"""The matching rules, vectorised in polars, each decision kept with its evidence (docs/matching.md).

Order (the first decisive rule wins; a rule that finds several equally good candidates is decisive too:
`ambiguous`, with the candidates listed, never guessed):
1. `reference`: the payment's structured reference (KID, Swedish OCR, the body of an RF reference) or one of its
   extra references equals an invoice's KID exactly; failing that, a number in the free text that passes the
   creditor's `reference_check` equals an open invoice's KID (no word "KID" needed: `message~kid`).
2. `invoice_number`: an extra reference (camt RfrdDocInf, BgMax TK22) or a token of the free text equals an invoice
   number (tokens must fit the creditor's `invoice_number_pattern` when one is configured); a free-text token only
   with corroboration (evidence.py: the exact open amount, the payer's name, the customer number).
   Rules 1 and 2 naming several invoices of one customer whose open amounts sum exactly to the payment:
   `multi_invoice`.
3. `amount_name`: one open invoice in the payment's currency whose open amount is within the creditor's tolerance
   (absolute or relative), whose dates fit the window, and whose customer name is similar enough to the payer's.
4. `multi_invoice` (subset): the payer's name points at exactly one customer, and exactly one set of 2..k of that
   customer's open items (credit notes count negative) sums to the payment; a bounded search over that small set.
Payments no rule decides get rule `none`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from itertools import combinations

import numpy as np
import polars as pl

from etl.config import MatchingConfig
from etl.match.evidence import corroborated
from etl.match.text import GENERIC_TOKEN, name_tokens, reference_key, rf_body
from etl.refs import reference_valid_expr

__all__ = ["MATCH_SCHEMA", "ALLOCATION_SCHEMA", "MATCHED_RULES", "match_payments", "allocations"]

MATCHED_RULES = ("reference", "invoice_number", "multi_invoice", "amount_name")

MATCH_SCHEMA: dict[str, pl.DataType] = {
    "payment_key": pl.String(),
    "creditor": pl.String(),
    "rule": pl.String(),  # reference | invoice_number | multi_invoice | amount_name | ambiguous | none
    "invoice_number": pl.String(),  # the invoice (the first one for multi_invoice)
    "invoice_numbers": pl.String(),  # every invoice the payment covers, ', ' joined
    "candidates": pl.String(),  # ambiguous: the candidates ('a, b' or, for sets, 'a+b | c+d')
    "invoice_amount_minor": pl.Int64(),
    "outstanding_minor": pl.Int64(),  # open before this payment (earlier runs and earlier payments of this run)
    "invoice_currency": pl.String(),
    "evidence": pl.String(),  # a sentence for people
    "fields": pl.String(),  # which fields agreed, e.g. 'reference=kid' or 'amount~outstanding, payer_name~customer_name'
    "score": pl.Float64(),  # 1.0 for exact rules; the name similarity for amount_name
}

ALLOCATION_SCHEMA: dict[str, pl.DataType] = {
    "payment_key": pl.String(),
    "creditor": pl.String(),
    "invoice_number": pl.String(),
    "amount_minor": pl.Int64(),
}

_ALLOC = pl.List(pl.Struct({"invoice_number": pl.String(), "amount_minor": pl.Int64()}))
_SINGLE = ("reference", "invoice_number", "amount_name")
_TOKEN_CAP = 200  # a name token shared by more invoices than this says nothing: not used to find candidates

_EVIDENCE = {
    "reference": "structured reference equals the invoice KID",
    "text_kid": "a number in the text passes the KID check and equals the open invoice's KID",
    "invoice_number": "invoice number given in the payment",
    "multi_invoice": "one payment for several invoices of one customer; amounts sum exactly",
    "amount_name": "amount within tolerance, dates in window, payer name like the customer's",
}


def _settings_frame(creditors: list[str], settings: Mapping[str, MatchingConfig] | None,
                    checks: Mapping[str, str] | None) -> pl.DataFrame:
    """Per-creditor tolerances (and KID check) as columns, defaults where a creditor has no settings."""
    rows = []
    for c in creditors:
        m = (settings or {}).get(c) or MatchingConfig()
        rows.append({"creditor": c, "_abs_tol": m.amount_tolerance_minor, "_bp": m.amount_tolerance_bp,
                     "_window": m.date_window_days, "_sim": m.name_similarity, "_kmax": m.multi_invoice_max,
                     "_open_max": m.multi_invoice_open_max, "_pattern": m.invoice_number_pattern,
                     "_check": (checks or {}).get(c)})
    schema = {"creditor": pl.String, "_abs_tol": pl.Int64, "_bp": pl.Int64, "_window": pl.Int64, "_sim": pl.Float64,
              "_kmax": pl.Int64, "_open_max": pl.Int64, "_pattern": pl.String, "_check": pl.String}
    return pl.DataFrame(rows, schema=schema)


def _prepare(payments: pl.DataFrame, invoices: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Both sides with every column the rules use (optional ones null when absent), normalised keys, integer row ids.

    Rules join on the integer ids `_order` (payment) and `_ii` (invoice), not on strings: the hot path stays cheap.
    """
    def opt(frame: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype=dtype).alias(name)

    pays = payments.select(
        pl.col("payment_key").cast(pl.String), pl.col("creditor").cast(pl.String),
        pl.col("reference").cast(pl.String), pl.col("message").cast(pl.String),
        opt(payments, "extra_references", pl.String()), opt(payments, "extra_reference_amounts", pl.String()),
        opt(payments, "amount_minor", pl.Int64()),
        opt(payments, "currency", pl.String()), opt(payments, "booking_date", pl.Date()),
        opt(payments, "payer_name", pl.String()),
    ).with_row_index("_order")
    inv = invoices.select(
        pl.col("creditor").cast(pl.String), pl.col("invoice_number").cast(pl.String), pl.col("kid").cast(pl.String),
        pl.col("amount_minor").cast(pl.Int64), pl.col("outstanding_minor").cast(pl.Int64),
        pl.col("currency").cast(pl.String), opt(invoices, "customer_number", pl.String()),
        opt(invoices, "customer_name", pl.String()), opt(invoices, "invoice_date", pl.Date()),
        opt(invoices, "due_date", pl.Date()),
    ).with_row_index("_ii")
    return pays, inv


_INVOICE_COLS = ("_ii", "invoice_number", "amount_minor", "outstanding_minor", "currency", "customer_number")


def _repeated(ids: pl.Series) -> pl.Series:
    """True where a row id occurs more than once: counted in an array indexed by the id (ids are row numbers), which
    is many times cheaper than hashing them (`is_duplicated`)."""
    values = ids.to_numpy()
    counts = np.bincount(values) if len(values) else np.zeros(0, dtype=np.int64)
    return pl.Series("_repeated", counts[values] > 1)


def _named(cands: pl.DataFrame, pays: pl.DataFrame, single_rule: str, evidence: str | None = None) -> pl.DataFrame:
    """Decide payments from candidate invoices they name: one -> `single_rule`; several summing exactly -> multi.

    `cands`: _order, field and the invoice columns. The common case (one candidate row) takes a plain select;
    only payments with several candidate rows are aggregated. `evidence`: the sentence's key in _EVIDENCE when it is
    not the rule's own.
    """
    prefix = _EVIDENCE[evidence or single_rule] + " ("
    several = _repeated(cands.get_column("_order"))
    simple = cands.filter(~several).select(
        "_order", pl.lit(single_rule).alias("rule"), "invoice_number", pl.col("invoice_number").alias("invoice_numbers"),
        pl.col("amount_minor").alias("invoice_amount_minor"), "outstanding_minor",
        pl.col("currency").alias("invoice_currency"), pl.col("field").alias("fields"), pl.lit(1.0).alias("score"),
        (pl.lit(prefix) + pl.col("field") + ")").alias("evidence"), "_ii",
    )
    rest = cands.filter(several)
    if rest.height == 0:
        return simple
    per_invoice = rest.group_by("_order", "_ii", maintain_order=True).agg(
        pl.col("field").unique().sort().str.join(", "),
        *[pl.col(c).first() for c in _INVOICE_COLS if c != "_ii"],
    )
    g = per_invoice.group_by("_order", maintain_order=True).agg(
        pl.col("invoice_number").alias("_nums"), pl.col("_ii").first(),
        pl.col("field").str.join(", ").str.split(", ").list.unique().list.sort().list.join(", ").alias("fields"),
        pl.col("amount_minor").first().alias("invoice_amount_minor"),
        pl.col("outstanding_minor").first().alias("_first_open"),
        pl.col("outstanding_minor").sum().alias("_open_sum"),
        pl.col("currency").first().alias("invoice_currency"),
        pl.col("currency").n_unique().alias("_n_cur"),
        pl.col("customer_number").n_unique().alias("_n_cust"),
        pl.struct(pl.col("invoice_number"), pl.col("outstanding_minor").alias("amount_minor")).alias("_multi"),
    ).join(pays.select("_order", "amount_minor"), on="_order", how="left")
    n = pl.col("_nums").list.len()
    multi = (n > 1) & (pl.col("_open_sum") == pl.col("amount_minor")) & (pl.col("_n_cust") <= 1) & (pl.col("_n_cur") == 1)
    rule = pl.when(n == 1).then(pl.lit(single_rule)).when(multi).then(pl.lit("multi_invoice")).otherwise(pl.lit("ambiguous"))
    decided = pl.col("rule") != "ambiguous"
    evidence = (pl.when(pl.col("rule") == "ambiguous").then(pl.lit("several equally good candidates ("))
                .when(pl.col("rule") == "multi_invoice").then(pl.lit(_EVIDENCE["multi_invoice"] + " ("))
                .otherwise(pl.lit(prefix)) + pl.col("fields") + ")")
    agg = g.with_columns(rule.alias("rule")).select(
        "_order", "rule",
        pl.when(decided).then(pl.col("_nums").list.first()).alias("invoice_number"),
        pl.when(decided).then(pl.col("_nums").list.join(", ")).alias("invoice_numbers"),
        pl.when(~decided).then(pl.col("_nums").list.sort().list.join(", ")).alias("candidates"),
        pl.when(decided).then(pl.col("invoice_amount_minor")).alias("invoice_amount_minor"),
        pl.when(pl.col("rule") == single_rule).then(pl.col("_first_open"))
        .when(pl.col("rule") == "multi_invoice").then(pl.col("_open_sum")).alias("outstanding_minor"),
        pl.when(decided).then(pl.col("invoice_currency")).alias("invoice_currency"),
        "fields", pl.when(decided).then(pl.lit(1.0)).alias("score"), evidence.alias("evidence"),
        pl.when(pl.col("rule") == single_rule).then(pl.col("_ii")).alias("_ii"),
        pl.when(pl.col("rule") == "multi_invoice").then(pl.col("_multi")).cast(_ALLOC).alias("_multi"),
    )
    return pl.concat([simple, agg], how="diagonal_relaxed")


def _key_hash() -> pl.Expr:
    return pl.col("key").hash(7).xor(pl.col("creditor").hash(11)).alias("_h")


def _join_keys(keys: pl.DataFrame, targets: pl.DataFrame, inv: pl.DataFrame) -> pl.DataFrame:
    """keys (_order, creditor, key, field) joined to targets (creditor, key, _ii) with the invoice columns.

    Joined on a 64-bit hash of (creditor, key), then checked for equality (a collision never matches): hashing
    once beats a two-string join several times over on 1M rows.
    """
    left = keys.with_columns(_key_hash())
    right = targets.with_columns(_key_hash()).rename({"creditor": "_c", "key": "_k"})
    pairs = left.join(right, on="_h").filter((pl.col("key") == pl.col("_k")) & (pl.col("creditor") == pl.col("_c")))
    pairs = pairs.select("_order", "field", "_ii")
    # `_ii` is `inv`'s row number (see _prepare): the invoice columns are a gather, no join needed.
    return pairs.hstack(inv.select(*_INVOICE_COLS[1:])[pairs.get_column("_ii")])


def _extra_keys(pays: pl.DataFrame, field: str, *, upper: bool = False) -> pl.DataFrame:
    """(_order, creditor, key, field) per extra reference, in file order; a reference the payer deducted (its amount
    in `extra_reference_amounts` signed '-': BgMax TK23) gets the field `deduction_reference=<field>`."""
    refs = (pl.col("extra_references").str.to_uppercase() if upper else pl.col("extra_references")).str.split(";")
    amounts = pl.col("extra_reference_amounts").str.split(";")
    # No amounts (every format but BgMax) or not parallel: every reference counts as one the payment pays.
    signs = pl.when(amounts.list.len() == refs.list.len()).then(amounts).otherwise(
        refs.list.eval(pl.element().str.slice(0, 0)))
    deducted = pl.col("_sign").str.starts_with("-")
    return pays.filter(pl.col("extra_references").is_not_null()).select(
        "_order", "creditor", refs.alias("key"), signs.alias("_sign")).explode("key", "_sign").select(
        "_order", "creditor", "key", pl.when(deducted).then(pl.lit(f"deduction_reference={field}"))
        .otherwise(pl.lit(f"extra_reference={field}")).alias("field"))


def _netted_deductions(cands: pl.DataFrame, pays: pl.DataFrame) -> pl.DataFrame:
    """`cands` without invoices named only by a deduction reference: the payer netted that item off, so it is never
    the invoice the payment pays. It stays only as a credit note (open amount below 0) beside an invoice the same
    payment names otherwise: then it lowers the multi-invoice sum, as the payer did."""
    if not pays.get_column("extra_reference_amounts").str.contains("-", literal=True).any():
        return cands  # no deductions among these payments (the usual case): nothing to look at
    deduction = pl.col("field").str.starts_with("deduction_reference")
    # Per (payment, invoice): the same number also found in the payment's text is still the deducted item.
    deducted = deduction.any().over("_order", "_ii")
    return cands.filter(~deducted | ((pl.col("outstanding_minor") < 0) & (~deducted).any().over("_order")))


def _as_reference_key(frame: pl.DataFrame, column: str) -> pl.Expr:
    """`column` as text.reference_key normalises it; the column itself when nothing in it needs normalising (bank KIDs
    and OCR numbers are digits: one scan instead of rewriting a million strings twice)."""
    if frame.get_column(column).str.contains(r"[\s\u00a0\p{Ll}]").any():
        return reference_key(column)
    return pl.col(column)


def _structured_candidates(pays: pl.DataFrame, inv: pl.DataFrame) -> pl.DataFrame:
    """(payment, invoice, field) where a structured reference equals the invoice's KID."""
    with_ref = pays.filter(pl.col("reference").is_not_null())
    rf = with_ref.filter(pl.col("reference").str.contains("^(?i:rf)"))
    keys = pl.concat([
        with_ref.select("_order", "creditor", _as_reference_key(with_ref, "reference").alias("key"),
                        pl.lit("reference=kid").alias("field")),
        rf.select("_order", "creditor", rf_body("reference").alias("key"), pl.lit("reference(RF)=kid").alias("field")),
        _extra_keys(pays, "kid").with_columns(reference_key("key")),
    ]).filter(pl.col("key").is_not_null() & (pl.col("key") != ""))
    kids = inv.filter(pl.col("kid").is_not_null())
    kids = kids.select("creditor", _as_reference_key(kids, "kid").alias("key"), "_ii")
    return _netted_deductions(_join_keys(keys, kids, inv), pays)


def _number_candidates(pays: pl.DataFrame, inv: pl.DataFrame, cfg: pl.DataFrame) -> pl.DataFrame:
    """(payment, invoice, field) where an extra reference or a free-text token equals an invoice number."""
    extras = _extra_keys(pays, "invoice_number", upper=True)
    tokens = pays.filter(pl.col("message").is_not_null()).select(
        "_order", "creditor", pl.col("message").str.to_uppercase().str.extract_all(GENERIC_TOKEN).alias("key"),
        pl.lit("message~invoice_number").alias("field"),
    ).explode("key").unique(["_order", "key"], maintain_order=True)
    # The creditor's invoice-number pattern: a token counts only when it fits the pattern whole.
    fits = pl.lit(True)
    for creditor, pattern in cfg.filter(pl.col("_pattern").is_not_null()).select("creditor", "_pattern").iter_rows():
        fits = pl.when(pl.col("creditor") == creditor).then(pl.col("key").str.contains(f"(?i)^(?:{pattern})$")).otherwise(fits)
    keys = pl.concat([extras, tokens.filter(fits)]).filter(pl.col("key").is_not_null() & (pl.col("key") != ""))
    numbers = inv.select("creditor", pl.col("invoice_number").str.to_uppercase().alias("key"), "_ii")
    return corroborated(_netted_deductions(_join_keys(keys, numbers, inv), pays), pays, inv)


# Digit runs of a text that may be a KID / OCR number (2-25 digits, leading zeros kept).
_DIGIT_RUN = r"\b\d{2,25}\b"
# A bare number stands as a KID on its own only where chance would not put one there: the digit runs of this run's
# texts of a KID's length, times the creditor's open KIDs of that length / 10^length, the number of runs expected to
# equal an open KID by accident, must stay below this. Otherwise (many open KIDs, many long numbers in the texts) a
# number that is an open KID needs corroboration like any number in the text.
_KID_CHANCE = 0.01


def _text_kid_candidates(pays: pl.DataFrame, inv: pl.DataFrame, cfg: pl.DataFrame) -> pl.DataFrame:
    """(payment, invoice, field `message~kid`) where a digit run of the free text equals an open invoice's KID and
    passes the creditor's reference check (a DNB text "Betaling 0000123455 faktura" names its KID without the word).

    Creditors without a check (`reference_check = "none"`, or none given) take no part: for them a bare number is
    free text like any other. Joined first, checked after: the check digits are computed for the few hits only.
    """
    checks = cfg.filter(pl.col("_check").is_not_null() & (pl.col("_check") != "none")).select("creditor", "_check")
    creditors = checks.get_column("creditor").to_list()
    with_text = pays.filter(pl.col("message").is_not_null() & pl.col("creditor").is_in(creditors))
    keys = with_text.select("_order", "creditor", pl.col("message").str.extract_all(_DIGIT_RUN).alias("key"),
                            pl.lit("message~kid").alias("field")).explode("key").drop_nulls("key").unique(
        ["_order", "key"], maintain_order=True)
    kids = inv.filter(pl.col("kid").is_not_null() & (pl.col("outstanding_minor") > 0))
    kids = kids.select("creditor", _as_reference_key(kids, "kid").alias("key"), "_ii")
    hits = _join_keys(keys, kids, inv)
    if hits.height == 0:
        return hits
    # The join kept payment and invoice of one creditor: the invoice's creditor is the payment's.
    ii = hits.get_column("_ii")
    hits = hits.with_columns(inv.get_column("creditor").gather(ii).alias("_creditor"),
                             reference_key(inv.get_column("kid").gather(ii)).alias("_kid"))
    ok = pl.lit(False)
    for name, check in checks.iter_rows():
        ok = pl.when(pl.col("_creditor") == name).then(reference_valid_expr("_kid", check)).otherwise(ok)
    runs = keys.group_by("creditor", pl.col("key").str.len_chars().alias("_len")).len("_runs")
    density = kids.group_by("creditor", pl.col("key").str.len_chars().alias("_len")).len("_n").join(
        runs, on=["creditor", "_len"]).select(
        "creditor", "_len", (pl.col("_runs") * pl.col("_n") / pl.lit(10.0).pow(pl.col("_len"))).alias("_chance"))
    hits = hits.filter(ok.fill_null(False)).join(
        density.rename({"creditor": "_creditor"}), left_on=["_creditor", pl.col("_kid").str.len_chars()],
        right_on=["_creditor", "_len"], how="left", maintain_order="left")
    by_chance = pl.col("_chance") >= _KID_CHANCE
    cols = [c for c in hits.columns if not c.startswith("_") or c in ("_order", "_ii")]
    return pl.concat([hits.filter(~by_chance).select(cols),
                      corroborated(hits.filter(by_chance).select(cols), pays, inv, field="message~kid")])


def _tokens(frame: pl.DataFrame, ids: list[str], name: str) -> pl.DataFrame:
    """(ids..., tok): the distinct name tokens of each row, exploded (see text.name_tokens)."""
    return frame.select(*ids, name_tokens(name).alias("tok")).explode("tok").drop_nulls("tok")


def _name_pairs(rest: pl.DataFrame, inv: pl.DataFrame, cfg: pl.DataFrame) -> pl.DataFrame:
    """(payment, open invoice) pairs whose payer and customer names are similar enough (token Jaccard >= setting)."""
    empty = pl.DataFrame(schema={"_order": pl.UInt32, "_ii": pl.UInt32, "_sim_score": pl.Float64})
    p = rest.filter(pl.col("payer_name").is_not_null())
    if p.height == 0:
        return empty
    pt = _tokens(p, ["_order", "creditor"], "payer_name")
    if pt.height == 0:
        return empty
    # Only invoices whose customer name contains one of the payers' words need tokenising (Aho-Corasick prefilter).
    words = pt.get_column("tok").unique().to_list()
    i = inv.filter(pl.col("customer_name").is_not_null() & (pl.col("outstanding_minor") != 0)
                   & pl.col("creditor").is_in(p.get_column("creditor").unique().to_list())
                   & pl.col("customer_name").str.to_lowercase().str.contains_any(words))
    if i.height == 0:
        return empty
    # A customer's invoices share its name: each distinct (creditor, name) is tokenised and compared once, as `_name`.
    names = i.select("creditor", "customer_name").unique().with_row_index("_name")
    bearer = i.select("_ii", "creditor", "customer_name").join(names, on=["creditor", "customer_name"]).select("_ii", "_name")
    nt = _tokens(names, ["_name", "creditor"], "customer_name")
    # A word shared by more than _TOKEN_CAP invoices says nothing: counted over the invoices bearing each name.
    per_name = bearer.group_by("_name").len("_inv")
    common = nt.join(per_name, on="_name").group_by("creditor", "tok").agg(pl.col("_inv").sum()).filter(
        pl.col("_inv") <= _TOKEN_CAP).drop("_inv")
    pairs = pt.join(nt.join(common, on=["creditor", "tok"], how="semi"), on=["creditor", "tok"]).select(
        "_order", "_name", "creditor").unique(["_order", "_name"])
    if pairs.height == 0:
        return empty
    # Exact similarity on the candidate pairs only, counting every shared word (common ones too).
    n_p = pt.group_by("_order").len("_np")
    n_n = nt.join(pairs.select("_name").unique(), on="_name", how="semi").group_by("_name").len("_nn")
    shared = pairs.join(pt.select("_order", "tok"), on="_order").join(nt.select("_name", "tok"), on=["_name", "tok"], how="semi")
    shared = shared.group_by("_order", "_name", "creditor").len("_shared")
    sim = pl.col("_shared") / (pl.col("_np") + pl.col("_nn") - pl.col("_shared"))
    scored = shared.join(n_p, on="_order").join(n_n, on="_name").join(cfg.select("creditor", "_sim"), on="creditor").with_columns(
        sim.alias("_sim_score")).filter(pl.col("_sim_score") >= pl.col("_sim"))
    return scored.join(bearer, on="_name").select("_order", "_ii", "_sim_score")


def _by_amount_and_name(rest: pl.DataFrame, inv: pl.DataFrame, pairs: pl.DataFrame, cfg: pl.DataFrame) -> pl.DataFrame:
    """Rule 3: amount within tolerance + dates in window + similar names; the single best candidate, ties ambiguous."""
    if pairs.height == 0:
        return pl.DataFrame(schema={"_order": pl.UInt32})
    c = pairs.join(rest.select("_order", pl.col("amount_minor").alias("_paid"), pl.col("currency").alias("_pcur"),
                               "booking_date"), on="_order").join(inv, on="_ii").join(cfg, on="creditor")
    tol = pl.max_horizontal(pl.col("_abs_tol"), pl.col("outstanding_minor").abs() * pl.col("_bp") // 10_000)
    diff = (pl.col("_paid") - pl.col("outstanding_minor")).abs()
    latest = pl.coalesce(pl.col("due_date"), pl.col("invoice_date")) + pl.duration(days=pl.col("_window"))
    in_window = (pl.col("booking_date").is_null()
                 | ((pl.col("invoice_date").is_null() | (pl.col("booking_date") >= pl.col("invoice_date")))
                    & (latest.is_null() | (pl.col("booking_date") <= latest))))
    c = c.filter((pl.col("currency") == pl.col("_pcur")) & (pl.col("outstanding_minor") > 0) & (diff <= tol) & in_window)
    c = c.with_columns(diff.alias("_diff"))
    # The best candidate: most similar name, then the closest amount; still several -> ambiguous.
    c = c.filter(pl.col("_sim_score") == pl.col("_sim_score").max().over("_order"))
    c = c.filter(pl.col("_diff") == pl.col("_diff").min().over("_order"))
    g = c.group_by("_order", maintain_order=True).agg(
        pl.col("invoice_number").unique().sort().alias("_nums"), pl.all().exclude("_order").first())
    single = pl.col("_nums").list.len() == 1
    fields = "amount~outstanding, booking_date in window, payer_name~customer_name"
    return g.select(
        "_order",
        pl.when(single).then(pl.lit("amount_name")).otherwise(pl.lit("ambiguous")).alias("rule"),
        pl.when(single).then(pl.col("invoice_number")).alias("invoice_number"),
        pl.when(single).then(pl.col("invoice_number")).alias("invoice_numbers"),
        pl.when(~single).then(pl.col("_nums").list.join(", ")).alias("candidates"),
        pl.when(single).then(pl.col("amount_minor")).alias("invoice_amount_minor"),
        pl.when(single).then(pl.col("outstanding_minor")).alias("outstanding_minor"),
        pl.when(single).then(pl.col("currency")).alias("invoice_currency"),
        pl.lit(fields).alias("fields"), pl.col("_sim_score").round(3).alias("score"),
        pl.when(single).then(pl.lit(f"{_EVIDENCE['amount_name']} ({fields})"))
        .otherwise(pl.lit(f"several equally good candidates ({fields})")).alias("evidence"),
        pl.when(single).then(pl.col("_ii")).alias("_ii"),
    )


def _by_subset(rest: pl.DataFrame, inv: pl.DataFrame, pairs: pl.DataFrame, cfg: pl.DataFrame) -> pl.DataFrame:
    """Rule 4: exactly one set of a single customer's open items sums to the payment (bounded search, small sets only)."""
    if pairs.height == 0:
        return pl.DataFrame(schema=_SUBSET_SCHEMA)
    cust = pairs.join(inv.select("_ii", "creditor", "customer_number"), on="_ii")
    one = cust.group_by("_order").agg(pl.col("customer_number").drop_nulls().unique().alias("_c"), pl.col("creditor").first()
                                      ).filter(pl.col("_c").list.len() == 1).select(
        "_order", "creditor", pl.col("_c").list.first().alias("customer_number"))
    todo = rest.filter(pl.col("amount_minor") > 0).select("_order", "amount_minor", "currency").join(one, on="_order").join(
        cfg, on="creditor")
    items = inv.filter(pl.col("outstanding_minor") != 0).join(
        todo.select("creditor", "customer_number").unique(), on=["creditor", "customer_number"], how="semi"
    ).group_by("creditor", "customer_number", "currency").agg(pl.col("invoice_number"), pl.col("outstanding_minor"),
                                                              pl.len().alias("_n"))
    todo = todo.join(items, on=["creditor", "customer_number", "currency"]).filter(
        (pl.col("_n") >= 2) & (pl.col("_n") <= pl.col("_open_max")))
    return _subset_decisions(todo, _subset_sums(todo))


_SUBSET_FIELDS = "amount=sum(open items), payer_name~customer_name"
_SUBSET_SCHEMA = {"_order": pl.UInt32, "rule": pl.String, "invoice_number": pl.String, "invoice_numbers": pl.String,
                  "candidates": pl.String, "outstanding_minor": pl.Int64, "invoice_currency": pl.String,
                  "fields": pl.String, "score": pl.Float64, "evidence": pl.String, "_multi": _ALLOC}
_FOUND_SCHEMA = {"_order": pl.UInt32, "_sets": pl.List(pl.List(pl.UInt32)), "_found": pl.UInt32}
_SETS_KEPT = 4  # a search stops after the 4th set found: one set decides, several are listed as the candidates
# Customers with at most this many open items are searched by a join with every index set (at most 1,013 sets of 2..8
# items each); the few with more (up to multi_invoice_open_max) by a bounded loop.
_VECTOR_N = 10


@functools.lru_cache(maxsize=8)
def _index_sets(max_n: int, max_k: int) -> pl.DataFrame:
    """Every set of 2..max_k indices of n items, n = 2..max_n: (_n, _k, _seq, _idx); `_seq` numbers the sets of one n
    in the order the search takes them (smaller sets first, then lexicographic)."""
    rows: dict[str, list] = {"_n": [], "_k": [], "_seq": [], "_idx": []}
    for n in range(2, max_n + 1):
        sets = [combo for k in range(2, min(max_k, n) + 1) for combo in combinations(range(n), k)]
        rows["_n"] += [n] * len(sets)
        rows["_k"] += [len(c) for c in sets]
        rows["_seq"] += list(range(len(sets)))
        rows["_idx"] += [list(c) for c in sets]
    return pl.DataFrame(rows, schema={"_n": pl.UInt32, "_k": pl.Int64, "_seq": pl.UInt32, "_idx": pl.List(pl.UInt32)})


def _subset_sums(todo: pl.DataFrame) -> pl.DataFrame:
    """_FOUND_SCHEMA rows: per payment of `todo` with at least one set of 2.._kmax of its customer's open items summing
    to it, the first _SETS_KEPT such sets (as index lists, in search order) and how many were found (capped)."""
    small = todo.filter(pl.col("_n") <= _VECTOR_N)
    parts = []
    if small.height:
        sets = _index_sets(_VECTOR_N, int(small.get_column("_kmax").max()))  # type: ignore[arg-type]
        hits = small.select("_order", "amount_minor", "outstanding_minor", pl.col("_n").cast(pl.UInt32), "_kmax").join(
            sets, on="_n").filter(
            (pl.col("_k") <= pl.col("_kmax"))
            & (pl.col("outstanding_minor").list.gather(pl.col("_idx")).list.sum() == pl.col("amount_minor")))
        parts.append(hits.sort("_order", "_seq").group_by("_order", maintain_order=True).agg(
            pl.col("_idx").head(_SETS_KEPT).alias("_sets"), pl.len().clip(0, _SETS_KEPT).cast(pl.UInt32).alias("_found")))
    rows = []
    # The rare customer with more open items: the same search as a bounded loop (sum() of a tuple of ints stays in C).
    for order, amount, opens, kmax in todo.filter(pl.col("_n") > _VECTOR_N).select(
            "_order", "amount_minor", "outstanding_minor", "_kmax").iter_rows():
        found: list[list[int]] = []
        for k in range(2, min(kmax, len(opens)) + 1):
            for combo, amounts in zip(combinations(range(len(opens)), k), combinations(opens, k)):
                if sum(amounts) == amount:
                    found.append(list(combo))
                    if len(found) >= _SETS_KEPT:
                        break
            if len(found) >= _SETS_KEPT:
                break
        if found:
            rows.append({"_order": order, "_sets": found, "_found": len(found)})
    parts.append(pl.DataFrame(rows, schema=_FOUND_SCHEMA))
    return pl.concat([p.cast(_FOUND_SCHEMA) for p in parts])  # type: ignore[arg-type]


def _subset_decisions(todo: pl.DataFrame, found: pl.DataFrame) -> pl.DataFrame:
    """Rule 4's decisions from the sets found: exactly one -> multi_invoice over it; several -> ambiguous, listed."""
    if found.height == 0:
        return pl.DataFrame(schema=_SUBSET_SCHEMA)
    res = found.join(todo.select("_order", "amount_minor", "currency", "invoice_number", "outstanding_minor"), on="_order")
    one = res.filter(pl.col("_found") == 1).with_columns(pl.col("_sets").list.first().alias("_set"))
    nums = pl.col("invoice_number").list.gather(pl.col("_set"))
    multi = one.select("_order", nums.alias("invoice_number"),
                       pl.col("outstanding_minor").list.gather(pl.col("_set")).alias("amount_minor")).explode(
        "invoice_number", "amount_minor").group_by("_order", maintain_order=True).agg(
        pl.struct("invoice_number", "amount_minor").alias("_multi"))
    single = one.join(multi, on="_order").select(
        "_order", pl.lit("multi_invoice").alias("rule"), nums.list.first().alias("invoice_number"),
        nums.list.join(", ").alias("invoice_numbers"), pl.lit(None, pl.String).alias("candidates"),
        pl.col("amount_minor").alias("outstanding_minor"), pl.col("currency").alias("invoice_currency"),
        pl.lit(_SUBSET_FIELDS).alias("fields"), pl.lit(1.0).alias("score"),
        pl.lit(f"{_EVIDENCE['multi_invoice']} ({_SUBSET_FIELDS})").alias("evidence"), "_multi")
    several = res.filter(pl.col("_found") > 1).explode("_sets").select(
        "_order", pl.col("invoice_number").list.gather(pl.col("_sets")).list.join("+").alias("_set")).group_by(
        "_order", maintain_order=True).agg(pl.col("_set").str.join(" | ").alias("candidates"))
    ambiguous = several.select(
        "_order", pl.lit("ambiguous").alias("rule"), pl.lit(None, pl.String).alias("invoice_number"),
        pl.lit(None, pl.String).alias("invoice_numbers"), "candidates", pl.lit(None, pl.Int64).alias("outstanding_minor"),
        pl.lit(None, pl.String).alias("invoice_currency"), pl.lit(_SUBSET_FIELDS).alias("fields"),
        pl.lit(None, pl.Float64).alias("score"),
        pl.lit(f"several equally good candidates ({_SUBSET_FIELDS})").alias("evidence"), pl.lit(None, _ALLOC).alias("_multi"))
    return pl.concat([single.cast(_SUBSET_SCHEMA), ambiguous.cast(_SUBSET_SCHEMA)])  # type: ignore[arg-type]


def _undecided(pays: pl.DataFrame, decided: pl.DataFrame) -> pl.DataFrame:
    """Payments `decided` does not hold.

    `_order` is a row number: a boolean mask indexed by it (scatter, then gather) does what an anti join would, without
    hashing.
    """
    if decided.height == 0 or pays.height == 0:
        return pays
    done = decided.get_column("_order")
    size = int(max(pays.get_column("_order").max(), done.max())) + 1  # type: ignore[arg-type]
    mask = pl.Series("_done", [False], dtype=pl.Boolean).extend_constant(False, size - 1).scatter(done, True)
    return pays.filter(~mask.gather(pays.get_column("_order")))


def match_payments(payments: pl.DataFrame, invoices: pl.DataFrame,
                   settings: Mapping[str, MatchingConfig] | None = None,
                   reference_checks: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Decide every payment: MATCH_SCHEMA rows, one per payment, in input order, plus `_paid` and `_multi` (for
    `allocations`).

    `payments`: payment_key, creditor, reference, message; used when present: extra_references (';'-joined),
    amount_minor, currency, booking_date, payer_name. `invoices` (open invoices): creditor, invoice_number, kid,
    amount_minor, outstanding_minor, currency; used when present: customer_number, customer_name, invoice_date,
    due_date. `settings`: the creditors' matching tolerances (strict defaults for creditors not in it).
    `reference_checks`: each creditor's `reference_check`; a number in the text is taken as a KID only for the
    creditors given here (with a check other than "none").
    """
    pays, inv = _prepare(payments, invoices)
    # Rules 3 and 4 need the settings of every creditor with open invoices (no other creditor's payment can match).
    cfg = _settings_frame(sorted(set(inv.get_column("creditor").drop_nulls().unique().to_list()) | set(settings or {})),
                          settings, reference_checks)

    by_ref = _named(_structured_candidates(pays, inv), pays, "reference")
    rest = _undecided(pays, by_ref)
    by_text_kid = _named(_text_kid_candidates(rest, inv, cfg), pays, "reference", "text_kid")
    rest = _undecided(rest, by_text_kid)
    by_num = _named(_number_candidates(rest, inv, cfg), pays, "invoice_number")
    rest = _undecided(rest, by_num)
    rest = rest.filter(pl.col("amount_minor").is_not_null())
    pairs = _name_pairs(rest, inv, cfg)
    by_amount = _by_amount_and_name(rest, inv, pairs, cfg)
    by_subset = _by_subset(_undecided(rest, by_amount), inv, pairs, cfg)

    found = [d for d in (by_ref, by_text_kid, by_num, by_amount, by_subset) if d.height]
    base = pays.select("_order", "payment_key", "creditor", pl.col("amount_minor").alias("_paid"), "booking_date")
    out = base
    if found:
        # Every payment once (the undecided as bare row ids), sorted on the row id: then row i is payment i, and the
        # decisions sit beside the payments without a join.
        decided = pl.concat(found, how="diagonal_relaxed")
        everyone = pl.concat([decided, _undecided(pays, decided).select("_order")], how="diagonal_relaxed").sort("_order")
        out = base.hstack(everyone.drop("_order"))
    for c, t in {**MATCH_SCHEMA, "_ii": pl.UInt32(), "_multi": _ALLOC}.items():
        if c not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=t).alias(c))
    out = out.with_columns(
        pl.col("rule").fill_null("none"),
        pl.when(pl.col("rule").is_null()).then(pl.lit("no rule matched")).otherwise(pl.col("evidence")).alias("evidence"),
    )
    out = _accumulate_partials(out)
    return out.select(*[pl.col(c).cast(t) for c, t in MATCH_SCHEMA.items()], pl.col("_paid"), pl.col("_multi").cast(_ALLOC))


def _accumulate_partials(out: pl.DataFrame) -> pl.DataFrame:
    """Several payments of one run to one invoice: each sees what the earlier ones (by date, then file order) left open.

    Integers only: the payments that name one invoice (`_ii`) are put in (invoice, date, file order) order by one sort
    (_invoice_day_file_order), each one's earlier payments summed by a running sum that restarts per invoice, and the
    sums put back in payment order by index. `out` is in payment order (`_order` = row number).
    """
    ii = out.get_column("_ii")
    rows = np.flatnonzero(ii.is_not_null().to_numpy())
    named = ii.drop_nulls().to_numpy()  # the invoices named, in the order of `rows`
    if len(named) == 0 or np.bincount(named).max() == 1:
        return out  # no invoice paid twice in this run
    days = out.get_column("booking_date").cast(pl.Int32)
    day_off = (days - days.min()).fill_null(0).clip(0, 65_535).cast(pl.UInt64).to_numpy()[rows]
    order = _invoice_day_file_order(named, day_off)
    invoice = named[order]
    paid = out.get_column("_paid").fill_null(0).to_numpy()[rows][order]
    before = np.cumsum(paid) - paid  # paid by every payment sorted before this one
    first = np.r_[True, invoice[1:] != invoice[:-1]]
    # What the invoice's payments sorted before this one paid: `before` less its value at the invoice's first payment.
    earlier_sorted = before - before[np.maximum.accumulate(np.where(first, np.arange(len(first)), 0))]
    earlier = np.zeros(out.height, dtype=np.int64)
    earlier[rows[order]] = earlier_sorted
    return out.with_columns((pl.col("outstanding_minor") - pl.Series(earlier)).alias("outstanding_minor"))


def _invoice_day_file_order(invoice: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The permutation that orders payments by invoice, then day, then file order (their position).

    The three packed into one 64-bit key when they fit (they do for any real run) make every key unique, so polars'
    parallel sort gives the order; otherwise a stable numpy sort of (invoice, day) keeps file order."""
    position_bits = max(1, (len(invoice) - 1).bit_length())
    day_bits = int(day.max()).bit_length() if len(day) else 0
    invoice_bits = int(invoice.max()).bit_length() if len(invoice) else 0
    if invoice_bits + day_bits + position_bits <= 64:
        key = ((invoice.astype(np.uint64) << np.uint64(day_bits + position_bits))
               | (day.astype(np.uint64) << np.uint64(position_bits)) | np.arange(len(invoice), dtype=np.uint64))
        return pl.Series(key).arg_sort().to_numpy()
    return np.argsort((invoice.astype(np.uint64) << np.uint64(16)) | day.astype(np.uint64), kind="stable")


def allocations(matches: pl.DataFrame) -> pl.DataFrame:
    """ALLOCATION_SCHEMA rows: what each matched payment pays on each invoice (needs `_paid` and `_multi`)."""
    if matches.height == 0 or "_paid" not in matches.columns:
        return pl.DataFrame(schema=ALLOCATION_SCHEMA)
    single = matches.filter(pl.col("rule").is_in(_SINGLE)).select(
        "payment_key", "creditor", "invoice_number", pl.col("_paid").alias("amount_minor"))
    multi = matches.filter(pl.col("rule") == "multi_invoice").select("payment_key", "creditor", "_multi").explode(
        "_multi").unnest("_multi")
    return pl.concat([single, multi.select(single.columns)], how="vertical_relaxed").select(
        [pl.col(c).cast(t) for c, t in ALLOCATION_SCHEMA.items()])
