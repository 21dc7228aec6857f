"""Read and validate input files: every file becomes a FileOutcome (valid rows, rejects, status); none stops another.

Shared by `run` (pipeline.py) and `validate` (cli/app.py); kept apart from the pipeline so that `validate` does
not import the delivery, matching and report machinery it never uses.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from etl.errors import InputError
from etl.logs import log_event
from etl.mapping import MappingSet
from etl.mapping.apply import AMOUNT_CHECK
from etl.refs import restore_kid_zeros
from etl.schemas import RowRules, validate_rows
from etl.schemas.validate import preload
from etl.sources import input_files
from etl.sources.isolate import read_file
from etl.sources.base import INVOICE_SCHEMA, PAYMENT_SCHEMA, SourceResult

if TYPE_CHECKING:
    from etl.config import Config

__all__ = ["FileOutcome", "read_inputs", "display_names", "rejected_rows", "rules_for", "valid_lines"]

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
    file: str | None = None  # a sheet of a workbook (display `<file>#<sheet>`): the workbook's display name

    @property
    def file_name(self) -> str:
        """The display name of the file itself (a workbook's sheets share their workbook's)."""
        return self.file or self.display

    @property
    def status(self) -> str:
        """ok | rejected_rows | held_back | unreadable | unrecognised."""
        if self.result.status != "ok":
            return self.result.status
        return "rejected_rows" if self.rejects.height else "ok"


def owned_paths(config: Config | None) -> tuple[Path, ...]:
    """What a configuration writes (its state file and WAL, output and log folders): never input."""
    if config is None:
        return ()
    state = config.state_path
    paths = [state, state.with_name(state.name + ".wal"), config.output_dir]
    return tuple(p for p in (*paths, config.log_dir) if p is not None)


def display_names(inputs: tuple[Path, ...], exclude: tuple[Path, ...] = ()) -> list[tuple[Path, str]]:
    """Every input file with the name reports use for it; what of ours lies under a folder (the state file, its
    WAL, logs, reports, `exclude`) is skipped and said in one line per folder (log event `input_skipped`)."""
    seen: set[Path] = set()
    out: list[tuple[Path, str]] = []
    for root in inputs:
        if not root.exists():
            raise InputError(f"{root}: no such file or folder")
        files, notes = input_files([root], exclude)
        for note in notes:
            log_event("input_skipped", note, logging.WARNING, path=str(root))
        for f in files:
            if f.resolve() in seen:
                continue
            seen.add(f.resolve())
            out.append((f, f.relative_to(root).as_posix() if root.is_dir() else str(root)))
    return out


def _invoice_owner(result: SourceResult, display: str, config: Config | None) -> Any:
    """The one creditor an invoice file belongs to by its name (invoice_files; the only creditor if there is one)."""
    if config is None or result.kind != "invoices":
        return None
    name = Path(display).name
    owners = [c for c in config.creditors if any(fnmatch.fnmatch(name, p) for p in c.invoice_files)]
    if not owners and len(config.creditors) == 1:
        owners = list(config.creditors)
    return owners[0] if len(owners) == 1 else None


def _restore_kids(rows: pl.DataFrame, owner: Any) -> tuple[pl.DataFrame, str]:
    """Invoice KIDs Excel shortened, padded to the owner's kid_length (see etl.refs.restore_kid_zeros), and a note
    naming them; rows unchanged and no note when the creditor declares no KID length."""
    length = getattr(owner, "kid_length", None)
    if not length or not rows.height or "kid" not in rows.columns:
        return rows, ""
    kids = rows.get_column("kid")
    restored = restore_kid_zeros(kids, length, owner.reference_check)
    changed = (restored != kids).fill_null(False)
    if not changed.any():
        return rows, ""
    hits = rows.select("source_line", kids.alias("_was"), restored.alias("_now")).filter(changed)
    shown = "; ".join(f"line {ln}: {was!r} -> {now!r}" for ln, was, now in hits.head(3).iter_rows())
    more = f" (and {hits.height - 3} more)" if hits.height > 3 else ""
    note = (f"{hits.height} KID(s) shortened by Excel restored to creditor {owner.name!r}'s kid_length {length} "
            f"(the check digit holds after padding): {shown}{more}")
    return rows.with_columns(restored), note


def rules_for(result: SourceResult, display: str, mappings: MappingSet, config: Config | None) -> RowRules:
    """The validation rules of one file: its country (layout or format) and, for invoices, its creditor's currency."""
    country = _FORMAT_COUNTRY.get(result.format or "")
    if result.layout and result.layout in mappings.names:
        country = mappings.get(result.layout).country or country
    currencies = None
    owner = _invoice_owner(result, display, config)
    if owner is not None:
        country = country or owner.country
        currencies = frozenset(getattr(owner, "currencies", None) or (owner.currency,))
    return RowRules(country=country, currencies=currencies, unique_bank_ref=result.format in ("bank_csv", "bank_xlsx"))


