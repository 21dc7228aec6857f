"""Nets OCR giro (Norway, KID payments): fixed-width 80-character records, read vectorised as a byte matrix.

The records are rows of one (records x 80) uint8 matrix: a zero-copy numpy view of the file's own bytes when
every line is 80 bytes with the same line end (every real file), else built from the lines (blank lines,
short or long records). Record codes are small integers taken straight from the bytes, amounts are summed
from their digits, and only the fields that end up in a payment become polars text columns: no text column
over the 2M records of a 1M-payment file (each cost 35 MB of fresh memory and its page faults).

The assignment context (account) comes from each start-assignment record (20); amount items 2 and 3 (31,
32) are the records right after their amount item 1 (30), checked by transaction number. Control totals
(88 per assignment, 89 per transmission) are recomputed and compared: a file that does not tie is held back.

Only service 09 (OCR giro) transaction types 10-21 are payments. AvtaleGiro (service 21) assignments, i.e.
payment requests and agreements sent to the creditor, are not: they count in the control totals only.

booking_date is the Nets date of amount item 1: the settlement date, when the money reaches the payee's
account and the date its bank statement shows. The bank date in item 2 is the payer's debit date, and is
000000 in some real files.

Positions are bytes: the file is ISO-8859-1 (one byte per character), and text fields with bytes outside
ASCII are taken from the decoded lines instead of the matrix. docs/performance.md (Readers) has the numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from etl.money import format_minor
from etl.sources.base import SourceResult
from etl.sources.common import SourceError, bound_problems, ddmmyy_expr, fixed_width_bytes, reader_result, verdict
from etl.sources.keys import stable_key_expr
from etl.sources.text import lines_frame

__all__ = ["read_ocr_giro"]

FORMAT = "ocr_giro"
_LEN = 80
_OCR_GIRO = 9  # service code; 21 is AvtaleGiro
_PAYMENT_TYPES = (10, 21)  # transaction types 10-21 (inclusive): money received
_ITEM_FIRST = (30, 70)  # the first record of a transaction (amount item 1; AvtaleGiro agreement)
_ZERO_ACCOUNT = "0" * 11
_NOT_A_CODE = -1  # a two-character code that is not two digits


@dataclass
class _Records:
    """The non-blank records of a file: bytes, physical line numbers, lengths and record codes."""

    m: np.ndarray  # (records, 80) uint8; shorter records padded with spaces, longer ones cut
    line: np.ndarray  # 1-based physical line of each record (int64)
    length: np.ndarray | None  # characters per record; None when every record is 80 long
    raw: Callable[[], pl.DataFrame]  # every physical line (source_line, record): built meanwhile, rarely waited for

    def __post_init__(self) -> None:
        self.svc, self.ttype, self.rtype = _code(self.m, 2), _code(self.m, 4), _code(self.m, 6)

    @property
    def n(self) -> int:
        return self.m.shape[0]

    def head(self, n: int) -> _Records:
        length = None if self.length is None else self.length[:n]
        return _Records(self.m[:n], self.line[:n], length, self.raw)

    def record(self, k: int) -> str:
        """The text of record `k`, as in the file."""
        return self.raw()["record"][int(self.line[k]) - 1]

    def texts(self, rows: np.ndarray, start: int, end: int) -> pl.Series:
        """Field at 1-based inclusive positions start..end of the given records, as text (not stripped).

        ASCII (every real field but free text with Norwegian letters) becomes polars text straight from the
        bytes, with no Python object per row (fixed-size array -> list -> binary -> text); anything else is
        sliced out of the decoded lines (ISO-8859-1), as the file reads.
        """
        sub = self.m[rows, start - 1 : end]
        if sub.size == 0:
            return pl.Series(dtype=pl.String)
        if sub.max() < 0x80:
            return pl.Series(sub).cast(pl.List(pl.UInt8)).cast(pl.Binary).cast(pl.String)
        lines = pl.Series(self.line[rows] - 1, dtype=pl.Int64)
        return self.raw()["record"].gather(lines).str.slice(start - 1, end - start + 1)

    def packed(self, rows: np.ndarray, start: int, end: int) -> np.ndarray:
        """Field at 1-based positions start..end (at most 8 bytes) of the given records as one uint64 each."""
        out = np.zeros((rows.size, 8), dtype=np.uint8)
        out[:, : end - start + 1] = self.m[rows, start - 1 : end]
        return out.view("<u8").ravel()


def _code_table() -> np.ndarray:
    """Two bytes (as a little-endian uint16) -> their two-digit code; _NOT_A_CODE when not two digits."""
    table = np.full(1 << 16, _NOT_A_CODE, dtype=np.int8)
    for code in range(100):
        tens, ones = divmod(code, 10)
        table[(48 + tens) | (48 + ones) << 8] = code
    return table


_CODES = _code_table()


def _code(m: np.ndarray, col: int) -> np.ndarray:
    """The two-digit code at 0-based column `col` of every record as int8 (one table lookup per record)."""
    return _CODES[np.ascontiguousarray(m[:, col : col + 2]).view("<u2").ravel()]


def _digits(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value, all digits?) of each row of a digit matrix, as int64 (at most 18 digits)."""
    value = np.zeros(m.shape[0], dtype=np.int64)
    bad = np.zeros(m.shape[0], dtype=bool)
    for j in range(m.shape[1]):  # Horner over the columns, in place: a few vector operations, no row loop
        d = m[:, j] - np.uint8(48)  # a non-digit wraps around to >= 10
        bad |= d >= 10
        value *= 10
        value += d
    return value, ~bad


