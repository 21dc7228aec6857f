"""Bankgirot BgMax (Sweden, "Bankgiro Inbetalningar"): 80-character posts, read leniently and vectorised.

Real files have short lines and stray TABs: TABs are expanded to 8-column tab stops (which is what puts
the reference of Bankgirot's own example back in its field) and every line is padded to 80 first.
Each payment (TK20, or TK21 deduction: negative) owns the lines after it up to the next payment or deposit
post: extra references (TK22/23, into `extra_references`, ';'-joined in file order, and their amounts, signed
'+' for TK22 and '-' for TK23, a deduction, into `extra_reference_amounts` in the same order), information text (TK25,
`message`), payer name (TK26), address (TK27/28, `payer_address`) and organisation number (TK29,
`payer_org_number`).

A payment's booking_date is the payment date of the deposit post (TK15) that follows it: one TK15 is one
credit line on the bank statement. Checks: per deposit, TK15 amount = sum(TK20) - sum(TK21) and its count;
TK70 counts = the posts in the file. A file that does not tie is held back whole. A payment's TK22/23 amounts
are no control (they need not add up to it): kept, never checked (docs/formats.md).

Key: `BGC-<receiving bankgiro>-<deposit date>-<deposit serial>-<BGC serial>`: the BGC serial alone repeats
across deposits (and, in Bankgirot's own example file, within one), so the deposit's date and serial (TK15)
go with it; a serial that still repeats within its deposit gets `-<n>` for its n-th occurrence (n >= 2).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from etl.money import ISO_4217, format_minor
from etl.sources.base import SourceResult
from etl.sources.common import (
    SourceError,
    bound_problems,
    digits_expr,
    first_broken_rule,
    fixed_width_bytes,
    problems_frame,
    reader_result,
    verdict,
)
from etl.sources.keys import occurrence_expr
from etl.sources.text import lines_frame

__all__ = ["read_bgmax"]

FORMAT = "bgmax"
_LEN = 80
_PAYMENT = ["20", "21"]
_EXTRA = ["22", "23"]  # extra references: positive (TK22) and negative (TK23, deducted by the payer)
_OWNED = [*_EXTRA, "25", "26", "27", "28", "29"]  # posts that belong to the payment before them
_KNOWN = ["01", "05", "15", "70", *_PAYMENT, *_OWNED]


def _f(start: int, end: int, col: str = "post") -> pl.Expr:
    """Field at 1-based inclusive positions start..end, as in the specification."""
    return pl.col(col).str.slice(start - 1, end - start + 1)


def _int(start: int, end: int) -> pl.Expr:
    """A digit field as an integer; null unless it is ASCII digits (blanks around them allowed): never a sign, a
    point, an exponent or letters (a cast alone would take `+12` or ` -5`)."""
    t = _f(start, end).str.strip_chars()
    return pl.when(t.str.contains(r"^[0-9]{1,18}$")).then(t).cast(pl.Int64, strict=False)


def _text(start: int, end: int) -> pl.Expr:
    t = _f(start, end).str.strip_chars()
    return pl.when(t != "").then(t)


def read_bgmax(path: Path, data: bytes) -> SourceResult:
    """Read a BgMax file: TK20/TK21 payments with their deposit's date and currency; totals and currencies checked."""
    data = fixed_width_bytes(data)  # a UTF-8 BOM, CR-only or mixed line ends
    raw = lines_frame(data)
    # Tabs are rare: only then expand them (in C, over the whole text); raw keeps the lines as they were.
    clean = (
        lines_frame(data.decode("latin-1").expandtabs(8).encode("latin-1"))["record"]
        if b"\t" in data
        else raw["record"]
    )
    posts = (
        raw.with_columns(post=clean.str.pad_end(_LEN, " "))
        .filter(pl.col("post").str.strip_chars() != "")
        .with_columns(tk=_f(1, 2))
    )
    if posts.height == 0:
        raise SourceError("the file has no posts")
    truncated = _check_structure(posts)
    posts = _with_context(posts)
    rows = _payments(posts)
    checks, control = _control_totals(posts, truncated)
    checks += _currency_checks(posts)
    if truncated:
        checks.insert(0, f"line {posts['source_line'][-1]}: the file ends without an end post (TK70): truncated?")
    status, message = verdict(path, checks)
    orphan = pl.col("tk").is_in(_OWNED) & pl.col("owner").is_null()
    # Short lines are normal (padded); a long one is not: what lies past position 80 is no field, say so.
    too_long = pl.col("post").str.strip_chars_end().str.len_chars() > _LEN
    # An extra reference whose amount is no number keeps its reference, without an amount ("+0"/"-0"): say so.
    no_amount = pl.col("tk").is_in(_EXTRA) & ~orphan & ~_f(38, 55).str.contains(r"^\d{18}$")
    odd = posts.filter(~pl.col("tk").is_in(_KNOWN) | orphan | too_long | no_amount)
    row_problems = problems_frame(
        odd,
        None,
        "bgmax_post",
        pl.when(~pl.col("tk").is_in(_KNOWN))
        .then(pl.lit("unknown transaction code ") + pl.col("tk") + pl.lit(": ignored"))
        .when(orphan)
        .then(pl.lit("TK") + pl.col("tk") + pl.lit(" does not follow a payment (TK20/21): ignored"))
        .when(no_amount)
        .then(pl.lit("TK") + pl.col("tk")
              + pl.lit(": the amount (positions 38-55) is not a number: reference kept without it"))
        .otherwise(
            pl.lit("TK")
            + pl.col("tk")
            + pl.lit(" is ")
            + pl.col("post").str.strip_chars_end().str.len_chars().cast(pl.String)
            + pl.lit(f" characters long ({_LEN} expected): what follows position {_LEN} is ignored")
        ),
    )
    # An amount at or beyond the bound (etl/money.py) is no payment to submit: the row is rejected, quoting it.
    too_big = bound_problems(rows, pl.col("amount_minor").abs().cast(pl.String))
    if too_big.height:
        row_problems = pl.concat([row_problems, too_big])
    return reader_result(
        path, FORMAT, rows, raw,
        status=status,
        message=message,
        problems=row_problems,
        control=control,
    )


