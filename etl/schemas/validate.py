"""Validate canonical rows lazily with pandera and split them into valid rows and reject reasons."""

from __future__ import annotations

import importlib.abc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from etl.schemas.rules import RowRules

__all__ = ["REJECT_SCHEMA", "validate_rows", "pandas_hidden", "preload"]

REJECT_SCHEMA: dict[str, pl.DataType] = {
    "source_line": pl.Int64(),
    "error_column": pl.String(),
    "error_check": pl.String(),
    "error_message": pl.String(),
}

# Plain-language messages for pandera's check names; the check name itself stays in error_check.
_MESSAGES = {
    "not_nullable": "is missing or could not be parsed",
    "not_equal_to": "must not be zero",
    "in_range": "is out of range",
    "str_matches": "has the wrong format",
    "str_length": "has the wrong length",
    "field_uniqueness": "occurs more than once in the file",
    "kid_unique": "is the KID of more than one invoice in the file",
    "account_number": "fails the account number check (IBAN check digits, or MOD11 for a Norwegian account)",
    "org_number": "is not a valid organisation number",
    "creditor_currency": "is not a currency this creditor bills in",
    "bank_ref_repeated": "is on an earlier line of the file too: the same transaction listed twice",
}

_ROW = "__row"


_HIDDEN = ("pandas", "hypothesis")  # optional for pandera's polars API, costly to import (test/bench extras)


class _NoPandas(importlib.abc.MetaPathFinder):
    """Makes `import pandas` (and hypothesis) fail as if they were not installed."""

    def __init__(self, hidden: tuple[str, ...]) -> None:
        self.hidden = hidden

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".", 1)[0] in self.hidden:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


@contextmanager
def pandas_hidden() -> Iterator[None]:
    """Inside: pandera's polars API runs as in a polars-only install, without importing pandas or hypothesis.

    pandera's package init imports pandas whenever pandas is installed (e.g. with the `bench` extra), and its
    first validation imports pandas' type helpers: 0.6-1 s per process that its polars API never needs; its
    data-synthesis strategies import hypothesis when installed (the `test` extra): 0.3 s more. pandera treats
    a missing pandas or hypothesis as an install without them (and caches that), so they are hidden while
    pandera is imported and first used. A module already loaded by anyone is not hidden.
    """
    hidden = tuple(m for m in _HIDDEN if m not in sys.modules)
    if not hidden:
        yield
        return
    blocker = _NoPandas(hidden)
    sys.meta_path.insert(0, blocker)
    try:
        yield
    finally:
        sys.meta_path.remove(blocker)


_MODELS = "etl.schemas.models"
_preloading: list[threading.Thread] = []
# While the import runs, the main thread asks for the GIL back each time a polars call returns; with the default
# 5 ms switch interval it would wait up to that long each time. Shorter while both run, restored after.
_SWITCH_INTERVAL = 0.0005


def _import_models(interval: float) -> None:
    try:
        with pandas_hidden():
            importlib.import_module(_MODELS)
    except Exception:  # noqa: BLE001 - validate_rows imports it again and reports the failure there
        pass
    finally:
        sys.setswitchinterval(interval)


def preload() -> None:
    """Start importing pandera (0.3 s of pure Python) in a thread, so that it overlaps the reading of the first
    file, which runs in polars with the GIL released; validate_rows waits for it. Once per process, no-op after.

    Not a daemon thread: a process that ends before validating waits for the import rather than tearing it down.
    """
    if _preloading or _MODELS in sys.modules:
        return
    interval = sys.getswitchinterval()
    thread = threading.Thread(target=_import_models, args=(interval,), name="amili-etl-import-pandera")
    _preloading.append(thread)
    sys.setswitchinterval(min(interval, _SWITCH_INTERVAL))
    thread.start()


_DATE_COLUMNS = ("booking_date", "invoice_date", "due_date")


def _unreadable_expr() -> pl.Expr:
    """What a cell that was there but could not be read is not: a date, an amount, or (else) readable."""
    column = pl.col("error_column")
    return (pl.when(column.is_in(_DATE_COLUMNS)).then(pl.lit("is not a date"))
            .when(column.str.ends_with("_minor")).then(pl.lit("is not an amount"))
            .otherwise(pl.lit("could not be read")))