def read_ocr_giro(path: Path, data: bytes) -> SourceResult:
    """Read a Nets OCR giro file: payments of service 09, control totals checked (held back when they do not tie).

    The raw lines (every physical line as text, for rejects) are split by polars in a second thread while the
    records are read from the bytes; their count confirms the fixed-width reading, else the lines are read.
    A UTF-8 byte-order mark and CR-only or mixed line ends are dropped / made LF first (common.fixed_width_bytes).
    """
    data = fixed_width_bytes(data)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocr-lines") as pool:
        lines = pool.submit(lines_frame, data)
        fixed = _fixed_records(data, lines.result)
        if fixed is not None:
            try:
                result = _read(path, fixed)
            except SourceError:
                if lines.result().height == fixed.n:
                    raise
            else:
                if lines.result().height == fixed.n:
                    return result
        return _read(path, _line_records(data, lines.result()))


def _read(path: Path, recs: _Records) -> SourceResult:
    truncated = _check_structure(recs)
    last_line = int(recs.line[-1])
    cut_off = truncated and recs.length is not None and bool(recs.length[-1] != _LEN)
    if cut_off:
        recs = recs.head(recs.n - 1)  # a record cut off mid-line has no whole fields: not read
    asg = np.cumsum(recs.rtype == 20, dtype=np.int32)  # assignment number (of the last 20 so far) of every record
    items = _amount_items(recs)
    rows, dropped_tail = _payments(recs, asg, items, truncated)
    problems, control = _control_totals(recs, asg, items, truncated)
    if truncated:
        notes = ["its last record is cut off"] * cut_off + [
            "its last transaction is incomplete and was left out"
        ] * dropped_tail
        tail = f" ({'; '.join(notes)})" if notes else ""
        problems.insert(
            0, f"line {last_line}: the file ends without an end-of-transmission record (89): truncated?{tail}"
        )
    status, message = verdict(path, problems)
    # An amount at or beyond the bound (etl/money.py) is no payment to submit: the row is rejected, quoting it.
    too_big = bound_problems(rows, pl.col("amount_minor").abs().cast(pl.String).str.zfill(17))
    return reader_result(path, FORMAT, rows, recs.raw(), status=status, message=message, control=control,
                         problems=too_big)


def _fixed_records(data: bytes, raw: Callable[[], pl.DataFrame]) -> _Records | None:
    """Every line as a record, from a zero-copy (lines, 80) view of the file's bytes, when every line is 80 bytes
    starting with NY, all ending in LF or all in CRLF (the last one may have none); None otherwise.

    Only the line ends where a fixed width puts them are looked at: that there is no other one (a record
    broken in two) is confirmed by the number of lines (read_ocr_giro)."""
    end = data[_LEN : _LEN + 2]
    if end[:1] == b"\n" and b"\r" not in data:
        stride = _LEN + 1
    elif end == b"\r\n":
        stride = _LEN + 2
    else:
        return None
    if len(data) % stride == _LEN:  # no line end after the last record
        data += end
    if len(data) % stride:
        return None
    m = np.frombuffer(data, dtype=np.uint8).reshape(-1, stride)
    if not (m[:, stride - 1] == ord("\n")).all() or (stride > _LEN + 1 and not (m[:, _LEN] == ord("\r")).all()):
        return None
    if not ((m[:, 0] == ord("N")) & (m[:, 1] == ord("Y"))).all():
        return None  # blank lines, or not OCR giro records: read line by line (and reported there)
    return _Records(m[:, :_LEN], np.arange(1, m.shape[0] + 1, dtype=np.int64), None, raw)


