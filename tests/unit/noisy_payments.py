"""A seeded noisy bank file against open invoices, each payment with its true invoice(s), and how to score a matcher.

Shared by bench/match_precision.py (300,000 payments) and tests/unit/test_match_precision.py (a few thousand). The
world is what a Norwegian creditor's account sees in a month (docs/matching.md, "Precision"):

| kind | share | text / reference | truth |
|---|---|---|---|
| `kid` | 40 % | structured KID | its invoice |
| `text_kid` | 8 % | "Betaling 0000123455 faktura" (DNB: no word KID, no payer name) | its invoice |
| `number_full` | 8 % | "Faktura 100123", the exact open amount | its invoice |
| `number_partial_named` | 6 % | "Faktura 100123", part of it, the payer's name is the customer's | its invoice |
| `number_partial_bare` | 3 % | "Faktura 100123", part of it, no payer name: nothing corroborates | its invoice, not findable |
| `number_customer` | 2 % | "Faktura 100123 kundenr 20456", part of it | its invoice |
| `two_invoices` | 2 % | "Faktura 100123 og 100456", their open amounts summed | both invoices |
| `amount_name` | 3 % | the payer's name, the exact amount, no reference | its invoice |
| `paid_again` | 3 % | the KID of an invoice with nothing open (0.00 or a credit) | none: an overpayment for a person |
| `noise_ref` | 20 % | "Overføring ref 482913": a random 6-digit number, half of them some invoice's number (paid or not), a random amount and payer | none |
| `noise_two` | 2 % | "Ordre 482913 tlf 91234567", random amount | none |
| `noise_kid_shape` | 3 % | a random 10-digit number that passes MOD10 ("Giro 4711238325"), random amount | none |

Invoices: 6-digit numbers, 10-digit MOD10 KIDs, customers with about three invoices each; 10 % have nothing open
(0.00) and 1 % a negative open amount (e.g. -4,603.54); names drawn from common Norwegian first, middle and last names,
so some customers share a name (and some random payers bear a customer's name). All generation is numpy / polars; the scoring joins frames.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

__all__ = ["KINDS", "world", "score"]

CREDITOR = "nordlys-no"
D = dt.date(2026, 11, 20)
FIRST = ["Ola", "Kari", "Per", "Anne", "Lars", "Ingrid", "Knut", "Marit", "Nils", "Sigrid", "Jon", "Liv", "Arne",
         "Berit", "Erik", "Hilde", "Geir", "Tone", "Odd", "Randi", "Svein", "Grete", "Tor", "Solveig", "Bjørn",
         "Astrid", "Hans", "Eva", "Rune", "Heidi", "Terje", "Silje", "Morten", "Nina", "Stian", "Ida", "Jørgen",
         "Mari", "Even", "Tuva"]
LAST = ["Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen", "Jensen", "Karlsen",
        "Johnsen", "Pettersen", "Eriksen", "Berg", "Haugen", "Hagen", "Johannessen", "Andreassen", "Jacobsen", "Dahl",
        "Jørgensen", "Halvorsen", "Henriksen", "Lund", "Sørensen", "Jakobsen", "Moen", "Gundersen", "Iversen",
        "Strand", "Solberg", "Svendsen", "Eide", "Knutsen", "Martinsen", "Paulsen", "Bakken", "Kristoffersen",
        "Mathisen", "Lie", "Amundsen", "Nguyen", "Rasmussen", "Ali", "Lunde", "Solheim", "Berge", "Moe", "Nygård",
        "Bakke", "Kristensen", "Fredriksen", "Holm", "Lien", "Hauge", "Christensen", "Andresen", "Nielsen", "Knudsen",
        "Evensen", "Sæther", "Aas", "Myhre", "Hanssen", "Ahmed", "Haugland", "Thomassen", "Sivertsen", "Simonsen",
        "Danielsen", "Berntsen", "Sandvik", "Rønning", "Arnesen", "Antonsen", "Næss", "Vik", "Haug", "Ellingsen",
        "Thorsen", "Edvardsen", "Birkeland", "Isaksen", "Gulbrandsen", "Ruud", "Aasen", "Strøm", "Myklebust", "Tangen",
        "Ødegård", "Eliassen", "Helland", "Bøe", "Jenssen", "Aune", "Mikkelsen", "Tveit", "Brekke", "Abrahamsen",
        "Madsen"]
# kind -> (share in per mille, the rule that should find it, or None when no delivery is right)
KINDS: dict[str, tuple[int, str | None]] = {
    "kid": (400, "reference"), "text_kid": (80, "reference"), "number_full": (80, "invoice_number"),
    "number_partial_named": (60, "invoice_number"), "number_partial_bare": (30, "invoice_number"),
    "number_customer": (20, "invoice_number"), "two_invoices": (20, "multi_invoice"),
    "amount_name": (30, "amount_name"), "paid_again": (30, None), "noise_ref": (200, None), "noise_two": (20, None),
    "noise_kid_shape": (30, None),
}


def _luhn_append(bodies: np.ndarray, width: int) -> np.ndarray:
    """MOD10 (Luhn) KIDs: each body zero-padded to `width` digits with its check digit appended, as strings."""
    digits = (bodies[:, None] // (10 ** np.arange(width - 1, -1, -1, dtype=np.int64))) % 10
    # From the right of the body, every other digit starting with the last is doubled (the check digit comes after).
    doubled = (np.arange(width)[::-1] % 2) == 0
    d = np.where(doubled, digits * 2, digits)
    d = np.where(d > 9, d - 9, d)
    check = (10 - d.sum(axis=1) % 10) % 10
    return np.char.add(np.char.zfill(bodies.astype(str), width), check.astype(str))


def _names(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` person names: first name, a middle name for 70 %, a last name, double-barrelled for 40 % (some 6.5 million
    different names, the common ones far more often: Ola Hansen is still several people)."""
    first = np.array(FIRST)[rng.integers(0, len(FIRST), n)]
    middle = np.where(rng.random(n) < 0.7, np.char.add(np.array(FIRST)[rng.integers(0, len(FIRST), n)], " "), "")
    last = np.array(LAST)[rng.integers(0, len(LAST), n)]
    double = np.where(rng.random(n) < 0.4, np.char.add("-", np.array(LAST)[rng.integers(0, len(LAST), n)]), "")
    return np.char.add(np.char.add(np.char.add(np.char.add(first, " "), middle), last), double)


