"""Read and validate input files: every file becomes a FileOutcome (valid rows, rejects, status); none stops another.

Shared by `run` (pipeline.py) and `validate` (cli.py); kept apart from the pipeline so that `validate` does
not import the delivery, matching and report machinery it never uses.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from etl.errors import InputError
from etl.mapping import MappingSet
from etl.schemas import RowRules, validate_rows
from etl.schemas.validate import preload
from etl.sources import iter_input_files
from etl.sources.isolate import read_file
from etl.sources.base import INVOICE_SCHEMA, PAYMENT_SCHEMA, SourceResult

if TYPE_CHECKING:
    from etl.config import Config

__all__ = ["FileOutcome", "read_inputs", "display_names", "rules_for", "valid_lines"]

# Country of the fixed formats (their accounts and references follow that country's rules).
_FORMAT_COUNTRY = {"ocr_giro": "NO", "bgmax": "SE"}


@dataclass
class FileOutcome:
    """One input file after reading and validation."""

    display: str  # the name used in every report: relative to the folder given, or the path as given
    result: SourceResult
    valid: pl.DataFrame
    rejects: pl.DataFrame  # source_line, error_column, error_check, error_message
    creditor: str | None = None

    @property
    def status(self) -> str:
        """ok | rejected_rows | held_back | unreadable | unrecognised."""
        if self.result.status != "ok":
            return self.result.status
        return "rejected_rows" if self.rejects.height else "ok"


def display_names(inputs: tuple[Path, ...]) -> list[tuple[Path, str]]:
    """Every input file with the name reports use for it."""
    seen: set[Path] = set()
    out: list[tuple[Path, str]] = []
    for root in inputs:
        if not root.exists():
            raise InputError(f"{root}: no such file or folder")
        for f in iter_input_files([root]):
            if f.resolve() in seen:
                continue
            seen.add(f.resolve())
            out.append((f, f.relative_to(root).as_posix() if root.is_dir() else str(root)))
    return out


def rules_for(result: SourceResult, display: str, mappings: MappingSet, config: Config | None) -> RowRules:
    """The validation rules of one file: its country (layout or format) and, for invoices, its creditor's currency."""
    country = _FORMAT_COUNTRY.get(result.format or "")
    if result.layout and result.layout in mappings.names:
        country = mappings.get(result.layout).country or country
    currencies = None
    if config is not None and result.kind == "invoices":
        name = Path(display).name
        owners = [c for c in config.creditors if any(fnmatch.fnmatch(name, p) for p in c.invoice_files)]
        if not owners and len(config.creditors) == 1:
            owners = list(config.creditors)
        if len(owners) == 1:
            country = country or owners[0].country
            currencies = frozenset(getattr(owners[0], "currencies", None) or (owners[0].currency,))
    return RowRules(country=country, currencies=currencies, unique_bank_ref=result.format in ("bank_csv", "bank_xlsx"))


def _to_every_line(rejects: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """A rejected invoice of a line-level export rejects each of its lines: every input row ends up somewhere.

    Invoice rejects carry the invoice's first line; each of its lines gets the same reasons.
    """
    owners = lines.select(pl.col("invoice_line").alias("source_line"), pl.col("source_line").alias("_line"))
    spread = rejects.join(owners, on="source_line", how="left")
    return spread.with_columns(pl.coalesce("_line", "source_line").alias("source_line")).drop("_line").sort(
        "source_line", maintain_order=True
    )


def read_inputs(
    inputs: tuple[Path, ...], mappings: MappingSet, skip: frozenset[Path] = frozenset(), config: Config | None = None
) -> list[FileOutcome]:
    """Read and validate every input file but those in `skip`; a bad file never stops the others.

    With `config`, invoice files are also checked against their creditor's currency.
    """
    outcomes: list[FileOutcome] = []
    for path, display in display_names(inputs):
        if path in skip:
            continue
        preload()  # pandera's import runs while the first file is read
        result = read_file(path, mappings, config.reading if config is not None else None)
        schema = PAYMENT_SCHEMA if result.kind == "payments" else INVOICE_SCHEMA
        rows = result.rows.with_columns(pl.lit(display).alias("source_file")) if result.rows.height else pl.DataFrame(schema=schema)
        if result.status in ("unreadable", "unrecognised"):
            outcomes.append(FileOutcome(display, result, pl.DataFrame(schema=schema), result.problems))
            continue
        kind = "payments" if result.kind == "payments" else "invoices"
        valid, rejects = validate_rows(rows, kind, rules_for(result, display, mappings, config))
        if result.problems.height:
            rejects = pl.concat([result.problems, rejects], how="vertical_relaxed")
            valid = valid.join(result.problems.select("source_line").unique(), on="source_line", how="anti")
        if result.lines is not None and rejects.height:
            rejects = _to_every_line(rejects, result.lines)
        outcomes.append(FileOutcome(display, result, valid, rejects))
    return outcomes


def valid_lines(files: list[FileOutcome], run_id: str) -> pl.DataFrame:
    """The invoice lines of the valid invoices of line-level exports, as the invoice_lines table holds them."""
    frames = [
        f.result.lines.join(f.valid.select(pl.col("source_line").alias("invoice_line")), on="invoice_line", how="semi")
        .with_columns(run_id=pl.lit(run_id), creditor=pl.lit(f.creditor, dtype=pl.String), source_file=pl.lit(f.display))
        for f in files
        if f.result.lines is not None and f.valid.height and f.status != "held_back"
    ]
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