def _line_records(data: bytes, raw: pl.DataFrame) -> _Records:
    """The non-blank lines as records (blank lines are tolerated anywhere), each padded or cut to 80 characters
    (the length is checked apart)."""
    lines = raw.with_columns(ny=pl.col("record").str.starts_with("NY"))
    if not lines["ny"].all():  # only then pay for a whitespace check over every line
        lines = lines.filter(pl.col("ny") | (pl.col("record").str.strip_chars() != ""))
    if lines.height == 0:
        raise SourceError("the file has no records")
    record = pl.col("record")
    # Byte length is free (string views); character length needs a scan: only when there are non-ASCII bytes.
    length = record.str.len_bytes() if data.isascii() else record.str.len_chars()
    fixed = lines.select(
        length=length.cast(pl.Int64), text=record.str.pad_end(_LEN).str.slice(0, _LEN).str.join("")
    )
    # The lines were decoded as ISO-8859-1: one byte per character again, so positions stay positions.
    m = np.frombuffer(fixed["text"][0].encode("latin-1"), dtype=np.uint8).reshape(lines.height, _LEN)
    return _Records(m, lines["source_line"].to_numpy(), fixed["length"].to_numpy(), lambda: raw)


def _check_structure(recs: _Records) -> bool:
    """Raise SourceError at the first line that breaks `10 (20 (30 31 [32])+ 88)+ 89`; return whether truncated."""
    n, rtype, svc = recs.n, recs.rtype, recs.svc
    truncated = not (int(rtype[-1]) == 89 and int(svc[-1]) == 0)
    i = np.arange(n)
    is20, is88 = rtype == 20, rtype == 88
    step = is20.astype(np.int32) - is88.astype(np.int32)
    depth = np.cumsum(step, dtype=np.int32) - step  # open assignments before this record
    ocr_record = np.isin(rtype, [10, 20, 30, 31, 32, 88, 89])
    outside = ~np.isin(rtype, [10, 20, 88, 89]) & (depth != 1)

    def long_or_short() -> np.ndarray:
        bad = recs.length != _LEN
        if truncated:  # a truncated file may end in a cut-off record: that one is allowed to be short
            bad[-1] = False
        return bad

    rules = [
        (lambda: (recs.m[:, 0] != ord("N")) | (recs.m[:, 1] != ord("Y")), "not an OCR giro record (does not start with 'NY')"),
        (long_or_short if recs.length is not None else None, f"record is not {_LEN} characters long"),
        (lambda: (i == 0) & (rtype != 10), "the file must start with a start-of-transmission record (10)"),
        (lambda: (rtype == 10) & (i > 0), "a second start-of-transmission record (10)"),
        (lambda: (rtype == 89) & (i < n - 1), "records after the end-of-transmission record (89)"),
        (lambda: (rtype == 89) & (depth != 0), "end of transmission (89) inside an open assignment (no 88)"),
        (lambda: is20 & (depth != 0), "start of assignment (20) before the previous assignment ended (88)"),
        (lambda: is88 & (depth != 1), "end of assignment (88) without a start of assignment (20)"),
        (lambda: outside, "transaction record outside an assignment (no start record 20 before it)"),
        (lambda: (svc == _OCR_GIRO) & ~ocr_record, "unknown record type in an OCR giro assignment"),
    ]
    for mask, problem in rules:  # the first rule, in order, that any record breaks; its first record
        if mask is None:
            continue
        broken = mask()
        if broken.any():
            k = int(broken.argmax())
            raise SourceError(f"record type {recs.record(k)[6:8]}: {problem}", int(recs.line[k]))
    return truncated


@dataclass
class _Items:
    """First records of transactions (30, 70) of every service: row, and the signed amount of each 30."""

    rows: np.ndarray
    amount: np.ndarray  # int64; 0 where there is none
    has_amount: np.ndarray  # bool: a 30 whose amount is all digits


