"""Nets OCR giro (Norway, KID payments): fixed-width 80-character records, read vectorised with polars.

Every line goes into one polars frame; fields are string slices; the assignment context (account) is
forward-filled from each start-assignment record (20); amount items 2 and 3 (31, 32) are the records right
after their amount item 1 (30), gathered by position and checked by transaction number. Control totals
(88 per assignment, 89 per transmission) are recomputed and compared: a file that does not tie is held back.

Only service 09 (OCR giro) transaction types 10-21 are payments. AvtaleGiro (service 21) assignments, i.e.
payment requests and agreements sent to the creditor, are not: they count in the control totals only.

booking_date is the Nets date of amount item 1: the settlement date, when the money reaches the payee's
account and the date its bank statement shows. The bank date in item 2 is the payer's debit date, and is
000000 in some real files.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from etl.money import format_minor
from etl.sources.base import PAYMENT_SCHEMA, SourceResult
from etl.sources.common import SourceError, ddmmyy_expr, first_broken_rule, first_row, verdict, with_lineage
from etl.sources.keys import stable_key_expr
from etl.sources.text import lines_frame

__all__ = ["read_ocr_giro"]

FORMAT = "ocr_giro"
_LEN = 80
_OCR_GIRO = "09"  # service code; 21 is AvtaleGiro
_PAYMENT_TYPES = [str(t) for t in range(10, 22)]  # transaction types 10-21: money received
_ITEM_FIRST = ["30", "70"]  # the first record of a transaction (amount item 1; AvtaleGiro agreement)
_ZERO_ACCOUNT = "0" * 11


def _f(start: int, end: int, col: str = "record") -> pl.Expr:
    """Field at 1-based inclusive positions start..end, as in the specification."""
    return pl.col(col).str.slice(start - 1, end - start + 1)


def _int(start: int, end: int, col: str = "record") -> pl.Expr:
    return _f(start, end, col).cast(pl.Int64, strict=False)


def _one_of(code: pl.Expr, codes: list[str]) -> pl.Expr:
    """`code.is_in(codes)` for a few two-character codes: comparisons of inlined short strings, no hashing
    (twice as fast over 2M records)."""
    hit = code == codes[0]
    for c in codes[1:]:
        hit = hit | (code == c)
    return hit


def read_ocr_giro(path: Path, data: bytes, sha256: str) -> SourceResult:
    """Read a Nets OCR giro file: payments of service 09, control totals checked (held back when they do not tie)."""
    raw = lines_frame(data)
    recs = _records(raw, ascii_only=data.isascii())
    truncated = _check_structure(recs)
    last_line = recs["source_line"][-1]
    cut_off = truncated and recs["length"][-1] != _LEN
    if cut_off:
        recs = recs.head(recs.height - 1)  # a record cut off mid-line has no whole fields: not read
    recs = _with_context(recs)
    items = _amount_items(recs)
    rows, dropped_tail = _payments(recs, items, truncated)
    problems, control = _control_totals(recs, items, truncated)
    if truncated:
        notes = ["its last record is cut off"] * cut_off + [
            "its last transaction is incomplete and was left out"
        ] * dropped_tail
        tail = f" ({'; '.join(notes)})" if notes else ""
        problems.insert(
            0, f"line {last_line}: the file ends without an end-of-transmission record (89): truncated?{tail}"
        )
    status, message = verdict(path, problems)
    return SourceResult(
        path=path,
        format=FORMAT,
        kind="payments",
        sha256=sha256,
        rows=with_lineage(rows, PAYMENT_SCHEMA, path=path, sha256=sha256, fmt=FORMAT),
        raw=raw,
        status=status,
        message=message,
        control=control,
    )


def _records(raw: pl.DataFrame, ascii_only: bool) -> pl.DataFrame:
    """The non-blank lines with their record codes; blank lines are tolerated anywhere."""
    recs = raw.with_columns(ny=pl.col("record").str.starts_with("NY"))
    if not recs["ny"].all():  # only then pay for a whitespace check over every line
        recs = recs.filter(pl.col("ny") | (pl.col("record").str.strip_chars() != ""))
    if recs.height == 0:
        raise SourceError("the file has no records")
    # Byte length is free (string views); character length needs a scan: only when there are non-ASCII bytes.
    length = pl.col("record").str.len_bytes() if ascii_only else pl.col("record").str.len_chars()
    return recs.with_columns(svc=_f(3, 4), ttype=_f(5, 6), rtype=_f(7, 8), length=length)


def _check_structure(recs: pl.DataFrame) -> bool:
    """Raise SourceError at the first line that breaks `10 (20 (30 31 [32])+ 88)+ 89`; return whether truncated."""
    n = recs.height
    last = recs.row(n - 1, named=True)
    truncated = not (last["rtype"] == "89" and last["svc"] == "00")
    rtype, i = pl.col("rtype"), pl.int_range(pl.len())
    is20, is88 = rtype == "20", rtype == "88"
    step = is20.cast(pl.Int32) - is88.cast(pl.Int32)
    depth = step.cum_sum() - step  # open assignments before this record (one running sum: 2.2M rows)
    rules = [
        (~pl.col("ny"), "not an OCR giro record (does not start with 'NY')"),
        # A truncated file may end in a cut-off record: that one is allowed to be short.
        ((pl.col("length") != _LEN) & ~(pl.lit(truncated) & (i == n - 1)), f"record is not {_LEN} characters long"),
        ((i == 0) & (rtype != "10"), "the file must start with a start-of-transmission record (10)"),
        ((rtype == "10") & (i > 0), "a second start-of-transmission record (10)"),
        ((rtype == "89") & (i < n - 1), "records after the end-of-transmission record (89)"),
        ((rtype == "89") & (depth != 0), "end of transmission (89) inside an open assignment (no 88)"),
        (is20 & (depth != 0), "start of assignment (20) before the previous assignment ended (88)"),
        (is88 & (depth != 1), "end of assignment (88) without a start of assignment (20)"),
        (
            ~_one_of(rtype, ["10", "20", "88", "89"]) & (depth != 1),
            "transaction record outside an assignment (no start record 20 before it)",
        ),
        (
            (pl.col("svc") == _OCR_GIRO) & ~_one_of(rtype, ["10", "20", "30", "31", "32", "88", "89"]),
            "unknown record type in an OCR giro assignment",
        ),
    ]
    if broken := first_broken_rule(recs, rules):
        bad, problem = broken
        raise SourceError(f"record type {bad['rtype']}: {problem}", bad["source_line"])
    return truncated


def _with_context(recs: pl.DataFrame) -> pl.DataFrame:
    """Row position and assignment number (of the last start-assignment record 20 so far) on every line."""
    return recs.with_row_index("i").with_columns(asg=(pl.col("rtype") == "20").cum_sum())


def _assignment_account(recs: pl.DataFrame) -> pl.Expr:
    """The account of each row's assignment, from its start record (20): looked up by assignment number among
    the few 20 records (a forward fill over every record cost 0.1 s per 2M records); null before the first."""
    starts = recs.filter(pl.col("rtype") == "20").select("asg", account=_f(25, 35))  # 11 digits by the specification
    return pl.col("asg").replace_strict(starts["asg"], starts["account"], default=None, return_dtype=pl.String)


def _amount_items(recs: pl.DataFrame) -> pl.DataFrame:
    """First records of transactions (30, 70) of every service, with the signed amount of each 30."""
    items = recs.filter(_one_of(pl.col("rtype"), _ITEM_FIRST)).drop("length")
    sign = pl.when(_f(32, 32) == "-").then(-1).otherwise(1)
    return items.with_columns(amount=pl.when(pl.col("rtype") == "30").then(_int(33, 49) * sign))


def _dates_by_value(text: pl.Series) -> tuple[pl.Expr, pl.Expr]:
    """DDMMYY text -> (Date, ISO text), computed once per distinct value: a file holds few dates, and
    1M strptimes (or Date -> text casts for the key) cost 0.1-0.2 s each."""
    distinct = pl.DataFrame({"text": text.unique()}).with_columns(date=ddmmyy_expr(pl.col("text")))
    distinct = distinct.with_columns(iso=pl.col("date").cast(pl.String))
    by_value = pl.lit(text).replace_strict
    return (
        by_value(distinct["text"], distinct["date"], return_dtype=pl.Date),
        by_value(distinct["text"], distinct["iso"], return_dtype=pl.String),
    )


def _free_texts(recs: pl.DataFrame) -> pl.DataFrame:
    """(i of item 1, text) of every amount item 3 (32, types 20/21) that follows its items 1 and 2.

    Few transactions have one: found from the 32 records themselves, so the 1M others pay nothing for it."""
    r32 = recs.filter(pl.col("rtype") == "32").select("i", "record").filter(pl.col("i") >= 2)
    item1 = recs["record"].gather(r32["i"] - 2)
    texts = (
        r32.with_columns(item1=item1)
        .filter((_f(7, 8, "item1") == "30") & (_f(9, 15, "item1") == _f(9, 15)))
        .select(i=pl.col("i") - 2, text=_f(16, 55).str.strip_chars())
    )
    return texts.filter(pl.col("text") != "")


def _payments(recs: pl.DataFrame, items: pl.DataFrame, truncated: bool) -> tuple[pl.DataFrame, bool]:
    """One row per OCR giro payment (service 09, types 10-21): item 1 with items 2 and 3 from the next records."""
    tx = items.filter((pl.col("svc") == _OCR_GIRO) & (pl.col("rtype") == "30") & pl.col("ttype").is_in(_PAYMENT_TYPES))
    n, records = recs.height, recs["record"]
    # Item 2 is the record right after item 1: gather it by position (no join needed).
    tx = tx.with_columns(next1=records.gather((tx["i"] + 1).clip(upper_bound=n - 1)))
    tx_no = _f(9, 15)
    has31 = (_f(7, 8, "next1") == "31") & (_f(9, 15, "next1") == tx_no) & (pl.col("i") + 1 < n)
    tx = tx.with_columns(has31=has31)
    dropped_tail = False
    if truncated:
        # The cut may fall between items 1 and 2 of the last transaction: leave that one out.
        at_end = pl.col("i") + 1 >= n
        dropped_tail = tx.filter(~pl.col("has31") & at_end).height > 0
        tx = tx.filter(pl.col("has31") | ~at_end)
    if bad := first_row(tx, ~pl.col("has31")):
        raise SourceError(
            f"amount item 1 (30) of transaction {bad['record'][8:15]} is not followed by its amount item 2 (31)",
            bad["source_line"],
        )
    if bad := first_row(tx, pl.col("amount").is_null()):
        raise SourceError(f"amount {bad['record'][32:49]!r} is not a number", bad["source_line"])
    free_text = _free_texts(recs)
    kid = _f(50, 74).str.strip_chars()
    archive = _f(26, 34, "next1").str.strip_chars()
    debit = _f(48, 58, "next1")
    nets_date, nets_date_iso = _dates_by_value(tx.select(_f(16, 21)).to_series())
    rows = (
        tx.lazy()
        .select(  # lazy: each field slice is computed once (common sub-expressions)
            pl.col("source_line"),
            account=_assignment_account(recs),
            booking_date=nets_date,
            _date_iso=nets_date_iso,
            amount_minor=pl.col("amount"),
            currency=pl.lit("NOK"),
            reference=pl.when(kid != "").then(kid),  # a string: leading zeros are part of the KID
            message=pl.col("i").replace_strict(
                free_text["i"], free_text["text"], default=None, return_dtype=pl.String
            ),
            payer_name=pl.lit(None, dtype=pl.String),
            payer_account=pl.when(debit != _ZERO_ACCOUNT).then(debit),
            bank_ref=pl.when(archive != "").then(archive),
        )
        # DESIGN.md: assignment account, Nets date, archive reference, KID, amount; never the transaction number.
        # The date goes in as its ISO text, which is what stable_key_expr would cast the Date to.
        .with_columns(
            payment_key=stable_key_expr(
                "NETS", [pl.col(c) for c in ("account", "_date_iso", "bank_ref", "reference", "amount_minor")]
            )
        )
        .drop("_date_iso")
        # SHA-256 of 1M keys is a third of the reader: the streaming engine spreads it over every core.
        .collect(engine="streaming")
    )
    return rows, dropped_tail


def _totals(count: int | None, records: int | None, total: int | None) -> str:
    amount = format_minor(total) if total is not None else "?"
    return f"{count} transactions, {records} records, {amount}"


def _control_totals(recs: pl.DataFrame, items: pl.DataFrame, truncated: bool) -> tuple[list[str], dict[str, int]]:
    """Compare every 88 and the 89 with what the records add up to; return the mismatches and the control dict."""
    computed = items.group_by("asg").agg(c_count=pl.len().cast(pl.Int64), c_total=pl.col("amount").sum().cast(pl.Int64))
    bounds = recs.filter(_one_of(pl.col("rtype"), ["20", "88", "89"]))  # few lines: the rest is counted by position
    starts = bounds.filter(pl.col("rtype") == "20").select("asg", start=pl.col("i"))
    declared = (
        bounds.filter(pl.col("rtype") == "88")
        .select("asg", "i", "source_line", d_count=_int(9, 16), d_records=_int(17, 24), d_total=_int(25, 41))
        .join(starts, on="asg", how="left")
        .join(computed, on="asg", how="left")
        .with_columns(
            c_records=(pl.col("i") - pl.col("start") + 1).cast(pl.Int64),  # 20 to 88 inclusive (no blank lines)
            c_count=pl.col("c_count").fill_null(0),
            c_total=pl.col("c_total").fill_null(0),
        )
        .sort("i")
    )
    problems = []
    for r in declared.iter_rows(named=True):  # one row per assignment: few, not the hot path
        d, c = (r["d_count"], r["d_records"], r["d_total"]), (r["c_count"], r["c_records"], r["c_total"])
        if d != c:
            problems.append(
                f"line {r['source_line']}: assignment control totals (88) do not tie: "
                f"declared {_totals(*d)}; computed {_totals(*c)}"
            )
    c_count, c_total = items.height, int(items["amount"].sum() or 0)
    control = {"computed_count": c_count, "computed_total_minor": c_total, "computed_records": recs.height}
    end = first_row(bounds, pl.col("rtype") == "89")
    if not truncated and end is not None:
        rec = end["record"]
        d = (_to_int(rec[8:16]), _to_int(rec[16:24]), _to_int(rec[24:41]))
        c = (c_count, recs.height, c_total)
        control.update(declared_count=d[0], declared_records=d[1], declared_total_minor=d[2])
        if d != c:
            problems.append(
                f"line {end['source_line']}: transmission control totals (89) do not tie: "
                f"declared {_totals(*d)}; computed {_totals(*c)}"
            )
    return problems, control


def _to_int(text: str) -> int | None:
    return int(text) if text.isdigit() else None
