"""Readers: one per input format, each a pure function (path, bytes[, layout]) -> SourceResult.

`read_source` reads a file once, sniffs its format by content and dispatches; a known problem with the
file becomes a result with status unreadable / unrecognised / held_back, never an exception.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from etl.errors import InputError
from etl.limits import ReadLimits
from etl.mapping import Layout, MappingSet
from etl.sources.base import FORMATS, SourceResult
from etl.sources.bgmax import read_bgmax
from etl.sources.common import SourceError, failed_result, format_kind
from etl.sources.csv_excel import read_bank_csv, read_bank_xlsx
from etl.sources.detect import detect_format
from etl.sources.guard import check_workbook, is_workbook_bytes
from etl.sources.invoices import read_invoices_csv, read_invoices_xlsx
from etl.sources.text import HEAD_LINES, is_utf16, utf16_to_utf8

__all__ = ["read_source", "iter_input_files", "detect_format", "READERS", "SourceResult", "SourceError", "FORMATS"]

Reader = Callable[..., SourceResult]


def _lazy(module: str, name: str) -> Reader:
    """A reader imported on first use: lxml and mt-940 take about 0.1 s to import, which a run without camt or MT940
    files need not pay (OCR giro: numpy, which pandera's background import brings in meanwhile)."""

    def reader(*args: object) -> SourceResult:
        return getattr(importlib.import_module(module), name)(*args)

    reader.__name__ = name
    return reader


# format -> reader. Fixed formats take (path, data); layout formats also take the Layout.
READERS: dict[str, Reader] = {
    "ocr_giro": _lazy("etl.sources.ocr_giro", "read_ocr_giro"),
    "bgmax": read_bgmax,
    "camt053": _lazy("etl.sources.camt", "read_camt053"),
    "camt054": _lazy("etl.sources.camt", "read_camt054"),
    "mt940": _lazy("etl.sources.mt940", "read_mt940"),
    "bank_csv": read_bank_csv,
    "bank_xlsx": read_bank_xlsx,
    "invoices_csv": read_invoices_csv,
    "invoices_xlsx": read_invoices_xlsx,
}

_SKIP_SUFFIXES = {".toml", ".json", ".md", ".py", ".pyc"}


def read_source(path: Path, mappings: MappingSet, limits: ReadLimits | None = None, *, guard: bool = True) -> SourceResult:
    """Read one input file of any known format; never raises for a bad file (see SourceResult.status).

    A workbook is checked against `limits` (etl/sources/guard.py) before any spreadsheet reader sees it
    (`guard=False`: the caller did that already); to survive what no guard foresees, read it through
    etl.sources.isolate.read_file instead.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        return failed_result(path, "unreadable", f"{path}: cannot read the file: {exc.strerror or exc}")
    # The file's sha256 is needed only in the result: it is computed in a thread while the file is sniffed and read
    # (hashlib releases the GIL on large buffers: 0.15-0.2 s of a 100 MB file off the critical path), then written
    # into the result and its rows' lineage, which the readers leave empty.
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(_sha256_hex, data)
        result = _read(path, data, mappings, limits or ReadLimits(), guard)
        sha256 = digest.result()
    rows = result.rows.with_columns(pl.lit(sha256, pl.String).alias("source_sha256"))
    return dataclasses.replace(result, sha256=sha256, rows=rows)


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(path: Path, data: bytes, mappings: MappingSet, limits: ReadLimits, guard: bool = True) -> SourceResult:
    """read_source once the bytes are in hand, without the file's sha256."""
    if not data or data.isspace():  # (not data.strip(): that copies the whole file)
        return failed_result(path, "unreadable", f"{path}: the file is empty")
    if guard and is_workbook_bytes(data):  # before any spreadsheet reader: sizes, zip bombs, far cells (issue 14)
        try:
            check_workbook(data, limits)
        except SourceError as exc:
            return failed_result(path, "unreadable", exc.message(path))
    if is_utf16(data):  # Excel's "Unicode text": read as UTF-8 from here on (sha256 is the file's)
        try:
            data = utf16_to_utf8(data)
        except SourceError as exc:
            return failed_result(path, "unreadable", exc.message(path))
    try:
        found = detect_format(data, mappings)
    except Exception as exc:  # e.g. a corrupt workbook: the file's problem, reported, never a crash
        return failed_result(path, "unreadable", f"{path}: cannot be read: {_first_line(exc)}")
    if found is None:
        return failed_result(path, "unrecognised", _unrecognised(path, data, mappings))
    fmt, layout = found
    kind = format_kind(fmt)
    reader = READERS.get(fmt)
    if reader is None:
        return failed_result(
            path, "unreadable", f"{path}: recognised as {fmt}, which is not supported yet", fmt=fmt, kind=kind
        )
    return _run(reader, path, data, fmt, kind, layout)


def _run(
    reader: Reader, path: Path, data: bytes, fmt: str, kind: str, layout: Layout | None
) -> SourceResult:
    """Call a reader, turning any failure into an 'unreadable' result that names the file (and line)."""
    name = layout.name if layout else None
    args = (path, data) if layout is None else (path, data, layout)
    try:
        return reader(*args)
    except SourceError as exc:
        message = exc.message(path)
    except InputError as exc:
        message = f"{path}: {exc}"
    except Exception as exc:  # a file no reader expected: say so plainly, keep the nightly run going
        message = f"{path}: cannot be read as {fmt}: {type(exc).__name__}: {_first_line(exc)}"
    return failed_result(path, "unreadable", message, fmt=fmt, kind=kind, layout=name)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _unrecognised(path: Path, data: bytes, mappings: MappingSet) -> str:
    names = ", ".join(mappings.names) or "none loaded"
    if data.startswith(b"PK"):
        what = f"a zip / spreadsheet with no known header row in the first {HEAD_LINES} rows of any sheet"
    elif b"\x00" in data[:4096]:
        what = "a binary file"
    elif data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        what = "an XML document that is not ISO 20022 camt.053 / camt.054 (no camt namespace near the top)"
    else:
        what = f"no OCR giro / BgMax start record, no MT940 :20:/:25:, no known header in the first {HEAD_LINES} lines"
    return f"{path}: not a recognised format: {what} (layouts: {names})"


def _hidden_or_skipped(rel: Path) -> bool:
    parts = rel.parts
    # Python's bytecode caches appear beside an installed copy of sample_data/: never input.
    if any(p.startswith(".") for p in parts) or "rejects" in parts[:-1] or "__pycache__" in parts[:-1]:
        return True
    name = parts[-1]
    return name.startswith("~$") or Path(name).suffix.lower() in _SKIP_SUFFIXES


def iter_input_files(paths: list[Path]) -> list[Path]:
    """Input files under `paths` (files or folders, recursive), sorted, without duplicates.

    Skipped inside folders: hidden files and folders, __pycache__/, *.toml, *.json, *.md, *.py(c), Excel lock
    files (~$...), and anything under a rejects/ folder (our own output). A file named explicitly is always taken.
    Raises InputError for a path that does not exist.
    """
    found: set[Path] = set()
    for p in paths:
        if p.is_file():
            found.add(p)
        elif p.is_dir():
            found.update(f for f in p.rglob("*") if f.is_file() and not _hidden_or_skipped(f.relative_to(p)))
        else:
            raise InputError(f"{p}: no such file or folder")
    return sorted(found)
