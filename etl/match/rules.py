"""The matching rules, vectorised in polars, each decision kept with its evidence (docs/matching.md).

Order (the first decisive rule wins; a rule that finds several equally good candidates is decisive too:
`ambiguous`, with the candidates listed, never guessed):
1. `reference`: the payment's structured reference (KID, Swedish OCR, the body of an RF reference) or one of its
   extra references equals an open invoice's KID exactly.
2. `invoice_number`: an extra reference (camt RfrdDocInf, BgMax TK22) or a token of the free text equals an invoice
   number (tokens must fit the creditor's `invoice_number_pattern` when one is configured).
   Rules 1 and 2 naming several invoices of one customer whose open amounts sum exactly to the payment:
   `multi_invoice`.
3. `amount_name`: one open invoice in the payment's currency whose open amount is within the creditor's tolerance
   (absolute or relative), whose dates fit the window, and whose customer name is similar enough to the payer's.
4. `multi_invoice` (subset): the payer's name points at exactly one customer, and exactly one set of 2..k of that
   customer's open items (credit notes count negative) sums to the payment; a bounded search over that small set.
Payments no rule decides get rule `none`.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

import polars as pl

from etl.config import MatchingConfig
from etl.match.text import GENERIC_TOKEN, name_tokens, reference_key, rf_body

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
    "invoice_number": "invoice number given in the payment",
    "multi_invoice": "one payment for several invoices of one customer; amounts sum exactly",
    "amount_name": "amount within tolerance, dates in window, payer name like the customer's",
}


def _settings_frame(creditors: list[str], settings: Mapping[str, MatchingConfig] | None) -> pl.DataFrame:
    """Per-creditor tolerances as columns, defaults where a creditor has no settings."""
    rows = []
    for c in creditors:
        m = (settings or {}).get(c) or MatchingConfig()
        rows.append({"creditor": c, "_abs_tol": m.amount_tolerance_minor, "_bp": m.amount_tolerance_bp,
                     "_window": m.date_window_days, "_sim": m.name_similarity, "_kmax": m.multi_invoice_max,
                     "_open_max": m.multi_invoice_open_max, "_pattern": m.invoice_number_pattern})
    schema = {"creditor": pl.String, "_abs_tol": pl.Int64, "_bp": pl.Int64, "_window": pl.Int64, "_sim": pl.Float64,
              "_kmax": pl.Int64, "_open_max": pl.Int64, "_pattern": pl.String}
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
        opt(payments, "extra_references", pl.String()), opt(payments, "amount_minor", pl.Int64()),
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


def _named(cands: pl.DataFrame, pays: pl.DataFrame, single_rule: str) -> pl.DataFrame:
    """Decide payments from candidate invoices they name: one -> `single_rule`; several summing exactly -> multi.

    `cands`: _order, field and the invoice columns. The common case (one candidate row) takes a plain select;
    only payments with several candidate rows are aggregated.
    """
    prefix = _EVIDENCE[single_rule] + " ("
    several = pl.col("_order").is_duplicated()
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


def _structured_candidates(pays: pl.DataFrame, inv: pl.DataFrame) -> pl.DataFrame:
    """(payment, invoice, field) where a structured reference equals the invoice's KID."""
    with_ref = pays.filter(pl.col("reference").is_not_null())
    rf = with_ref.filter(pl.col("reference").str.slice(0, 2).str.to_uppercase() == "RF")
    extras = pays.filter(pl.col("extra_references").is_not_null())
    keys = pl.concat([
        with_ref.select("_order", "creditor", reference_key("reference").alias("key"), pl.lit("reference=kid").alias("field")),
        rf.select("_order", "creditor", rf_body("reference").alias("key"), pl.lit("reference(RF)=kid").alias("field")),
        extras.select("_order", "creditor", pl.col("extra_references").str.split(";").alias("key"),
                      pl.lit("extra_reference=kid").alias("field")).explode("key").with_columns(reference_key("key")),
    ]).filter(pl.col("key").is_not_null() & (pl.col("key") != ""))
    kids = inv.filter(pl.col("kid").is_not_null()).select("creditor", reference_key("kid").alias("key"), "_ii")
    return _join_keys(keys, kids, inv)


