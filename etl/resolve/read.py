"""Read the filled report files: every row with an `action`, from CSVs and every category sheet of workbooks."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from etl.errors import InputError

__all__ = ["ACTIONS", "Instruction", "read_instructions"]

ACTIONS = ("match", "write_off", "refund", "explain", "reopen")
_NEEDED = ("category", "break_key", "action")
_OPTIONAL = ("action_invoice", "action_note")


@dataclass(frozen=True)
class Instruction:
    """One filled row: where it came from, the break it names and what to do with it."""

    source_file: str  # the path as given; a workbook's sheet after '#'
    source_row: int  # the row number as the accountant sees it (header = row 1)
    category: str
    break_key: str
    action: str  # lower-cased; may be a word we do not know (refused later with the reason)
    action_invoice: str
    action_note: str


def _clean(value: object) -> str:
    """A cell as text: None -> '', numbers without a float's '.0' (an invoice number typed into Excel)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _rows(source: str, header: list[str], rows: list[tuple[int, list[object]]]) -> list[Instruction]:
    """The instructions of one table; InputError when the table lacks the resolution columns."""
    names = [_clean(h).lower() for h in header]
    missing = [c for c in _NEEDED if c not in names]
    if missing:
        raise InputError(f"{source}: line 1: not a filled discrepancies file: no column {', '.join(missing)} "
                         "(the resolution columns of discrepancies.csv / the workbook's category sheets)")
    at = {c: names.index(c) for c in (*_NEEDED, *_OPTIONAL) if c in names}

    def cell(values: list[object], col: str) -> str:
        i = at.get(col)
        return _clean(values[i]) if i is not None and i < len(values) else ""

    found = []
    for number, values in rows:
        action = cell(values, "action").lower()
        if not action:
            continue  # a row nobody filled: nothing to do
        found.append(Instruction(source, number, cell(values, "category"), cell(values, "break_key"), action,
                                 cell(values, "action_invoice"), cell(values, "action_note")))
    return found


def _read_csv(path: Path) -> list[Instruction]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            table = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    if not table:
        raise InputError(f"{path}: line 1: the file is empty")
    return _rows(str(path), table[0], [(i + 2, list(r)) for i, r in enumerate(table[1:])])


def _read_xlsx(path: Path) -> list[Instruction]:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the workbook: {exc}") from None
    found: list[Instruction] = []
    try:
        for sheet in book.worksheets:
            rows = list(sheet.iter_rows(values_only=True))
            header = [_clean(h).lower() for h in (rows[0] if rows else ())]
            if "action" not in header:
                continue  # the Summary, Files, Tie-out ... sheets carry no resolution columns
            found += _rows(f"{path}#{sheet.title}", list(rows[0]), [(i + 2, list(r)) for i, r in enumerate(rows[1:])])
    finally:
        book.close()
    return found


def read_instructions(paths: list[Path]) -> list[Instruction]:
    """Every filled row of every file, in file and row order; InputError (exit 3) for a file that cannot be read."""
    found: list[Instruction] = []
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        suffix = path.suffix.lower()
        if suffix == ".csv":
            found += _read_csv(path)
        elif suffix in (".xlsx", ".xlsm"):
            found += _read_xlsx(path)
        else:
            raise InputError(f"{path}: not a .csv or .xlsx file")
    return found
