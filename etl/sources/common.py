"""What the readers share: the known-problem exception, lineage columns, results for files that could not be read."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import polars as pl

from etl.errors import InputError
from etl.money import AMOUNT_LIMIT_MINOR
from etl.sources.base import (
    INVOICE_SCHEMA,
    OPTIONAL_PAYMENT_COLUMNS,
    PAYMENT_SCHEMA,
    PROBLEM_SCHEMA,
    SourceResult,
    empty_frame,
)

__all__ = [
    "SourceError",
    "column_letters",
    "with_lineage",
    "format_kind",
    "reader_result",
    "failed_result",
    "sheets_result",
    "problems_frame",
    "first_row",
    "first_broken_rule",
    "verdict",
    "ddmmyy_expr",
    "digits_expr",
    "KIND_SCHEMA",
    "fixed_width_bytes",
    "bound_problems",
]

KIND_SCHEMA = {"payments": PAYMENT_SCHEMA, "invoices": INVOICE_SCHEMA, "unknown": PAYMENT_SCHEMA}


class SourceError(InputError):
    """A known problem with an input file; `read_source` turns it into an 'unreadable' result, never a crash."""

    def __init__(self, problem: str, line: int | None = None, sheet: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line  # 1-based physical line; for .xlsx the sheet row
        self.sheet = sheet

    def message(self, path: Path) -> str:
        """`<file>: line N: <problem>` (`sheet 'S' row N:` for .xlsx; no location when not on one line)."""
        if self.sheet is not None:
            where = f"sheet {self.sheet!r} row {self.line}: " if self.line else f"sheet {self.sheet!r}: "
        else:
            where = f"line {self.line}: " if self.line else ""
        return f"{path}: {where}{self.problem}"


def with_lineage(rows: pl.DataFrame, schema: dict[str, pl.DataType], *, path: Path, fmt: str) -> pl.DataFrame:
    """Add the lineage columns and return exactly `schema`'s columns, in order, with its types.

    `source_sha256` stays empty: the file's hash is read_source's to add (it is computed beside the reader).
    """
    extra = {"source_file": pl.lit(str(path)), "source_sha256": pl.lit(None, dtype=pl.String), "format": pl.lit(fmt)}
    if "source_sheet" not in rows.columns:
        extra["source_sheet"] = pl.lit(None, dtype=pl.String)
    for name in OPTIONAL_PAYMENT_COLUMNS:  # only some formats have them
        if name in schema and name not in rows.columns:
            extra[name] = pl.lit(None, dtype=schema[name])
    return rows.with_columns(**extra).select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def format_kind(fmt: str) -> str:
    """What a format's rows are: "invoices" for the invoice exports, else "payments"."""
    return "invoices" if fmt.startswith("invoices_") else "payments"


def reader_result(path: Path, fmt: str, rows: pl.DataFrame, raw: pl.DataFrame, **fields: Any) -> SourceResult:
    """A reader's result: `rows` with the lineage columns, in the schema of the format's kind; `fields` as given.

    The file's sha256 (the result's and the rows' `source_sha256`) is left for read_source to fill in.
    """
    kind = format_kind(fmt)
    return SourceResult(path=path, format=fmt, kind=kind, sha256="", raw=raw,
                        rows=with_lineage(rows, KIND_SCHEMA[kind], path=path, fmt=fmt), **fields)