# Canonical fields whose cell text a layout takes from one column as read: a cell there that could not be read
# (a date that is no date, an account without digits) is quoted in its reject message. Amount cells are quoted by
# the reader already (etl.mapping.apply.split_amount_problems).
_QUOTED_FIELDS = ("booking_date", "invoice_date", "due_date", "account", "currency", "invoice_number",
                  "customer_number", "kid")


# Fixed-width records (raw column `record`): where a field's text sits on the payment's own line, 0-based start
# and length. Nets OCR giro amount item 1 (record 30) carries the Nets date, DDMMYY, in columns 16-21.
_FIXED_WIDTH_CELLS = {"ocr_giro": {"booking_date": (15, 6)}}


def _raw_cells(result: SourceResult, mappings: MappingSet) -> pl.DataFrame | None:
    """`source_line` and the file's text of the _QUOTED_FIELDS, under their canonical names; None when the file
    has none to quote (a BgMax payment's date is on its deposit's closing record, not on the payment's line)."""
    if "source_line" not in result.raw.columns:
        return None
    cells = _FIXED_WIDTH_CELLS.get(result.format or "")
    if cells and "record" in result.raw.columns:
        return result.raw.select(pl.col("source_line").cast(pl.Int64),
                                 *(pl.col("record").str.slice(a, n).alias(f) for f, (a, n) in cells.items()))
    if not result.layout or result.layout not in mappings.names:
        return None
    layout = mappings.get(result.layout)
    cols = {f: src[0] for f, src in layout.columns.items()
            if f in _QUOTED_FIELDS and len(src) == 1 and src[0] in result.raw.columns}
    if not cols:
        return None
    return result.raw.select(pl.col("source_line").cast(pl.Int64),
                             *(pl.col(c).cast(pl.String).alias(f) for f, c in cols.items()))


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
    for path, display in display_names(inputs, owned_paths(config)):
        if path in skip:
            continue
        preload()  # pandera's import runs while the first file is read
        result = read_file(path, mappings, config.reading if config is not None else None)
        if result.sheets:  # a workbook with several sheets of data: each sheet is reported as `<file>#<sheet>`
            for part in result.sheets:
                sheet = part.rows.get_column("source_sheet").first() if part.rows.height else None
                sheet = sheet or (part.raw.get_column("source_sheet").first() if "source_sheet" in part.raw.columns else "")
                outcomes.append(_outcome(part, f"{display}#{sheet}", mappings, config, file=display))
        else:
            outcomes.append(_outcome(result, display, mappings, config))
    return outcomes