def _amount_items(recs: _Records) -> _Items:
    """Every 30 and 70 record, with the signed amount of each 30."""
    rows = np.flatnonzero(np.isin(recs.rtype, _ITEM_FIRST))
    # The amount (33-49) reads as text-to-integer always read it: 17 digits, the first of which may be a sign.
    amount, ok = _digits(recs.m[rows, 33:49])
    first = recs.m[rows, 32]
    signed = (first == ord("-")) | (first == ord("+"))
    lead, lead_ok = _digits(first[:, None])
    ok &= lead_ok | signed
    amount += np.where(lead_ok, lead, 0) * 10**16
    amount[(first == ord("-")) != (recs.m[rows, 31] == ord("-"))] *= -1  # sign 32: '-' for a credit note
    has = ok & (recs.rtype[rows] == 30)
    amount[~has] = 0
    return _Items(rows, amount, has)


def _dates(recs: _Records, rows: np.ndarray, start: int) -> tuple[pl.Series, pl.Series]:
    """DDMMYY at `start` of the given records -> (Date, ISO text), computed once per distinct value: a file
    holds few dates, and 1M strptimes (or Date -> text casts for the key) cost 0.1-0.2 s each."""
    packed = pl.Series(recs.packed(rows, start, start + 5))
    firsts = pl.DataFrame({"value": packed}).with_row_index("at").group_by("value").agg(pl.col("at").first())
    values = firsts["value"]
    text = recs.texts(rows[firsts["at"].to_numpy()], start, start + 5)
    distinct = pl.DataFrame({"text": text}).with_columns(date=ddmmyy_expr(pl.col("text")))
    distinct = distinct.with_columns(iso=pl.col("date").cast(pl.String))
    by_value = packed.replace_strict
    return (
        by_value(values, distinct["date"], return_dtype=pl.Date),
        by_value(values, distinct["iso"], return_dtype=pl.String),
    )


