"""SWIFT MT940 statements through the mt-940 package, one statement (`:20:` to the next) at a time.

Each `:61:` line is a row; its `:86:` text is kept whole as `message` (Nordic banks write free text there), a
`KID` in it becomes `reference`, and the customer reference (unless NONREF) and the bank reference go to
`extra_references`. The sign comes from the mark: C and RD (reversal of a debit) add, D and RC subtract (the
package counts RC as a credit, which does not tie real statements). Per statement, opening (`:60F:`/`:60M:`) +
entries = closing (`:62F:`/`:62M:`) is checked; a statement that does not tie, or has no balances, holds the
file back.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from decimal import Decimal
from pathlib import Path

import polars as pl
from mt940.models import Transactions

from etl.money import AMOUNT_LIMIT_MINOR, format_minor
from etl.sources.base import BALANCE_SCHEMA, PROBLEM_SCHEMA, SourceResult, empty_frame
from etl.sources.common import SourceError, reader_result, verdict
from etl.sources.keys import occurrence_expr, stable_key_expr

__all__ = ["read_mt940"]

# The package logs every tag it cannot parse at ERROR (to stderr when nothing is configured); the reader turns
# that failure into its own one-line message, so the package's log is noise.
_PACKAGE_LOG = logging.getLogger("mt940")
_PACKAGE_LOG.addHandler(logging.NullHandler())
_PACKAGE_LOG.propagate = False

FORMAT = "mt940"
_STATEMENT = re.compile(r"^:20:", re.MULTILINE)
_TAG = re.compile(r"^:(\d\d[A-Z]?):", re.MULTILINE)
_KID = re.compile(r"\bKID[:.\s]*(\d{2,25})\b", re.IGNORECASE)
_DIGITS_ONLY = re.compile(r"[\d\s./\-]+")
_NEGATIVE = {"D", "RC"}


def _decode(data: bytes) -> str:
    """UTF-8 when it is, else ISO-8859-1 (SWIFT's own character set is a subset of both)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _account(ident: str | None) -> str | None:
    """A Norwegian IBAN as its 11-digit BBAN, a number with separators as digits, anything else as written."""
    if not ident:
        return None
    ident = ident.strip().replace(" ", "")
    if ident.upper().startswith("NO") and len(ident) == 15:
        return ident[4:]
    return re.sub(r"\D", "", ident) if _DIGITS_ONLY.fullmatch(ident) else ident


def _minor(amount: Decimal) -> int | None:
    """|amount| in minor units, exactly; None when it has more than two decimals (never rounded) or is at or
    beyond the bound (etl/money.py)."""
    minor = abs(amount) * 100
    if not minor.is_finite() or minor != minor.to_integral_value() or minor >= AMOUNT_LIMIT_MINOR:
        return None
    return int(minor)


def _balance(data: dict, *keys: str):  # noqa: ANN202 - mt940.models.Balance
    return next((data[k] for k in keys if data.get(k) is not None), None)


def _date(value: object) -> dt.date | None:
    return dt.date(value.year, value.month, value.day) if value is not None else None  # type: ignore[attr-defined]


def read_mt940(path: Path, data: bytes) -> SourceResult:
    """Read an MT940 file: one row per :61:, per-statement balances checked (held back when they do not tie)."""
    text = _decode(data).replace("\r\n", "\n").replace("\r", "\n")
    starts = [m.start() for m in _STATEMENT.finditer(text)]
    if not starts:
        raise SourceError("no statement (:20:) found")
    rows: list[dict] = []
    balances: list[dict] = []
    checks: list[str] = []
    problems: list[dict] = []
    first_line = text.count("\n", 0, starts[0]) + 1
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(text)
        chunk = text[start:end]
        _statement(chunk, first_line, rows, balances, checks, problems)
        first_line += chunk.count("\n")
    frame = _rows_frame(rows)
    raw = pl.DataFrame(
        {"source_line": [r["source_line"] for r in rows], "record": [r["_raw"] for r in rows]},
        schema={"source_line": pl.Int64, "record": pl.String},
    )
    status, message = verdict(path, checks)
    return reader_result(
        path, FORMAT, frame, raw,
        status=status,
        message=message,
        problems=pl.DataFrame(problems, schema=PROBLEM_SCHEMA),
        control={"computed_count": frame.height, "computed_total_minor": int(frame["amount_minor"].sum() or 0),
                 "statements": len(starts)},
        balances=pl.DataFrame(balances, schema=BALANCE_SCHEMA) if balances else empty_frame(BALANCE_SCHEMA),
    )


def _statement(
    chunk: str, first_line: int, rows: list[dict], balances: list[dict], checks: list[str], problems: list[dict]
) -> None:
    """Parse one statement into `rows` and `balances`; append to `checks` what does not tie."""
    parsed = Transactions()
    try:
        parsed.parse(chunk)
    except Exception as exc:  # the package raises plain errors for malformed tags: name the tag and its line
        raise _tag_error(exc, chunk, first_line) from None
    info = parsed.data
    ref = info.get("transaction_reference")
    account = _account(info.get("account_identification"))
    opening = _balance(info, "final_opening_balance", "intermediate_opening_balance")
    closing = _balance(info, "final_closing_balance", "intermediate_closing_balance")
    lines_61, texts_86 = _lines_and_details(chunk, first_line)
    if len(lines_61) != len(parsed.transactions):  # should not happen; keep lineage at the statement then
        lines_61, texts_86 = [first_line] * len(parsed.transactions), [None] * len(parsed.transactions)
    chunk_lines = chunk.splitlines()
    net = 0
    for line, details, tx in zip(lines_61, texts_86, parsed.transactions, strict=True):
        d = tx.data
        amount = d.get("amount")
        minor = _minor(amount.amount)
        if minor is None:  # the row is rejected, and the statement no longer ties: held back too
            problems.append({"source_line": line, "error_column": "amount_minor", "error_check": "amount_format",
                             "error_message": f"amount '{amount.amount}' is not an amount: more than two decimals "
                                              "(never rounded) or beyond the bound |amount| < 10^13"})
        else:
            minor *= -1 if d.get("status") in _NEGATIVE else 1
            net += minor
        kid = _KID.search(details or "")
        cust = d.get("customer_reference")
        cust = None if not cust or cust.upper() == "NONREF" else cust.strip()
        bank = (d.get("bank_reference") or "").strip() or None
        extra = [r for r in (cust, bank) if r]
        rows.append({
            "source_line": line, "account": account, "booking_date": _date(d.get("entry_date") or d.get("date")),
            "amount_minor": minor, "currency": amount.currency or (opening.amount.currency if opening else None),
            "reference": kid.group(1) if kid else None, "extra_references": ";".join(extra) or None,
            "message": details, "payer_name": None, "payer_account": (d.get("extra_details") or "").strip() or None,
            "bank_ref": bank or d.get("id"), "_ref": ref, "_cust": cust,
            "_raw": chunk_lines[line - first_line] + (f" :86:{details}" if details else ""),
        })
    where = f"line {first_line}: statement {ref or '?'}"
    if opening is None or closing is None:
        missing = " and ".join(n for n, b in (("opening (:60F:/:60M:)", opening), ("closing (:62F:/:62M:)", closing))
                               if b is None)
        checks.append(f"{where}: no {missing} balance: truncated?")
    else:
        o, c = _signed(opening), _signed(closing)
        if o + net != c:
            checks.append(
                f"{where}: balances do not tie: opening {format_minor(o)} + entries {format_minor(net)} = "
                f"{format_minor(o + net)}, but closing is {format_minor(c)}"
            )
    if opening is not None or closing is not None:
        balances.append({
            "source_line": first_line, "statement_id": ref, "account": account,
            "currency": (closing or opening).amount.currency,
            "opening_minor": _signed(opening), "closing_minor": _signed(closing),
            "opening_date": _date(opening.date) if opening else None,
            "closing_date": _date(closing.date) if closing else None,
            "entries_minor": net, "entries": len(parsed.transactions),
        })


def _tag_error(exc: Exception, chunk: str, first_line: int) -> SourceError:
    """A one-line SourceError for the package's parse error: `(message, tag, value)` when it is a bad tag."""
    args = exc.args
    if len(args) == 3 and isinstance(args[2], str) and hasattr(args[1], "id"):
        value = args[2]
        at = chunk.find(value)
        line = first_line + (chunk.count("\n", 0, at) if at >= 0 else 0)
        return SourceError(f"tag :{args[1].id}: cannot be read: {value.splitlines()[0]!r}", line)
    bad = _bad_61_amount(chunk)
    if bad is not None:  # the package's decimal error names no field: say which :61: amount it was
        offset, text = bad
        return SourceError(f":61: amount {text!r} is not an amount (digits, one decimal comma)",
                           first_line + chunk.count("\n", 0, offset))
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return SourceError(f"statement cannot be read: {detail}", first_line)


# :61: value date, optional entry date, (R)C/D, optional funds code, then the amount up to the transaction type.
_F61 = re.compile(r"^:61:\d{6}(?:\d{4})?R?[CD][A-Z]?([^N\r\n]*)", re.M)
_AMOUNT = re.compile(r"\d{1,15},\d{0,2}")


def _bad_61_amount(chunk: str) -> tuple[int, str] | None:
    """(offset, text) of the first :61: whose amount is not SWIFT's `digits,decimals`, or None."""
    for m in _F61.finditer(chunk):
        if not _AMOUNT.fullmatch(m.group(1)):
            return m.start(), m.group(1)
    return None


def _lines_and_details(chunk: str, first_line: int) -> tuple[list[int], list[str | None]]:
    """The line of every :61: and the text of the :86: that follows it (None when none), as written: the
    package parses some banks' :86: into fields and drops the text, and Nordic banks' free text is what matters."""
    tags = list(_TAG.finditer(chunk))
    lines, texts = [], []
    for k, m in enumerate(tags):
        if m.group(1) != "61":
            continue
        lines.append(first_line + chunk.count("\n", 0, m.start()))
        nxt = tags[k + 1] if k + 1 < len(tags) else None
        if nxt is not None and nxt.group(1) == "86":
            end = tags[k + 2].start() if k + 2 < len(tags) else len(chunk)
            text = chunk[nxt.end() : end].rstrip("\n-").replace("\n", "").strip()
            texts.append(text or None)
        else:
            texts.append(None)
    return lines, texts


def _signed(balance) -> int | None:  # noqa: ANN001 - mt940.models.Balance
    """A balance in signed minor units (debit balances are negative); None when absent."""
    return None if balance is None else int((balance.amount.amount * 100).to_integral_value())


def _rows_frame(rows: list[dict]) -> pl.DataFrame:
    """Rows as a frame with the stable key MT940-<hash of account, booking date, amount, customer reference,
    bank reference, :86: text, occurrence>."""
    schema = {"source_line": pl.Int64, "account": pl.String, "booking_date": pl.Date, "amount_minor": pl.Int64,
              "currency": pl.String, "reference": pl.String, "extra_references": pl.String, "message": pl.String,
              "payer_name": pl.String, "payer_account": pl.String, "bank_ref": pl.String, "_cust": pl.String}
    frame = pl.DataFrame([{k: r[k] for k in schema} for r in rows], schema=schema)
    parts = [pl.col(c) for c in ("account", "booking_date", "amount_minor", "_cust", "bank_ref", "message")]
    return frame.with_columns(payment_key=stable_key_expr("MT940", [*parts, occurrence_expr(parts)])).drop("_cust")