def _number_candidates(pays: pl.DataFrame, inv: pl.DataFrame, cfg: pl.DataFrame) -> pl.DataFrame:
    """(payment, invoice, field) where an extra reference or a free-text token equals an invoice number."""
    extras = pays.filter(pl.col("extra_references").is_not_null()).select(
        "_order", "creditor", pl.col("extra_references").str.to_uppercase().str.split(";").alias("key"),
        pl.lit("extra_reference=invoice_number").alias("field")).explode("key")
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
    return _join_keys(keys, numbers, inv)


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
    it = _tokens(i, ["_ii", "creditor"], "customer_name")
    common = it.group_by("creditor", "tok").len().filter(pl.col("len") <= _TOKEN_CAP).drop("len")
    pairs = pt.join(it.join(common, on=["creditor", "tok"], how="semi"), on=["creditor", "tok"]).select(
        "_order", "_ii", "creditor").unique(["_order", "_ii"])
    if pairs.height == 0:
        return empty
    # Exact similarity on the candidate pairs only, counting every shared word (common ones too).
    n_p = pt.group_by("_order").len("_np")
    n_i = it.join(pairs.select("_ii").unique(), on="_ii", how="semi").group_by("_ii").len("_ni")
    shared = pairs.join(pt.select("_order", "tok"), on="_order").join(it.select("_ii", "tok"), on=["_ii", "tok"], how="semi")
    shared = shared.group_by("_order", "_ii", "creditor").len("_shared")
    sim = pl.col("_shared") / (pl.col("_np") + pl.col("_ni") - pl.col("_shared"))
    return shared.join(n_p, on="_order").join(n_i, on="_ii").join(cfg.select("creditor", "_sim"), on="creditor").with_columns(
        sim.alias("_sim_score")).filter(pl.col("_sim_score") >= pl.col("_sim")).select("_order", "_ii", "_sim_score")


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
    schema = {"_order": pl.UInt32, "rule": pl.String, "invoice_number": pl.String, "invoice_numbers": pl.String,
              "candidates": pl.String, "outstanding_minor": pl.Int64, "invoice_currency": pl.String,
              "fields": pl.String, "score": pl.Float64, "evidence": pl.String, "_multi": _ALLOC}
    if pairs.height == 0:
        return pl.DataFrame(schema=schema)
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
    rows = []
    fields = "amount=sum(open items), payer_name~customer_name"
    # Bounded Python over the few payments left here: at most C(open_max, k) sums each, k <= multi_invoice_max.
    for order, amount, cur, nums, opens, kmax in todo.select(
            "_order", "amount_minor", "currency", "invoice_number", "outstanding_minor", "_kmax").iter_rows():
        found: list[tuple[int, ...]] = []
        for k in range(2, min(kmax, len(nums)) + 1):
            # The index sets and the amount sets in step: sum() of a tuple of ints stays in C.
            for combo, amounts in zip(combinations(range(len(nums)), k), combinations(opens, k)):
                if sum(amounts) == amount:
                    found.append(combo)
                    if len(found) > 3:
                        break
            if len(found) > 3:
                break
        if not found:
            continue
        sets = [[nums[i] for i in combo] for combo in found]
        if len(found) == 1:
            rows.append({"_order": order, "rule": "multi_invoice", "invoice_number": sets[0][0],
                         "invoice_numbers": ", ".join(sets[0]), "candidates": None, "outstanding_minor": amount,
                         "invoice_currency": cur, "fields": fields, "score": 1.0,
                         "evidence": f"{_EVIDENCE['multi_invoice']} ({fields})",
                         "_multi": [{"invoice_number": nums[i], "amount_minor": opens[i]} for i in found[0]]})
        else:
            rows.append({"_order": order, "rule": "ambiguous", "invoice_number": None, "invoice_numbers": None,
                         "candidates": " | ".join("+".join(s) for s in sets), "outstanding_minor": None,
                         "invoice_currency": None, "fields": fields, "score": None,
                         "evidence": f"several equally good candidates ({fields})", "_multi": None})
    return pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)


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
                   settings: Mapping[str, MatchingConfig] | None = None) -> pl.DataFrame:
    """Decide every payment: MATCH_SCHEMA rows, one per payment, in input order, plus `_paid` and `_multi` (for
    `allocations`).

    `payments`: payment_key, creditor, reference, message; used when present: extra_references (';'-joined),
    amount_minor, currency, booking_date, payer_name. `invoices` (open invoices): creditor, invoice_number, kid,
    amount_minor, outstanding_minor, currency; used when present: customer_number, customer_name, invoice_date,
    due_date. `settings`: the creditors' matching tolerances (strict defaults for creditors not in it).
    """
    pays, inv = _prepare(payments, invoices)
    cfg = _settings_frame(sorted(pays.get_column("creditor").drop_nulls().unique().to_list()), settings)

    by_ref = _named(_structured_candidates(pays, inv), pays, "reference")
    rest = _undecided(pays, by_ref)
    by_num = _named(_number_candidates(rest, inv, cfg), pays, "invoice_number")
    rest = _undecided(rest, by_num)
    rest = rest.filter(pl.col("amount_minor").is_not_null())
    pairs = _name_pairs(rest, inv, cfg)
    by_amount = _by_amount_and_name(rest, inv, pairs, cfg)
    by_subset = _by_subset(_undecided(rest, by_amount), inv, pairs, cfg)

    found = [d for d in (by_ref, by_num, by_amount, by_subset) if d.height]
    base = pays.select("_order", "payment_key", "creditor", pl.col("amount_minor").alias("_paid"), "booking_date")
    out = base
    if found:
        # Sorted on the row id first: the order-keeping left join then reads the right side in order (faster).
        decided = pl.concat(found, how="diagonal_relaxed").sort("_order")
        out = base.join(decided, on="_order", how="left", maintain_order="left")
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

    `out` is in payment order (`_order` = row number), so the running sums, computed on a narrow sorted copy, are
    put back by sorting on `_order` again: no join of the wide frame.
    """
    ii = out.get_column("_ii")
    if ii.null_count() == len(ii) or ii.drop_nulls().n_unique() == len(ii) - ii.null_count():
        return out  # no invoice paid twice in this run
    key = pl.col("_ii")
    paid = pl.when(key.is_not_null()).then(pl.col("_paid").fill_null(0)).otherwise(0)
    running = paid.cum_sum()
    start = pl.when(key.ne_missing(key.shift(1))).then(running - paid).forward_fill()
    # One 64-bit sort key (invoice, then days into the run's date range), sorted stably: file order breaks ties.
    days = pl.col("booking_date").cast(pl.Int32)
    day_off = (days - days.min()).fill_null(0).clip(0, 65_535).cast(pl.UInt64)
    sort_key = (key.cast(pl.UInt64) * 65_536 + day_off).alias("_sk")
    earlier = (out.select("_order", "_ii", "_paid", sort_key)
               .sort("_sk", nulls_last=True, maintain_order=True)
               .select("_order", (running - paid - start).alias("_earlier"))
               .sort("_order").get_column("_earlier"))
    return out.with_columns((pl.col("outstanding_minor") - earlier).alias("outstanding_minor"))


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