def _same_transaction(recs: _Records, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether records a and b carry the same transaction number (9-15)."""
    return recs.packed(a, 9, 15) == recs.packed(b, 9, 15)


def _free_texts(recs: _Records, tx: np.ndarray) -> pl.Series:
    """Amount item 3 text (32, types 20/21, after its items 1 and 2) of every transaction `tx`; null if none.

    Found from the 32 records themselves: transactions without one pay nothing for it."""
    r32 = np.flatnonzero(recs.rtype == 32)
    r32 = r32[r32 >= 2]
    item1 = r32 - 2
    same = (recs.rtype[item1] == 30) & _same_transaction(recs, item1, r32)
    r32, item1 = r32[same], item1[same]
    at = np.searchsorted(tx, item1)
    hit = at < tx.size
    hit[hit] = tx[at[hit]] == item1[hit]
    r32, at = r32[hit], at[hit]
    texts = recs.texts(r32, 16, 55).str.strip_chars()
    which = np.full(tx.size, -1, dtype=np.int64)
    which[at] = np.arange(at.size)
    index = pl.select(pl.when(pl.lit(pl.Series(which)) >= 0).then(pl.lit(pl.Series(which)))).to_series()
    return texts.gather(index).replace("", None)


def _payments(recs: _Records, asg: np.ndarray, items: _Items, truncated: bool) -> tuple[pl.DataFrame, bool]:
    """One row per OCR giro payment (service 09, types 10-21): item 1 with items 2 and 3 from the next records."""
    rows, n = items.rows, recs.n
    ttype = recs.ttype[rows]
    is_tx = (recs.svc[rows] == _OCR_GIRO) & (recs.rtype[rows] == 30) & (ttype >= _PAYMENT_TYPES[0]) & (
        ttype <= _PAYMENT_TYPES[1]
    )
    tx, amount, has_amount = rows[is_tx], items.amount[is_tx], items.has_amount[is_tx]
    # Item 2 is the record right after item 1, with the same transaction number.
    nxt = np.minimum(tx + 1, n - 1)
    has31 = (recs.rtype[nxt] == 31) & _same_transaction(recs, nxt, tx) & (tx + 1 < n)
    dropped_tail = False
    if truncated:
        # The cut may fall between items 1 and 2 of the last transaction: leave that one out.
        tail = ~has31 & (tx + 1 >= n)
        dropped_tail = bool(tail.any())
        if dropped_tail:
            keep = ~tail
            tx, amount, has_amount, nxt, has31 = tx[keep], amount[keep], has_amount[keep], nxt[keep], has31[keep]
    if not has31.all():
        k = int(tx[int((~has31).argmax())])
        raise SourceError(
            f"amount item 1 (30) of transaction {recs.record(k)[8:15]} is not followed by its amount item 2 (31)",
            int(recs.line[k]),
        )
    if not has_amount.all():
        k = int(tx[int((~has_amount).argmax())])
        raise SourceError(f"amount {recs.record(k)[32:49]!r} is not a number", int(recs.line[k]))
    account = _assignment_account(recs)
    booking_date, date_iso = _dates(recs, tx, 16)
    frame = pl.DataFrame(
        {
            "source_line": recs.line[tx],
            "account": account.gather(pl.Series(asg[tx], dtype=pl.UInt32)),
            "booking_date": booking_date,
            "_date_iso": date_iso,
            "amount_minor": amount,
            "kid": recs.texts(tx, 50, 74),
            "message": _free_texts(recs, tx),
            "debit": recs.texts(nxt, 48, 58),
            "archive": recs.texts(nxt, 26, 34),
        }
    )
    kid, archive = pl.col("kid").str.strip_chars(), pl.col("archive").str.strip_chars()
    rows_out = (
        frame.lazy()
        .select(
            "source_line",
            "account",
            "booking_date",
            "_date_iso",
            "amount_minor",
            currency=pl.lit("NOK"),
            reference=pl.when(kid != "").then(kid),  # a string: leading zeros are part of the KID
            message="message",
            payer_name=pl.lit(None, dtype=pl.String),
            payer_account=pl.when(pl.col("debit") != _ZERO_ACCOUNT).then("debit"),
            bank_ref=pl.when(archive != "").then(archive),
        )
        # docs/contracts.md: assignment account, Nets date, archive reference, KID, amount; never the transaction number.
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
    return rows_out, dropped_tail


def _assignment_account(recs: _Records) -> pl.Series:
    """The account (25-35, 11 digits by the specification) of assignment number k at index k: the k-th start
    record (20) opens assignment k; null at 0, before the first."""
    starts = np.flatnonzero(recs.rtype == 20)
    return pl.Series([None], dtype=pl.String).append(recs.texts(starts, 25, 35))


def _totals(count: int | None, records: int | None, total: int | None) -> str:
    amount = format_minor(total) if total is not None else "?"
    return f"{count} transactions, {records} records, {amount}"


def _control_totals(
    recs: _Records, asg: np.ndarray, items: _Items, truncated: bool
) -> tuple[list[str], dict[str, int]]:
    """Compare every 88 and the 89 with what the records add up to; return the mismatches and the control dict."""
    computed = (
        pl.DataFrame({"asg": asg[items.rows], "amount": items.amount})
        .group_by("asg")
        .agg(c_count=pl.len().cast(pl.Int64), c_total=pl.col("amount").sum().cast(pl.Int64))
    )
    at = np.flatnonzero(np.isin(recs.rtype, [20, 88, 89]))  # few lines: the rest is counted by position
    bounds = pl.DataFrame(
        {
            "i": at,
            "asg": asg[at],
            "rtype": recs.rtype[at],
            "source_line": recs.line[at],
            "record": recs.texts(at, 1, _LEN),
        }
    )
    field = pl.col("record").str.slice
    starts = bounds.filter(pl.col("rtype") == 20).select("asg", start=pl.col("i"))
    declared = (
        bounds.filter(pl.col("rtype") == 88)
        .select(
            "asg",
            "i",
            "source_line",
            d_count=field(8, 8).cast(pl.Int64, strict=False),
            d_records=field(16, 8).cast(pl.Int64, strict=False),
            d_total=field(24, 17).cast(pl.Int64, strict=False),
        )
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
    c_count, c_total = items.rows.size, int(items.amount.sum())
    control = {"computed_count": c_count, "computed_total_minor": c_total, "computed_records": recs.n}
    ends = bounds.filter(pl.col("rtype") == 89)
    if not truncated and ends.height:
        end = ends.row(0, named=True)
        rec = end["record"]
        d = (_to_int(rec[8:16]), _to_int(rec[16:24]), _to_int(rec[24:41]))
        c = (c_count, recs.n, c_total)
        control.update(declared_count=d[0], declared_records=d[1], declared_total_minor=d[2])
        if d != c:
            problems.append(
                f"line {end['source_line']}: transmission control totals (89) do not tie: "
                f"declared {_totals(*d)}; computed {_totals(*c)}"
            )
    return problems, control


def _to_int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None
