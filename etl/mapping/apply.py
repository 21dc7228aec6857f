"""Apply a layout to a frame of text cells: canonical columns as polars expressions (no per-row Python)."""

from __future__ import annotations

from functools import partial

import polars as pl

from etl.errors import InputError
from etl.mapping.layout import Layout
from etl.money import amount_problem_expr, parse_amounts, plain_amount_columns, plain_amount_expr

__all__ = [
    "apply_mapping",
    "check_columns",
    "parse_date_expr",
    "reference_in_text_expr",
    "account_expr",
    "resolve_decimal",
    "MissingColumnError",
    "split_amount_problems",
    "AMOUNT_CHECK",
]

# Columns that travel with the rows untouched (lineage added by the reader).
_PASS_THROUGH = ("source_line", "source_sheet")


class MissingColumnError(InputError):
    """A column the layout maps is not in the file."""

    def __init__(self, layout: Layout, column: str, field: str, available: list[str]) -> None:
        self.column, self.field, self.available = column, field, available
        have = ", ".join(repr(c) for c in available) or "none"
        super().__init__(
            f"column {column!r} (mapped as {field} by layout {layout.name!r}) is missing; the file has: {have}"
        )


def check_columns(columns: list[str], layout: Layout) -> None:
    """Raise MissingColumnError for the first mapped column that `columns` lacks (optional_header's may be absent)."""
    present = set(columns) | set(layout.optional_header)
    mapped = [
        *layout.columns.items(),
        *((f"line {f}", (c,)) for f, c in layout.line_columns.items()),
        *(("skip_rows_matching", (c,)) for c in layout.skip_rows_matching),
    ]
    for field, cols in mapped:
        for col in cols:
            if col not in present:
                raise MissingColumnError(layout, col, field, [c for c in columns if c not in _PASS_THROUGH])


_AMOUNT_FIELDS = ("amount", "amount_in", "amount_out", "amount_excl_vat", "vat_amount", "amount_incl_vat")


def _blank_to_null(e: pl.Expr) -> pl.Expr:
    s = e.cast(pl.String).str.strip_chars()
    return pl.when(s != "").then(s)


_AS_READ = {*_AMOUNT_FIELDS, "booking_date", "invoice_date", "due_date", "account", "payer_account"}


def _tmp(field: str) -> str:
    return f"__{field}"


def _source_text(layout: Layout, field: str) -> pl.Expr:
    """A field's text from its source column(s): stripped, blank as null; several columns joined with a space.

    Amounts, dates and accounts are taken as they are: their parsers ignore surrounding blanks (the date and
    account fallbacks in `_repair` strip), and skipping the strip saves a pass per column.
    """
    cols = layout.columns[field]
    if field in _AS_READ and len(cols) == 1:
        return pl.col(cols[0]).cast(pl.String)
    parts = [_blank_to_null(pl.col(c)) for c in cols]
    if len(parts) == 1:
        return parts[0]
    return pl.concat_str(parts, separator=" ", ignore_nulls=True).replace("", None)


def _text(layout: Layout, field: str) -> pl.Expr:
    """A field's text, as materialised by apply_mapping's first step; null when the layout does not map it."""
    if field not in layout.columns:
        return pl.lit(None, dtype=pl.String)
    return pl.col(_tmp(field))


def parse_date_expr(text: pl.Expr, formats: tuple[str, ...]) -> pl.Expr:
    """Date from text by the layout's formats, else ISO (also `2026-10-01 00:00:00`, as Excel dates read); else null."""
    iso = text.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$", 1)
    tries = [text.str.strptime(pl.Date, fmt, strict=False) for fmt in formats]
    return pl.coalesce([*tries, iso.str.strptime(pl.Date, "%Y-%m-%d", strict=False)])


