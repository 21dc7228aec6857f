"""Nets OCR giro (Norway, KID payments): fixed-width 80-character records, read vectorised with polars.

Every line goes into one polars frame; fields are string slices; the assignment context (account) is
forward-filled from each start-assignment record (20); amount items 2 and 3 (31, 32) are the lines
right after their amount item 1 (30), checked by transaction number. Control totals (88 per assignment,
89 per transmission) are recomputed and compared: a file that does not tie is held back whole.

booking_date is the Nets date of amount item 1 (the settlement date: when the money reaches the payee's
account, and the date the bank statement shows). The bank date in item 2 is the payer's debit date and is
000000 in some real files.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from etl.money import format_minor
from etl.sources.base import PAYMENT_SCHEMA, SourceResult, empty_frame
from etl.sources.common import SourceError, ddmmyy_expr, digits_expr, with_lineage
from etl.sources.keys import stable_key_expr
from etl.sources.text import split_lines

__all__ = ["read_ocr_giro"]

FORMAT = "ocr_giro"
_LEN = 80
_OCR_GIRO = "09"  # service code; 21 is AvtaleGiro (payment requests, agreements: not payments)
_PAYMENT_TYPES = [str(t) for t in range(10, 22)]  # transaction types 10-21: money received
_TX_FIRST = ["30", "70"]  # the first record of a transaction (amount item 1; AvtaleGiro agreement)


def _f(start: int, end: int, col: str = "record") -> pl.Expr:
    """Field at 1-based inclusive positions start..end, as in the specification."""
    return pl.col(col).str.slice(start - 1, end - start + 1)


def _int(start: int, end: int, col: str = "record") -> pl.Expr:
    return _f(start, end, col).cast(pl.Int64, strict=False)


def read_ocr_giro(path: Path, data: bytes, sha256: str) -> SourceResult:
    """Read a Nets OCR giro file: payments of service 09, control totals checked (held back when they do not tie)."""
    lines = split_lines(data, "latin-1")
    raw = pl.DataFrame({"source_line": pl.int_range(1, lines.len() + 1, eager=True, dtype=pl.Int64), "record": lines})
    recs = raw.filter(pl.col("record").str.strip_chars() != "").with_columns(
        svc=_f(3, 4), ttype=_f(5, 6), rtype=_f(7, 8), length=pl.col("record").str.len_chars()
    )
    if recs.height == 0:
        raise SourceError("the file has no records")
    truncated = _check_structure(recs)
    recs = _with_context(recs)
    rows, dropped_tail = _payments(recs, truncated)
    checks, control = _control_totals(recs, truncated)
    rows = with_lineage(rows, PAYMENT_SCHEMA, path=path, sha256=sha256, fmt=FORMAT)
    problems = []
    if truncated:
        last = recs.row(recs.height - 1, named=True)["source_line"]
        tail = " (its last transaction is incomplete and was left out)" if dropped_tail else ""
        problems.append(f"line {last}: the file ends without an end-of-transmission record (89): truncated?{tail}")
    problems.extend(checks)
    status, message = "ok", ""
    if problems:
        status = "held_back"
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        message = f"{path}: " + "; ".join(problems[:3]) + more
    return SourceResult(
        path=path, format=FORMAT, kind="payments", sha256=sha256, rows=rows, raw=raw,
        status=status, message=message, control=control,
    )


def _first_line(frame: pl.DataFrame, mask: pl.Expr) -> dict | None:
    bad = frame.filter(mask)
    return bad.row(0, named=True) if bad.height else None


def _check_structure(recs: pl.DataFrame) -> bool:
    """Raise SourceError at the first line that breaks `10 (20 (30 31 [32])+ 88)+ 89`; return whether truncated."""
    last = recs.row(recs.height - 1, named=True)
    truncated = not (last["rtype"] == "89" and last["svc"] == "00")
    bad = _first_line(recs, ~pl.col("record").str.starts_with("NY"))
    if bad:
        raise SourceError("not an OCR giro record (does not start with 'NY')", bad["source_line"])
    n = recs.height
    # A truncated file may end in a cut-off record: that one is allowed to be short.
    bad = _first_line(recs.with_row_index("i"), (pl.col("length") != _LEN) & ~(pl.lit(truncated) & (pl.col("i") == n - 1)))
    if bad:
        raise SourceError(f"record is {bad['length']} characters long; OCR giro records are {_LEN}", bad["source_line"])
    first = recs.row(0, named=True)
    if first["rtype"] != "10":
        raise SourceError("the file must start with a start-of-transmission record (10)", first["source_line"])
    is20, is88 = pl.col("rtype") == "20", pl.col("rtype") == "88"
    depth_before = (is20.cum_sum() - is88.cum_sum()) - is20.cast(pl.Int32) + is88.cast(pl.Int32)
    g = recs.with_row_index("i").with_columns(depth=depth_before)
    rules = [
        ((pl.col("rtype") == "10") & (pl.col("i") > 0), "a second start-of-transmission record (10)"),
        ((pl.col("rtype") == "89") & (pl.col("i") < n - 1), "records after the end-of-transmission record (89)"),
        ((pl.col("rtype") == "89") & (pl.col("depth") != 0), "end of transmission (89) inside an open assignment (no 88)"),
        (is20 & (pl.col("depth") != 0), "start of assignment (20) before the previous assignment ended (88)"),
        (is88 & (pl.col("depth") != 1), "end of assignment (88) without a start of assignment (20)"),
        (~pl.col("rtype").is_in(["10", "20", "88", "89"]) & (pl.col("depth") != 1),
         "transaction record outside an assignment (no start record 20 before it)"),
    ]
    for mask, problem in rules:
        bad = _first_line(g, mask)
        if bad:
            raise SourceError(f"record type {bad['rtype']}: {problem}", bad["source_line"])
    known = pl.col("rtype").is_in(["10", "20", "30", "31", "32", "88", "89"])
    bad = _first_line(recs, (pl.col("svc") == _OCR_GIRO) & ~known)
    if bad:
        raise SourceError(f"unknown record type {bad['rtype']!r} in an OCR giro assignment", bad["source_line"])
    return truncated


def _with_context(recs: pl.DataFrame) -> pl.DataFrame:
    """Assignment number and account on every line; the next two lines alongside (items 2 and 3)."""
    is20 = pl.col("rtype") == "20"
    return recs.with_columns(
        asg=is20.cum_sum(),
        asg_account=pl.when(is20).then(_f(25, 35)).forward_fill(),
        next1=pl.col("record").shift(-1),
        next2=pl.col("record").shift(-2),
        next1_line=pl.col("source_line").shift(-1),
    )


def _payments(recs: pl.DataFrame, truncated: bool) -> tuple[pl.DataFrame, bool]:
    """One row per OCR giro payment (service 09, types 10-21): item 1 joined with items 2 and 3."""
    tx = recs.filter(
        (pl.col("svc") == _OCR_GIRO) & (pl.col("rtype") == "30") & pl.col("ttype").is_in(_PAYMENT_TYPES)
    )
    tx_no = _f(9, 15)
    has31 = (_f(7, 8, "next1") == "31") & (_f(9, 15, "next1") == tx_no) & (_f(3, 4, "next1") == _OCR_GIRO)
    tx = tx.with_columns(has31=has31.fill_null(False), at_end=pl.col("next1").is_null())
    dropped_tail = False
    if truncated:
        # The cut may fall between items 1 and 2 of the last transaction: leave that one out.
        dropped_tail = tx.filter(~pl.col("has31") & pl.col("at_end")).height > 0
        tx = tx.filter(pl.col("has31") | ~pl.col("at_end"))
    bad = _first_line(tx, ~pl.col("has31"))
    if bad:
        raise SourceError(
            f"amount item 1 (30) of transaction {bad['record'][8:15]} is not followed by its amount item 2 (31)",
            bad["source_line"],
        )
    bad = _first_line(tx, ~_f(33, 49).str.contains(r"^\d{17}$"))
    if bad:
        raise SourceError(f"amount {bad['record'][32:49]!r} is not a number", bad["source_line"])
    has32 = (_f(7, 8, "next2") == "32") & (_f(9, 15, "next2") == tx_no)
    free_text = pl.when(has32).then(_f(16, 55, "next2").str.strip_chars())
    kid = _f(50, 74).str.strip_chars()
    archive = _f(26, 34, "next1").str.strip_chars()
    sign = pl.when(_f(32, 32) == "-").then(-1).otherwise(1)
    rows = tx.select(
        pl.col("source_line"),
        account=digits_expr(pl.col("asg_account")),
        booking_date=ddmmyy_expr(_f(16, 21)),
        amount_minor=_int(33, 49) * sign,
        currency=pl.lit("NOK"),
        reference=pl.when(kid != "").then(kid),
        message=pl.when(free_text != "").then(free_text),
        payer_name=pl.lit(None, dtype=pl.String),
        payer_account=pl.when(_f(48, 58, "next1").str.contains(r"[1-9]")).then(_f(48, 58, "next1")),  # 0s: none
        bank_ref=pl.when(archive != "").then(archive),
    )
    # DESIGN.md: assignment account, Nets date, archive reference, KID, amount; never the transaction number.
    rows = rows.with_columns(
        payment_key=stable_key_expr(
            "NETS",
            [pl.col("account"), pl.col("booking_date").dt.to_string("%Y-%m-%d"), pl.col("bank_ref"),
             pl.col("reference"), pl.col("amount_minor")],
        )
    )
    return rows, dropped_tail


def _totals_text(count: int | None, records: int | None, total: int | None) -> str:
    amount = format_minor(total) if total is not None else "?"
    return f"{count} transactions, {records} records, {amount}"


def _control_totals(recs: pl.DataFrame, truncated: bool) -> tuple[list[str], dict[str, int]]:
    """Compare every 88 and the 89 with what the lines add up to; return the mismatches and the control dict."""
    rtype = pl.col("rtype")
    amount1 = pl.when(rtype == "30").then(_int(33, 49) * pl.when(_f(32, 32) == "-").then(-1).otherwise(1))
    lines = recs.with_columns(tx_first=rtype.is_in(_TX_FIRST), amount1=amount1)
    # After _check_structure, every line from the first 20 on except the 89 lies in an assignment (20 to 88).
    in_asg = lines.filter((pl.col("asg") > 0) & (rtype != "89"))
    computed = in_asg.group_by("asg").agg(
        c_count=pl.col("tx_first").sum().cast(pl.Int64),
        c_records=pl.len().cast(pl.Int64),
        c_total=pl.col("amount1").sum().cast(pl.Int64),
    )
    declared = lines.filter(rtype == "88").select(
        "asg", "source_line", d_count=_int(9, 16), d_records=_int(17, 24), d_total=_int(25, 41)
    )
    joined = declared.join(computed, on="asg", how="left").sort("source_line")
    problems = []
    for r in joined.iter_rows(named=True):  # one row per assignment: few, not the hot path
        d = (r["d_count"], r["d_records"], r["d_total"])
        c = (r["c_count"], r["c_records"], r["c_total"])
        if d != c:
            problems.append(
                f"line {r['source_line']}: assignment control totals (88) do not tie: "
                f"declared {_totals_text(*d)}; computed {_totals_text(*c)}"
            )
    c_count = int(lines["tx_first"].sum())
    c_total = int(lines["amount1"].sum() or 0)
    control = {"computed_count": c_count, "computed_total_minor": c_total}
    if not truncated:
        end = lines.filter(rtype == "89").select(
            "source_line", d_count=_int(9, 16), d_records=_int(17, 24), d_total=_int(25, 41)
        ).row(0, named=True)
        d = (end["d_count"], end["d_records"], end["d_total"])
        c = (c_count, lines.height, c_total)
        control.update(declared_count=d[0], declared_total_minor=d[2], declared_records=d[1], computed_records=c[1])
        if d != c:
            problems.append(
                f"line {end['source_line']}: transmission control totals (89) do not tie: "
                f"declared {_totals_text(*d)}; computed {_totals_text(*c)}"
            )
    return problems, control