def sheets_result(parts: list[SourceResult]) -> SourceResult:
    """One workbook's result from its sheets' results (one per sheet of data, see SourceResult.sheets): rows and raw
    of every sheet (source_sheet tells them apart); a single sheet is its own result, as before."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    raw = pl.concat([p.raw.with_columns(source_sheet=pl.lit(p.rows.get_column("source_sheet").first() if p.rows.height
                                                                 else None, dtype=pl.String)) for p in parts],
                    how="diagonal_relaxed")
    lines = [p.lines for p in parts if p.lines is not None]
    return SourceResult(
        path=first.path, format=first.format, kind=first.kind, sha256="", raw=raw,
        rows=pl.concat([p.rows for p in parts], how="vertical_relaxed"), layout=first.layout,
        lines=pl.concat(lines, how="vertical_relaxed") if lines else None, sheets=tuple(parts),
    )


def failed_result(
    path: Path,
    status: str,
    message: str,
    *,
    fmt: str | None = None,
    kind: str = "unknown",
    raw: pl.DataFrame | None = None,
    layout: str | None = None,
) -> SourceResult:
    """A result with no rows: the file was unreadable or unrecognised."""
    return SourceResult(
        path=path,
        format=fmt,
        kind=kind,
        sha256="",
        rows=empty_frame(KIND_SCHEMA[kind]),
        raw=raw if raw is not None else pl.DataFrame(schema={"source_line": pl.Int64()}),
        status=status,
        message=message,
        layout=layout,
    )


def problems_frame(frame: pl.DataFrame, column: str | None, check: str, message: str | pl.Expr) -> pl.DataFrame:
    """Row problems in PROBLEM_SCHEMA, one per row of `frame` (which has a `source_line`)."""
    if frame.height == 0:
        return empty_frame(PROBLEM_SCHEMA)
    msg = message if isinstance(message, pl.Expr) else pl.lit(message)
    return frame.select(
        pl.col("source_line").cast(pl.Int64),
        error_column=pl.lit(column, dtype=pl.String),
        error_check=pl.lit(check),
        error_message=msg.cast(pl.String),
    )


def first_row(frame: pl.DataFrame, mask: pl.Expr) -> dict | None:
    """The first row where `mask` holds, as a dict; None when there is none."""
    hit = frame.filter(mask).head(1)
    return hit.row(0, named=True) if hit.height else None


def first_broken_rule(frame: pl.DataFrame, rules: list[tuple[pl.Expr, str]]) -> tuple[dict, str] | None:
    """(first offending row, problem) of the first rule, in order, that a row breaks; None when all hold.

    One lazy pass evaluates every rule (shared sub-expressions once); only a broken rule pays for its first row.
    """
    broken = frame.lazy().select([mask.any().alias(str(k)) for k, (mask, _) in enumerate(rules)]).collect().row(0)
    for (mask, problem), hit in zip(rules, broken, strict=True):
        if hit:
            return first_row(frame, mask), problem
    return None


def verdict(path: Path, problems: list[str], shown: int = 3) -> tuple[str, str]:
    """(status, message) for a file read whole: held back with a one-line message when its checks found problems."""
    if not problems:
        return "ok", ""
    more = f" (and {len(problems) - shown} more)" if len(problems) > shown else ""
    return "held_back", f"{path}: " + "; ".join(problems[:shown]) + more


def fixed_width_bytes(data: bytes) -> bytes:
    """A fixed-width file's bytes as the readers split them: without a UTF-8 byte-order mark (Notepad and many
    editors write one), and with LF line ends when CR-only or mixed line ends occur (a copy, only then); plain LF
    or CRLF files come back as they are."""
    data = data.removeprefix(codecs.BOM_UTF8)
    cr = data.count(b"\r")
    if cr and cr != data.count(b"\r\n"):
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data


def bound_problems(rows: pl.DataFrame, raw: pl.Expr) -> pl.DataFrame:
    """Row problems for payments at or beyond the amount bound (etl/money.py: |amount| < 10^13 major units), quoting
    the amount field `raw` (an expression over `rows`); empty when there are none (one cheap test first)."""
    out = pl.col("amount_minor").abs() >= AMOUNT_LIMIT_MINOR
    if rows.height == 0 or not rows.select(out.any()).item():
        return empty_frame(PROBLEM_SCHEMA)
    return problems_frame(
        rows.filter(out), "amount_minor", "amount_bound",
        pl.lit("amount '") + raw + pl.lit("' is beyond the bound: |amount| must be under 10^13 (not submitted)"),
    )


def ddmmyy_expr(text: pl.Expr) -> pl.Expr:
    """DDMMYY -> Date with a century window (YY < 80 is 20YY); null when it is not a date (e.g. 000000)."""
    yy = text.str.slice(4, 2).cast(pl.Int32, strict=False)
    year = pl.when(yy < 80).then(yy + 2000).otherwise(yy + 1900).cast(pl.String)
    iso = pl.concat_str([year, text.str.slice(2, 2), text.str.slice(0, 2)], separator="-")
    return iso.str.strptime(pl.Date, "%Y-%m-%d", strict=False)


def digits_expr(text: pl.Expr, *, strip_zeros: bool = False) -> pl.Expr:
    """Only the digits of an account number; null when none are left (all-zero counts as none when stripping)."""
    d = text.str.replace_all(r"\D", "")
    if strip_zeros:
        d = d.str.strip_chars_start("0")
    return pl.when(d.str.len_chars() > 0).then(d)


def column_letters(n: int) -> str:
    """Excel's name of the 1-based column `n`: 1 -> A, 27 -> AA, 16384 -> XFD."""
    letters = ""
    while n:
        n, r = divmod(n - 1, 26)
        letters = chr(65 + r) + letters
    return letters