def reference_in_text_expr(text: pl.Expr) -> pl.Expr:
    """A KID / OCR number in a text cell: the cell if it is 2-25 digits (spaces allowed), else digits after KID/OCR."""
    compact = text.str.replace_all(r"[\s\u00a0]", "")
    whole = pl.when(compact.str.contains(r"^\d{2,25}$")).then(compact)
    labelled = text.str.extract(r"(?i)\b(?:kid|ocr)(?:-?nr\.?|-?nummer)?[\s:.#]*(\d(?:[ \u00a0]?\d){1,24})\b", 1)
    labelled = labelled.str.replace_all(r"[ \u00a0]", "")
    return pl.coalesce([whole, pl.when(labelled.str.len_chars() <= 25).then(labelled)])


_ACCOUNT_FIELDS = ("account", "payer_account")
_IBAN = r"^[A-Z]{2}\d{2}[A-Z0-9]{8,30}$"


def account_expr(e: pl.Expr) -> pl.Expr:
    """An account as compared and checked: an IBAN stays an IBAN (compact, upper case), anything else keeps its
    digits only (`1503.32.12345` -> `15033212345`); null when nothing is left."""
    compact = e.str.replace_all(r"[\s.\-]", "").str.to_uppercase()
    d = e.str.replace_all(r"\D", "")
    digits = pl.when(d.str.len_chars() > 0).then(d)
    return pl.when(compact.str.contains(_IBAN)).then(compact).otherwise(digits)


def _fixed_or(layout: Layout, field: str, fixed: str | None) -> pl.Expr:
    """The mapped column's text, falling back to the layout's fixed value (e.g. currency = "NOK")."""
    text = _text(layout, field)
    return text if fixed is None else pl.coalesce([text, pl.lit(fixed)])


def _minor(layout: Layout, field: str) -> pl.Expr:
    """A money field in minor units, as materialised by apply_mapping's second step; null when not mapped."""
    if field not in layout.columns:
        return pl.lit(None, dtype=pl.Int64)
    return pl.col(_tmp(field))


def _bank(layout: Layout) -> list[pl.Expr]:
    if "amount" in layout.columns:
        amount = _minor(layout, "amount")
    else:
        # Out is always money leaving the account, whatever sign the bank prints it with (SpareBank 1 prints -348,56).
        inn, out = _minor(layout, "amount_in"), _minor(layout, "amount_out")
        amount = pl.when(inn.is_null() & out.is_null()).then(None).otherwise(inn.fill_null(0) - out.abs().fill_null(0))
    reference = reference_in_text_expr(_text(layout, "reference")) if "reference" in layout.columns else None
    return [
        _fixed_or(layout, "account", layout.account).alias("account"),
        _first_date(layout, "booking_date"),
        amount.cast(pl.Int64).alias("amount_minor"),
        _fixed_or(layout, "currency", layout.currency).str.to_uppercase().alias("currency"),
        (reference if reference is not None else pl.lit(None, dtype=pl.String)).alias("reference"),
        _text(layout, "message").alias("message"),
        _text(layout, "payer_name").alias("payer_name"),
        _text(layout, "payer_account").alias("payer_account"),
        _text(layout, "bank_ref").alias("bank_ref"),
    ]


def _invoices(layout: Layout) -> list[pl.Expr]:
    money = partial(_minor, layout)
    return [
        _text(layout, "invoice_number").alias("invoice_number"),
        _text(layout, "customer_number").alias("customer_number"),
        _text(layout, "customer_name").alias("customer_name"),
        _text(layout, "customer_org_number").str.replace_all(r"\D", "").replace("", None).alias("customer_org_number"),
        _text(layout, "kid").str.replace_all(r"[\s\u00a0]", "").alias("kid"),
        _first_date(layout, "invoice_date"),
        _first_date(layout, "due_date"),
        _fixed_or(layout, "currency", layout.currency).str.to_uppercase().alias("currency"),
        money("amount_excl_vat").alias("amount_excl_vat_minor"),
        money("vat_amount").alias("vat_minor"),
        money("amount_incl_vat").alias("amount_minor"),
    ]


def _first_date(layout: Layout, field: str) -> pl.Expr:
    """The date by the layout's first format only; `_repair` tries the others where this one left a null."""
    text = _text(layout, field)
    return text.str.strptime(pl.Date, layout.date_formats[0], strict=False).alias(field)