def _outcome(result: SourceResult, display: str, mappings: MappingSet, config: Config | None,
             file: str | None = None) -> FileOutcome:
    """One file (or one sheet of a workbook) validated."""
    schema = PAYMENT_SCHEMA if result.kind == "payments" else INVOICE_SCHEMA
    rows = result.rows.with_columns(pl.lit(display).alias("source_file")) if result.rows.height else pl.DataFrame(schema=schema)
    if result.status in ("unreadable", "unrecognised"):
        return FileOutcome(display, result, pl.DataFrame(schema=schema), result.problems, file=file)
    kind = "payments" if result.kind == "payments" else "invoices"
    rows, note = _restore_kids(rows, _invoice_owner(result, file or display, config))
    if note:
        result = dataclasses.replace(result, message=f"{display}: {note}" if not result.message else result.message)
    valid, rejects = validate_rows(rows, kind, rules_for(result, file or display, mappings, config),
                                   raw=_raw_cells(result, mappings))
    if result.problems.height:
        # An amount cell the reader quoted ("Beløp '10x0.00' is not an amount: ...") needs no second, vaguer line.
        quoted = result.problems.filter(pl.col("error_check") == AMOUNT_CHECK).get_column("source_line").unique()
        again = (pl.col("error_check").str.starts_with("not_nullable")
                 & pl.col("error_column").fill_null("").str.ends_with("amount_minor")
                 & pl.col("source_line").is_in(quoted.implode()))
        rejects = pl.concat([result.problems, rejects.filter(~again)], how="vertical_relaxed")
        valid = valid.join(result.problems.select("source_line").unique(), on="source_line", how="anti")
    if result.lines is not None and rejects.height:
        rejects = _to_every_line(rejects, result.lines)
    return FileOutcome(display, result, valid, rejects, file=file)


# A reason that marks a bank entry the bank has not booked yet (camt Sts PDNG/INFO/...): no money received.
NOT_BOOKED_CHECK = "camt_not_booked"

REJECTED_ROW_SCHEMA: dict[str, pl.DataType] = {
    "source_line": pl.Int64(), "kind": pl.String(), "booked": pl.Boolean(), "reference": pl.String(),
    "invoice_number": pl.String(), "amount_minor": pl.Int64(), "currency": pl.String(),
}


def rejected_rows(f: FileOutcome) -> pl.DataFrame:
    """One row per rejected source line of `f` with what could be read of it (REJECTED_ROW_SCHEMA): its reference
    (a payment's KID / OCR, an invoice's KID), invoice number, signed amount and currency, null where unread.

    The canonical rows keep a rejected row's parsed cells (validation only splits them off); a line of a
    line-level invoice export takes its invoice's identity.
    """
    if not f.rejects.height:
        return pl.DataFrame(schema=REJECTED_ROW_SCHEMA)
    lines = f.rejects.group_by("source_line", maintain_order=True).agg(
        (pl.col("error_check") != NOT_BOOKED_CHECK).all().alias("booked"))
    rows = f.result.rows
    if "source_line" not in rows.columns:  # a file that could not be read at all has no rows to read them from
        rows = pl.DataFrame(schema={"source_line": pl.Int64()})
    payments = f.result.kind == "payments"
    wanted = {"reference": "reference" if payments else "kid", "invoice_number": None if payments else "invoice_number",
              "amount_minor": "amount_minor", "currency": "currency"}
    ident = rows.select(
        pl.col("source_line").alias("_owner"),
        *((pl.col(src) if src in rows.columns else pl.lit(None)).cast(REJECTED_ROW_SCHEMA[name]).alias(name)
          for name, src in wanted.items()),
    ).unique("_owner", keep="first", maintain_order=True)
    owner = pl.col("source_line")
    if f.result.lines is not None and f.result.lines.height:
        owners = f.result.lines.select("source_line", pl.col("invoice_line").alias("_invoice"))
        lines = lines.join(owners, on="source_line", how="left")
        owner = pl.coalesce("_invoice", "source_line")
    return lines.with_columns(owner.alias("_owner")).join(ident, on="_owner", how="left").select(
        "source_line", pl.lit(f.result.kind).alias("kind"), "booked",
        "reference", "invoice_number", "amount_minor", "currency",
    ).cast(REJECTED_ROW_SCHEMA).sort("source_line")


def valid_lines(files: list[FileOutcome], run_id: str) -> pl.DataFrame:
    """The invoice lines of the valid invoices of line-level exports, as the invoice_lines table holds them."""
    frames = [
        f.result.lines.join(f.valid.select(pl.col("source_line").alias("invoice_line")), on="invoice_line", how="semi")
        .with_columns(run_id=pl.lit(run_id), creditor=pl.lit(f.creditor, dtype=pl.String), source_file=pl.lit(f.display))
        for f in files
        if f.result.lines is not None and f.valid.height and f.status != "held_back"
    ]
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