def _check_structure(posts: pl.DataFrame) -> bool:
    """Raise SourceError at the first post out of place in `01 (05 (20|21 owned*)* 15)* 70`; return if truncated."""
    first = posts.row(0, named=True)
    if first["tk"] != "01" or "BGMAX" not in first["post"][2:22]:
        raise SourceError("the file must start with a BGMAX start post (TK01)", first["source_line"])
    n = posts.height
    truncated = posts["tk"][-1] != "70"
    tk, i = pl.col("tk"), pl.int_range(pl.len())
    is05, is15 = tk == "05", tk == "15"
    depth = (is05.cum_sum() - is15.cum_sum()) - is05.cast(pl.Int32) + is15.cast(pl.Int32)  # open deposits before
    rules = [
        ((tk == "01") & (i > 0), "a second start post (TK01)"),
        ((tk == "70") & (i < n - 1), "posts after the end post (TK70)"),
        ((tk == "70") & (depth != 0), "end post (TK70) inside an open deposit (no TK15)"),
        (is05 & (depth != 0), "opening post (TK05) before the previous deposit ended (TK15)"),
        (is15 & (depth != 1), "deposit post (TK15) without an opening post (TK05)"),
        (tk.is_in(_PAYMENT) & (depth != 1), "payment outside a deposit (no TK05 before it)"),
        (tk.is_in(_PAYMENT) & ~_f(38, 55).str.contains(r"^\d{18}$"), "the amount (positions 38-55) is not a number"),
    ]
    if broken := first_broken_rule(posts, rules):
        bad, problem = broken
        if "amount" in problem:  # quote the field as it stands
            problem += f": {bad['post'][37:55]!r}"
        raise SourceError(f"TK{bad['tk']}: {problem}", bad["source_line"])
    return truncated


def _with_context(posts: pl.DataFrame) -> pl.DataFrame:
    """Deposit number, receiving bankgiro, currency and payment date on every post; each post's owning payment."""
    tk = pl.col("tk")
    is05, is15 = tk == "05", tk == "15"
    # Fill the raw fields, clean afterwards: a blank field must not inherit the previous deposit's value.
    currency05 = pl.when(is05).then(_f(23, 25)).forward_fill().str.strip_chars()
    currency15 = pl.when(is15).then(_f(69, 71)).backward_fill().str.strip_chars()
    return posts.with_columns(
        deposit=is05.cum_sum(),
        bankgiro=digits_expr(pl.when(is05).then(_f(3, 12)).forward_fill(), strip_zeros=True),
        currency=pl.coalesce(pl.when(currency05 != "").then(currency05), pl.when(currency15 != "").then(currency15)),
        # The deposit's date stands on the TK15 that closes it, after its payments.
        pay_date=pl.when(is15).then(_f(38, 45)).backward_fill().str.strptime(pl.Date, "%Y%m%d", strict=False),
        deposit_key=pl.when(is15).then(_f(38, 45).str.strip_chars() + "-" + _f(46, 50).str.strip_chars())
        .backward_fill(),
        owner=pl.when(tk.is_in(_PAYMENT))
        .then(pl.col("source_line"))
        .when(tk.is_in(_OWNED))
        .then(None)
        .otherwise(pl.lit(-1))
        .forward_fill()
        .replace(-1, None),
    )