_DATE_FIELDS = ("booking_date", "invoice_date", "due_date")


def _repair(rows: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """The slow cases, only where they occur: other date formats, accounts with letters or other separators.

    Done after the fast pass, on the collected frame, because polars evaluates both branches of a
    when/then: a fallback written inline costs its full price on every row (a regex over 1M accounts: 0.6 s).
    """
    # Every "is a repair needed?" test in one query (the columns side by side), then only the repairs needed.
    probes: dict[str, tuple[pl.Expr, pl.Expr]] = {}  # field -> (needed?, repair)
    for field in _DATE_FIELDS:
        if field in layout.columns:
            text = pl.col(_tmp(field)).str.strip_chars()
            probes[field] = (pl.col(field).is_null() & (text.str.len_bytes() > 0), parse_date_expr(text, layout.date_formats))
    for field in _ACCOUNT_FIELDS:
        # Accounts go through as read when they are digits only (most exports); anything else (spaces, dots,
        # an IBAN, an empty cell) is normalised here. The cast test is 3x cheaper than a regex.
        if field in rows.columns:
            col = pl.col(field)
            probes[field] = (col.is_not_null() & col.cast(pl.UInt64, strict=False).is_null(), account_expr(col))
    if not probes:
        return rows
    needed = rows.select(test.any().alias(field) for field, (test, _) in probes.items()).row(0, named=True)
    fixes = [repair.alias(field) for field, (_, repair) in probes.items() if needed[field]]
    return rows.with_columns(fixes) if fixes else rows


def resolve_decimal(frame: pl.DataFrame, layout: Layout, sample: int = 2000) -> str:
    """The decimal mark of a `decimal = "auto"` layout, read off the first amounts: ',' unless they end like
    `.5` / `.50` and none end like `,5` / `,50`."""
    if layout.decimal != "auto":
        return layout.decimal
    cols = [c for f in _AMOUNT_FIELDS for c in layout.columns.get(f, ())]
    if not cols:
        return ","
    cells = pl.concat([frame.get_column(c).drop_nulls().head(sample) for c in cols])
    comma = cells.str.contains(r",\d{1,2}(?:\s*(?i:kr|sek|nok)\.?)?-?$").sum()
    point = cells.str.contains(r"\.\d{1,2}(?:\s*(?i:kr|sek|nok)\.?)?-?$").sum()
    return "." if point > 0 and comma == 0 else ","


_LINE_MONEY = ("unit_price", "quantity", "line_amount_excl_vat", "line_vat", "line_amount_incl_vat")
LINE_PREFIX = "line__"  # line columns in apply_mapping's output (line-level invoice exports)
_LINE_OUTPUT = ("line_no", "article_no", "line_text", "quantity_hundredths", "unit_price_minor", "vat_code",
                "amount_excl_vat_minor", "vat_minor", "amount_minor")


def _line(field: str) -> str:
    return LINE_PREFIX + field


def _half_away(numerator: pl.Expr, denominator: int) -> pl.Expr:
    """numerator / denominator rounded half away from zero, in integers (no float)."""
    return ((numerator.abs() + denominator // 2) // denominator) * numerator.sign()


def _line_exprs(layout: Layout) -> list[pl.Expr]:
    """The line fields of a line-level invoice export; amounts missing from the export are derived.

    excl. VAT = the line amount, else unit price x quantity; VAT = the line VAT, else excl. VAT x the rate of
    the line's VAT code ([vat_rates]); incl. VAT = the line amount incl. VAT, else excl. + VAT. Rounded to
    the øre/öre, half away from zero, in integers.
    """
    have = layout.line_columns

    def col(field: str, dtype: pl.DataType = pl.String) -> pl.Expr:
        return pl.col(_line(field)) if field in have else pl.lit(None, dtype=dtype)

    qty = col("quantity", pl.Int64)  # hundredths
    excl = pl.coalesce(col("line_amount_excl_vat", pl.Int64), _half_away(col("unit_price", pl.Int64) * qty, 100))
    rate = col("vat_code").str.strip_chars().replace_strict(
        list(layout.vat_rates), list(layout.vat_rates.values()), default=None, return_dtype=pl.Int64
    ) if layout.vat_rates else pl.lit(None, dtype=pl.Int64)
    vat = pl.coalesce(col("line_vat", pl.Int64), _half_away(excl * rate, 10_000))
    incl = pl.coalesce(col("line_amount_incl_vat", pl.Int64), excl + vat)
    return [
        col("line_no").str.strip_chars().cast(pl.Int64, strict=False).alias(_line("line_no")),
        col("article_no").alias(_line("article_no")),
        col("line_text").alias(_line("line_text")),
        qty.alias(_line("quantity_hundredths")),
        col("unit_price", pl.Int64).alias(_line("unit_price_minor")),
        col("vat_code").alias(_line("vat_code")),
        excl.alias(_line("amount_excl_vat_minor")),
        vat.alias(_line("vat_minor")),
        incl.alias(_line("amount_minor")),
    ]


# Amount cells that are not amounts (etl/money.py): their rows carry these two columns out of apply_mapping (only
# when there is one), which `split_amount_problems` turns into row problems quoting the cell.
_ROW_NO = "__row_no"
_FLAG = "__amount_flag"
_PROBLEM = "__amount_problem"
_PROBLEM_COLUMN = "__amount_problem_column"
AMOUNT_CHECK = "amount_format"


def _amount_problems(rows: pl.DataFrame, frame: pl.DataFrame, checked: list[str], decimal: str) -> pl.DataFrame:
    """`rows` without the flag; with _PROBLEM / _PROBLEM_COLUMN when a flagged row's cell is not blank.

    Error path only: the cells of the flagged rows (a parse left null where the cell was not null) are looked
    at again, and each non-blank one gets its reason (money.amount_problem_expr), quoting the cell.
    """
    flagged = rows.filter(pl.col(_FLAG))
    rows = rows.drop(_FLAG)
    if flagged.height == 0:
        return rows.drop(_ROW_NO)
    cells = frame.select(pl.col(c).cast(pl.String) for c in checked).with_row_index(_ROW_NO)
    cells = flagged.select(_ROW_NO).join(cells, on=_ROW_NO, how="left")
    reasons = cells.select(
        _ROW_NO,
        *(amount_problem_expr(pl.col(c), decimal).alias(f"r{k}") for k, c in enumerate(checked)),
        *(pl.col(c).alias(f"v{k}") for k, c in enumerate(checked)),
    )
    messages = [
        pl.when(pl.col(f"r{k}").is_not_null()).then(pl.lit(f"{c} '") + pl.col(f"v{k}") + pl.lit("' is not an amount: ") + pl.col(f"r{k}"))
        for k, c in enumerate(checked)
    ]
    names = [pl.when(pl.col(f"r{k}").is_not_null()).then(pl.lit(c)) for k, c in enumerate(checked)]
    found = reasons.select(
        _ROW_NO,
        pl.concat_str(messages, separator="; ", ignore_nulls=True).replace("", None).alias(_PROBLEM),
        pl.concat_str(names, separator="; ", ignore_nulls=True).replace("", None).alias(_PROBLEM_COLUMN),
    ).drop_nulls(_PROBLEM)
    if found.height == 0:
        return rows.drop(_ROW_NO)
    return rows.join(found, on=_ROW_NO, how="left", maintain_order="left").drop(_ROW_NO)


def split_amount_problems(rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows, row problems) from apply_mapping's output: one problem per row whose amount cell is not an amount
    (source_line, error_column = the file's column, error_check `amount_format`, error_message quoting the cell
    and saying why, e.g. `Beløp '563.04.00' is not an amount: ...`). The rows keep their place; the caller's
    validation leaves a row with a problem out (inputs.read_inputs)."""
    schema = {"source_line": pl.Int64, "error_column": pl.String, "error_check": pl.String, "error_message": pl.String}
    if _PROBLEM not in rows.columns:
        return rows, pl.DataFrame(schema=schema)
    problems = rows.filter(pl.col(_PROBLEM).is_not_null()).select(
        pl.col("source_line").cast(pl.Int64),
        pl.col(_PROBLEM_COLUMN).alias("error_column"),
        pl.lit(AMOUNT_CHECK).alias("error_check"),
        pl.col(_PROBLEM).alias("error_message"),
    )
    return rows.drop(_PROBLEM, _PROBLEM_COLUMN), problems


def apply_mapping(frame: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """Text cells in `layout`'s shape -> canonical columns (payments or invoices), rows the layout skips left out.

    `source_line` / `source_sheet` pass through; lineage and keys are the reader's job.
    Raises MissingColumnError when a mapped column is not in `frame` (one of optional_header is read as empty). A row with an amount cell that is not an
    amount (null where the cell is not blank) carries the reason in two extra columns: `split_amount_problems`.
    """
    check_columns(frame.columns, layout)
    # A column of optional_header that this version of the export leaves out is read as empty cells.
    absent = [c for c in layout.optional_header if c not in frame.columns]
    if absent:
        frame = frame.with_columns(pl.lit(None, pl.String).alias(c) for c in absent)
    decimal = resolve_decimal(frame, layout)
    lf = frame.lazy().with_row_index(_ROW_NO)
    for col, pattern in layout.skip_rows_matching.items():
        lf = lf.filter(~pl.col(col).fill_null("").str.contains(pattern))
    keep = [_ROW_NO, *(c for c in _PASS_THROUGH if c in frame.columns)]
    # Staged: each field's text, then each amount, is computed once into a column. An expression that reuses
    # its input is evaluated again at each use (measured: 1M rows of SpareBank 1 took 7 s inlined).
    lf = lf.with_columns([_source_text(layout, f).alias(_tmp(f)) for f in layout.columns])
    fields = [f for f in _AMOUNT_FIELDS if f in layout.columns]
    # Columns of plain amounts (most exports) take the one-pass parser; the others the full rules.
    single = {f: layout.columns[f][0] for f in fields if len(layout.columns[f]) == 1}
    plain_cols = plain_amount_columns(frame, list(dict.fromkeys(single.values())), decimal)
    plain = {f for f, c in single.items() if c in plain_cols}
    lf = lf.with_columns(plain_amount_expr(layout.columns[f][0], decimal).alias(_tmp(f)) for f in plain)
    lf = parse_amounts(lf, {_tmp(f): _tmp(f) for f in fields if f not in plain}, decimal)
    if layout.line_columns:  # line-level export: line texts, then line money, staged like the rest
        lf = lf.with_columns(_blank_to_null(pl.col(c)).alias(_line(f)) for f, c in layout.line_columns.items())
        money = {_line(f): _line(f) for f in _LINE_MONEY if f in layout.line_columns}
        lf = parse_amounts(lf, money, decimal).with_columns(_line_exprs(layout))
    exprs = _bank(layout) if layout.kind == "bank" else _invoices(layout)
    if layout.line_columns:
        exprs += [pl.col(_line(f)) for f in _LINE_OUTPUT]
    # Every amount parsed by the full rules (field or line field, by its one source column): null where its cell is
    # not empty is either a blank cell or not an amount; _amount_problems tells them apart on those rows only.
    # A plain column (all cells plain or empty) cannot fail: no flag. Empty cells ("") are never flagged.
    parsed = [(_tmp(f), layout.columns[f][0]) for f in fields if f not in plain]
    parsed += [(_line(f), layout.line_columns[f]) for f in _LINE_MONEY if f in layout.line_columns]
    flags = [pl.col(out).is_null() & (pl.col(src).cast(pl.String).str.len_bytes() > 0) for out, src in parsed]
    flag = pl.any_horizontal(flags) if flags else pl.lit(False)
    dates = [_tmp(f) for f in _DATE_FIELDS if f in layout.columns]
    rows = _repair(lf.select(*keep, *exprs, *dates, flag.alias(_FLAG)).collect(), layout)
    checked = list(dict.fromkeys(src for _, src in parsed))
    return _amount_problems(rows.drop(dates), frame, checked, decimal)