def _invoices(rng: np.random.Generator, m: int) -> pl.DataFrame:
    i = np.arange(m, dtype=np.int64)
    n_cust = max(m // 3, 1)
    cust = rng.integers(0, n_cust, m)
    names = _names(rng, n_cust)
    amount = rng.integers(20_000, 2_000_000, m)
    state = rng.random(m)
    outstanding = np.where(state < 0.10, 0, np.where(state < 0.11, -rng.integers(1_000, 900_000, m), amount))
    return pl.DataFrame({
        "creditor": CREDITOR, "invoice_number": (100_000 + i).astype(str),
        "kid": _luhn_append(100_000 + i, 9), "amount_minor": amount, "outstanding_minor": outstanding,
        "currency": "NOK", "customer_number": (20_000 + cust).astype(str), "customer_name": names[cust],
        "invoice_date": dt.date(2026, 10, 1), "due_date": dt.date(2026, 10, 31),
    })


def world(n: int, m: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(`payments`, `invoices`): `n` payments by the mix in the module docstring against `m` invoices; each payment
    carries `kind` and `truth` (its invoice numbers, ', ' joined in order, or null when no delivery is right)."""
    rng = np.random.default_rng(seed)
    inv = _invoices(rng, m)
    shares = np.array([s for s, _ in KINDS.values()], dtype=float)
    kind = np.array(list(KINDS))[rng.choice(len(KINDS), n, p=shares / shares.sum())]
    opened = inv.with_row_index("_r").filter(pl.col("outstanding_minor") > 0)
    closed = inv.with_row_index("_r").filter(pl.col("outstanding_minor") <= 0)
    # Each payment's own invoice: an open one (distinct per payment where the file allows), a closed one for paid_again.
    target = opened[rng.permutation(n) % opened.height].with_columns(pl.Series("kind", kind))
    target = target.with_columns(pl.when(pl.col("kind") == "paid_again").then(
        pl.Series(closed[rng.integers(0, closed.height, n)].get_column("_r"))).otherwise(pl.col("_r")).alias("_r"))
    t = inv.with_row_index("_r")[target.get_column("_r")].with_columns(pl.Series("kind", kind))
    rand_amount = pl.Series(rng.integers(10_000, 1_000_000, n))
    part = (pl.col("outstanding_minor") * pl.Series(rng.integers(20, 80, n)) // 100)
    # Half the random numbers are some invoice's number (paid or not): every size of world has its noise hits.
    ref6 = pl.Series(np.where(rng.random(n) < 0.5, (100_000 + rng.integers(0, m, n)).astype(str),
                              rng.integers(100_000, 1_000_000, n).astype(str)))
    kidshape = pl.Series(_luhn_append(rng.integers(0, 10 ** 9, n), 9))
    phone = pl.Series(rng.integers(40_000_000, 99_999_999, n).astype(str))
    random_payer = pl.Series(_names(rng, n))
    k = pl.col("kind")
    # Two invoices of one customer: the second is one of the same customer's when it has another open one.
    t = t.join(opened.group_by("customer_number").agg(pl.col("invoice_number").alias("_siblings")),
               on="customer_number", how="left", maintain_order="left")
    sib = pl.col("_siblings").list.set_difference(pl.concat_list(pl.col("invoice_number")))
    t = t.with_columns(sib.list.first().alias("_sib"))
    sib_open = inv.select("invoice_number", pl.col("outstanding_minor").alias("_sib_amount"))
    t = t.join(sib_open, left_on="_sib", right_on="invoice_number", how="left", maintain_order="left")
    two = (k == "two_invoices") & pl.col("_sib").is_not_null()
    pays = t.select(
        pl.lit(CREDITOR).alias("creditor"),
        pl.when(k.is_in(["kid", "paid_again"])).then(pl.col("kid")).alias("reference"),
        pl.when(k == "text_kid").then(pl.lit("Betaling ") + pl.col("kid") + " faktura")
        .when(k.is_in(["number_full", "number_partial_named", "number_partial_bare"]))
        .then(pl.lit("Faktura ") + pl.col("invoice_number"))
        .when(k == "number_customer").then(pl.lit("Faktura ") + pl.col("invoice_number") + " kundenr "
                                           + pl.col("customer_number"))
        .when(two).then(pl.lit("Faktura ") + pl.col("invoice_number") + " og " + pl.col("_sib"))
        .when(k == "two_invoices").then(pl.lit("Faktura ") + pl.col("invoice_number"))
        .when(k == "noise_ref").then(pl.lit("Overføring ref ") + ref6)
        .when(k == "noise_two").then(pl.lit("Ordre ") + ref6 + " tlf " + phone)
        .when(k == "noise_kid_shape").then(pl.lit("Giro ") + kidshape)
        .alias("message"),
        pl.when(k.is_in(["number_partial_named", "number_partial_bare", "number_customer"])).then(part)
        .when(two).then(pl.col("outstanding_minor") + pl.col("_sib_amount"))
        .when(k.is_in(["noise_ref", "noise_two", "noise_kid_shape", "paid_again"])).then(rand_amount)
        .otherwise(pl.col("outstanding_minor")).alias("amount_minor"),
        pl.lit("NOK").alias("currency"), pl.lit(D).alias("booking_date"),
        pl.when(k.is_in(["number_partial_named", "amount_name", "number_full"])).then(pl.col("customer_name"))
        .when(k.is_in(["noise_ref", "noise_two", "kid", "paid_again"])).then(random_payer).alias("payer_name"),
        "kind",
        pl.when(two).then(pl.col("invoice_number") + ", " + pl.col("_sib"))
        .when(KINDS_WITH_TRUTH).then(pl.col("invoice_number")).alias("truth"),
    )
    pays = pays.with_row_index("_i").with_columns(
        (pl.lit("P") + pl.col("_i").cast(pl.String).str.zfill(7)).alias("payment_key")).drop("_i")
    return pays, inv


KINDS_WITH_TRUTH = pl.col("kind").is_in([k for k, (_, rule) in KINDS.items() if rule is not None])


def score(pays: pl.DataFrame, routed: pl.DataFrame) -> dict[str, object]:
    """Precision and recall per rule, deliveries to a wrong invoice and to invoices with nothing open.

    `routed`: match_payments + route_matches, one row per payment in order. A delivery is a row with a target; it is
    right when its invoice numbers are the payment's truth. Precision of a rule: right deliveries / its deliveries;
    recall: the rule's right deliveries / the payments whose truth that rule should find.
    """
    r = routed.select("rule", "invoice_numbers", "outstanding_minor", "target").hstack(pays.select("kind", "truth"))
    intended = pl.col("kind").replace_strict({k: rule for k, (_, rule) in KINDS.items()}, default=None)
    sent = pl.col("target").is_not_null()
    right = sent & (pl.col("invoice_numbers") == pl.col("truth")).fill_null(False)
    r = r.with_columns(intended.alias("intended"), sent.alias("sent"), right.alias("right"))
    per_rule = {}
    for rule in ("reference", "invoice_number", "multi_invoice", "amount_name"):
        delivered = r.filter(pl.col("sent") & (pl.col("rule") == rule))
        meant = r.filter(pl.col("intended") == rule)
        per_rule[rule] = {
            "delivered": delivered.height, "right": int(delivered.get_column("right").sum()),
            "precision": delivered.get_column("right").mean() if delivered.height else None,
            "should_find": meant.height, "found": int(meant.get_column("right").sum()),
            "recall": meant.get_column("right").mean() if meant.height else None,
        }
    per_kind = r.group_by("kind").agg(pl.len().alias("payments"), pl.col("sent").sum().alias("delivered"),
                                      pl.col("right").sum().alias("right")).sort("kind")
    return {
        "per_rule": per_rule,
        "per_kind": per_kind,
        "wrong_deliveries": int(r.filter(pl.col("sent") & ~pl.col("right")).height),
        "nothing_open_deliveries": int(r.filter(pl.col("sent") & (pl.col("outstanding_minor") <= 0)).height),
        "rules": dict(r.group_by("rule").len().sort("rule").iter_rows()),
    }