def _firsts(owned: pl.DataFrame, code: str, **fields: pl.Expr) -> list[pl.DataFrame]:
    """(owner, field) per field: its first non-empty value among the owner's posts of transaction code `code`."""
    sub = owned.filter(pl.col("tk") == code).select("owner", **fields)
    return [sub.select("owner", name).drop_nulls(name).unique("owner", keep="first") for name in fields]


def _payments(posts: pl.DataFrame) -> pl.DataFrame:
    """One row per TK20/TK21 with the texts of its owned posts.

    Each kind of owned post is cut from its own rows and joined to its payment on the integer `owner`: cheaper than
    one group-by filtering every field per group.
    """
    tk = pl.col("tk")
    owned = posts.filter(tk.is_in(_OWNED) & pl.col("owner").is_not_null()).select("owner", "tk", "post")
    # A TK22/23 without a reference is not kept (nor its amount): the two lists stay parallel.
    extras = owned.filter(tk.is_in(_EXTRA)).select(
        "owner",
        ref=_text(13, 37),
        # The reference's amount, signed: '+' for TK22, '-' for TK23 (a deduction), even when it is 0
        # (0: the post names a reference without an amount of its own; also for a blank or garbled amount field).
        ref_amount=pl.when(tk == "23").then(pl.lit("-")).otherwise(pl.lit("+"))
        + _int(38, 55).fill_null(0).cast(pl.String),
    ).drop_nulls("ref").group_by("owner").agg(
        refs=pl.col("ref").str.join(";"), ref_amounts=pl.col("ref_amount").str.join(";")
    )
    info = (
        owned.filter(tk == "25").select("owner", info=_text(3, 52)).drop_nulls("info")
        .group_by("owner").agg(pl.col("info").str.join(" "))
    )
    parts = [
        extras,
        info,
        *_firsts(owned, "26", payer_name=pl.concat_str([_text(3, 37), _text(38, 72)], separator=" ", ignore_nulls=True)),
        # TK27: street (3-37), postcode (38-46); TK28: city (3-37), country (38-72), country code (73-74).
        *_firsts(owned, "27", street=_text(3, 37), postcode=_text(38, 46)),
        *_firsts(owned, "28", city=_text(3, 37), country=pl.coalesce(_text(38, 72), _text(73, 74))),
        *_firsts(owned, "29", payer_org_number=_text(3, 14)),
    ]
    pays = posts.filter(tk.is_in(_PAYMENT))
    for part in parts:
        pays = pays.join(part, left_on="source_line", right_on="owner", how="left", maintain_order="left")
    sign = pl.when(tk == "21").then(-1).otherwise(1)
    town = pl.concat_str([pl.col("postcode"), pl.col("city")], separator=" ", ignore_nulls=True)
    address = pl.concat_str([pl.col("street"), town, pl.col("country")], separator=", ", ignore_nulls=True)
    serial = _f(58, 69).str.strip_chars()
    base_key = pl.concat_str(
        [pl.lit("BGC"), pl.col("bankgiro").fill_null(""), pl.col("deposit_key").fill_null(""), serial], separator="-"
    )
    nth = occurrence_expr([base_key])
    return pays.select(
        pl.col("source_line"),
        account=pl.col("bankgiro"),
        booking_date=pl.col("pay_date"),
        amount_minor=_int(38, 55) * sign,
        currency=pl.col("currency"),
        reference=_text(13, 37),
        extra_references=pl.when(pl.col("refs") != "").then(pl.col("refs")),
        extra_reference_amounts=pl.when(pl.col("refs") != "").then(pl.col("ref_amounts")),
        message=pl.when(pl.col("info") != "").then(pl.col("info")),
        payer_name=pl.col("payer_name"),
        payer_account=digits_expr(_f(3, 12), strip_zeros=True),
        payer_address=pl.when(address != "").then(address),
        payer_org_number=pl.col("payer_org_number"),
        bank_ref=serial,
        # docs/contracts.md, "Stable keys": the BGC serial number, made unique with its deposit (see the module doc).
        payment_key=pl.when(nth > 1).then(base_key + "-" + nth.cast(pl.String)).otherwise(base_key),
    )