def _message_expr() -> pl.Expr:
    """'<column> <plain words> (<value>)'; a cell that was there but could not be read quotes it: "invoice_date
    '2026-11-31' is not a date"; a whole-row check keeps its own message (vectorised)."""
    check = pl.col("error_check")
    words = pl.lit(None, dtype=pl.String)
    for prefix, text in reversed(list(_MESSAGES.items())):
        words = pl.when(check.str.starts_with(prefix)).then(pl.lit(text)).otherwise(words)
    value = pl.when(pl.col("value").is_null()).then(pl.lit("")).otherwise(pl.lit(" ('") + pl.col("value") + pl.lit("')"))
    per_column = pl.col("error_column") + pl.lit(" ") + words.fill_null(check) + value
    unread = pl.col("error_column") + pl.lit(" '") + pl.col("raw") + pl.lit("' ") + _unreadable_expr()
    return (pl.when(pl.col("error_column").is_null()).then(check)
            .when(check.str.starts_with("not_nullable") & pl.col("raw").is_not_null()).then(unread)
            .otherwise(per_column))


def _raw_values(rejects: pl.DataFrame, raw: pl.DataFrame | None) -> pl.DataFrame:
    """`rejects` with `raw`: the file's own text of the failing cell (non-blank), where `raw` has it."""
    if raw is None or not raw.height or not rejects.height:
        return rejects.with_columns(pl.lit(None, dtype=pl.String).alias("raw"))
    cells = (raw.join(rejects.select("source_line").unique(), on="source_line", how="semi")
             .unpivot(index="source_line", variable_name="error_column", value_name="raw")
             .with_columns(pl.col("raw").cast(pl.String).str.strip_chars())
             .filter(pl.col("raw") != "")
             .unique(["source_line", "error_column"], keep="first"))
    return rejects.join(cells, on=["source_line", "error_column"], how="left", maintain_order="left")


def validate_rows(rows: pl.DataFrame, kind: str, rules: RowRules | None = None,
                  raw: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(valid rows, rejects) for canonical `rows` of kind 'payments' or 'invoices'.

    Validates a collected frame (on a LazyFrame pandera checks only types) and maps each failure back to its
    source line through an explicit row number. `rules`: the file's country and the creditor's currencies (see
    RowRules); without them only the country-free checks run. `raw`: `source_line` and, under canonical column
    names, the file's text of those cells: a cell that was there but could not be read is quoted in its message.
    """
    for thread in _preloading:  # see preload()
        thread.join()
    with pandas_hidden():  # imported here, not at the top: pandera pulls in a lot, keep `--help` fast
        import pandera.errors as pe

        from etl.schemas.models import invoice_schema, payment_schema
        from etl.schemas.rules import RowRules

        rules = rules or RowRules()
        schema = payment_schema(rules) if kind == "payments" else invoice_schema(rules)
        if rows.height == 0:
            return rows, pl.DataFrame(schema=REJECT_SCHEMA)
        numbered = rows.with_row_index(_ROW)
        try:
            schema.validate(numbered, lazy=True)
            return rows, pl.DataFrame(schema=REJECT_SCHEMA)
        except pe.SchemaErrors as errs:
            cases = errs.failure_cases
        except pe.SchemaError as err:  # a single schema-level error (e.g. a column missing entirely)
            raise ValueError(str(err).splitlines()[0]) from None
    row_cases = cases.filter(pl.col("index").is_not_null())
    lines = numbered.select(_ROW, "source_line")
    rejects = (
        row_cases.select(
            pl.col("index").cast(pl.UInt32).alias(_ROW),
            # A whole-row check reports the model's name as its column: show no column for it.
            pl.when(pl.col("schema_context") == "DataFrameSchema")
            .then(None)
            .otherwise(pl.col("column").cast(pl.String))
            .alias("error_column"),
            pl.col("check").cast(pl.String).alias("error_check"),
            pl.col("failure_case").cast(pl.String).alias("value"),
        )
        .join(lines, on=_ROW, how="left")
        .pipe(_raw_values, raw)
        .with_columns(_message_expr().alias("error_message"))
        .unique(subset=[_ROW, "error_column", "error_check"], maintain_order=True)
    )
    bad_rows = rejects.get_column(_ROW).unique()
    valid = numbered.filter(~pl.col(_ROW).is_in(bad_rows.implode())).drop(_ROW)
    return valid, rejects.sort(_ROW).select(REJECT_SCHEMA.keys()).cast(REJECT_SCHEMA)