def _control_totals(posts: pl.DataFrame, truncated: bool) -> tuple[list[str], dict[str, int]]:
    """Compare every TK15 and the TK70 with what the posts add up to; return the mismatches and the control dict."""
    tk = pl.col("tk")
    signed = pl.when(tk == "20").then(_int(38, 55)).when(tk == "21").then(-_int(38, 55))
    computed = (
        posts.filter(tk.is_in(_PAYMENT))
        .group_by("deposit")
        .agg(c_count=pl.len().cast(pl.Int64), c_total=signed.sum().cast(pl.Int64))
    )
    declared = posts.filter(tk == "15").select(
        "deposit", "source_line", "currency", d_count=_int(72, 79), d_total=_int(51, 68)
    )
    joined = (
        declared.join(computed, on="deposit", how="left")
        .with_columns(pl.col("c_count").fill_null(0), pl.col("c_total").fill_null(0))
        .sort("source_line")
    )
    problems = []
    for r in joined.iter_rows(named=True):  # one row per deposit: few, not the hot path
        if (r["d_count"], r["d_total"]) != (r["c_count"], r["c_total"]):
            problems.append(
                f"line {r['source_line']}: deposit (TK15) does not tie: declared {r['d_count']} payments, "
                f"{_amount(r['d_total'])} {r['currency']}; computed {r['c_count']}, {_amount(r['c_total'])}"
            )
    counts = {code: int((posts["tk"] == code).sum()) for code in ("20", "21", "22", "23", "15")}
    c_total = int(posts.select(signed.sum()).item() or 0)
    control = {
        "computed_count": counts["20"] + counts["21"],
        "computed_total_minor": c_total,
        # Summed over currencies: a checksum of the deposits, not an amount.
        "declared_total_minor": int(declared["d_total"].fill_null(0).sum()),
    }
    if not truncated:
        end = posts.row(posts.height - 1, named=True)["post"]
        source_line = posts.row(posts.height - 1, named=True)["source_line"]
        d = [_to_int(end[2:10]), _to_int(end[10:18]), _to_int(end[18:26]), _to_int(end[26:34])]
        c = [counts["20"], counts["21"], counts["22"] + counts["23"], counts["15"]]
        control["declared_count"] = (d[0] or 0) + (d[1] or 0)
        if d != c:
            problems.append(
                f"line {source_line}: end post (TK70) counts do not tie: declared TK20 {d[0]}, TK21 {d[1]}, "
                f"TK22/23 {d[2]}, TK15 {d[3]}; counted {c[0]}, {c[1]}, {c[2]}, {c[3]}"
            )
    return problems, control


def _currency_checks(posts: pl.DataFrame) -> list[str]:
    """Per deposit: the TK05 and TK15 currencies are ISO 4217 codes, and the same when both are given (the
    payments take the deposit's). A blank one is taken from the other (see _with_context); either problem holds
    the file back, naming the deposit's line."""
    tk = pl.col("tk")
    opening = posts.filter(tk == "05").select("deposit", line05="source_line", c05=_f(23, 25).str.strip_chars())
    closing = posts.filter(tk == "15").select("deposit", line15="source_line", c15=_f(69, 71).str.strip_chars())
    problems = []
    for r in opening.join(closing, on="deposit", how="left").sort("line05").iter_rows(named=True):  # few deposits
        c05, c15 = r["c05"], r["c15"]
        for code, line, post in ((c05, r["line05"], "opening post (TK05)"), (c15, r["line15"], "deposit post (TK15)")):
            if code and code not in ISO_4217:
                problems.append(f"line {line}: {post} currency {code!r} is not an ISO 4217 currency code")
        if c05 and c15 and c05 != c15 and c05 in ISO_4217 and c15 in ISO_4217:
            problems.append(
                f"line {r['line15']}: deposit post (TK15) currency {c15} differs from its opening post's "
                f"(TK05, line {r['line05']}) {c05}: the deposit's payments have no certain currency"
            )
    return problems


def _to_int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _amount(minor: int | None) -> str:
    return format_minor(minor) if minor is not None else "?"
