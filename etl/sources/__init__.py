"""Readers: one per input format, each a pure function (path, bytes[, layout]) -> SourceResult.

`read_source` reads a file once, sniffs its format by content and dispatches; a known problem with the
file becomes a result with status unreadable / unrecognised / held_back, never an exception.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import os
from collections.abc import Callable, Iterable
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
from etl.sources.tables import is_xlsx, text_near_miss, xlsx_near_miss
from etl.sources.text import HEAD_LINES, is_utf16, utf16_to_utf8

__all__ = [
    "read_source",
    "iter_input_files",
    "input_files",
    "owned_file_kind",
    "detect_format",
    "READERS",
    "SourceResult",
    "SourceError",
    "FORMATS",
]

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
    return _with_sha256(result, sha256)


def _with_sha256(result: SourceResult, sha256: str) -> SourceResult:
    """`result` (and its sheets' results) with the file's sha256, in the result and in its rows' lineage."""
    rows = result.rows.with_columns(pl.lit(sha256, pl.String).alias("source_sha256"))
    sheets = tuple(_with_sha256(part, sha256) for part in result.sheets)
    return dataclasses.replace(result, sha256=sha256, rows=rows, sheets=sheets)


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(path: Path, data: bytes, mappings: MappingSet, limits: ReadLimits, guard: bool = True) -> SourceResult:
    """read_source once the bytes are in hand, without the file's sha256."""
    bare = data.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark alone is still an empty file
    if not bare or bare.isspace():  # (not data.strip(): that copies the whole file)
        return failed_result(path, "unreadable", f"{path}: the file is empty")
    if guard and is_workbook_bytes(data):  # before any spreadsheet reader: sizes, zip bombs, far cells (issue 14)
        try:
            check_workbook(data, limits)
        except SourceError as exc:
            return failed_result(path, "unreadable", exc.message(path))
    if b"\r" in data and b"\n" not in data and not data.startswith((b"PK", b"\xd0\xcf\x11\xe0")):
        data = data.replace(b"\r", b"\n")  # CR-only line ends (Excel for Mac, old Mac exports): read as lines
    if is_utf16(data):  # Excel's "Unicode text": read as UTF-8 from here on (sha256 is the file's)
        try:
            data = utf16_to_utf8(data)
        except SourceError as exc:
            return failed_result(path, "unreadable", exc.message(path))
    try:
        found = detect_format(data, mappings)
    except SourceError as exc:  # e.g. a workbook whose sheets break the multi-sheet rule
        return failed_result(path, "unreadable", exc.message(path))
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
    """Why a file is not recognised: what differs from the closest known layout when one is close (never a list
    of every layout), else what kind of file it seems to be."""
    try:
        miss = xlsx_near_miss(data, mappings) if is_xlsx(data) else (
            text_near_miss(data, mappings) if b"\x00" not in data[:4096] else None)
    except Exception:  # noqa: BLE001 - a diagnosis must never fail the diagnosis
        miss = None
    if miss:
        return f"{path}: not a recognised format: {miss}"
    names = f"{len(mappings)} layouts known, see docs/mappings.md" if len(mappings) else "no layouts loaded"
    if data.startswith(b"PK"):
        what = f"a zip / spreadsheet with no known header row in the first {HEAD_LINES} rows of any sheet"
    elif b"\x00" in data[:4096]:
        what = "a binary file"
    elif data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        what = "an XML document that is not ISO 20022 camt.053 / camt.054 (no camt namespace near the top)"
    else:
        what = f"no OCR giro / BgMax start record, no MT940 :20:/:25:, no known header in the first {HEAD_LINES} lines"
    return f"{path}: not a recognised format: {what} ({names})"


def _hidden_or_skipped(rel: Path) -> bool:
    parts = rel.parts
    # Python's bytecode caches appear beside an installed copy of sample_data/: never input.
    if any(p.startswith(".") for p in parts) or "rejects" in parts[:-1] or "__pycache__" in parts[:-1]:
        return True
    name = parts[-1]
    return name.startswith("~$") or Path(name).suffix.lower() in _SKIP_SUFFIXES


def owned_file_kind(name: str) -> str | None:
    """What amili-etl itself writes, by a file's name: the state database and its write-ahead log, run logs,
    temporary files of reports and state; None for anything else. Never input, wherever it sits."""
    low = name.lower()
    if low.endswith(".duckdb"):
        return "state file"
    if low.endswith(".wal"):  # DuckDB's `<state>.duckdb.wal`
        return "state write-ahead log"
    if low.endswith(".duckdb.lock"):  # the inbox's lock beside the state file
        return "state lock file"
    if low.endswith(".jsonl") or ".jsonl." in low:  # log.jsonl, <run_id>.jsonl (and rotated copies)
        return "log file"
    if low.endswith((".tmp", ".splice")) or ".tmp." in low:  # x.tmp, x.tmp.xlsx, workbook splices
        return "temporary file"
    return None


def _is_report_folder(names: set[str]) -> bool:
    """A run's report folder (etl/report): its summary.json beside its discrepancies."""
    return "summary.json" in names and bool(names & {"discrepancies.csv", "discrepancies.xlsx"})


def _under(path: Path, roots: Iterable[Path]) -> Path | None:
    return next((r for r in roots if path == r or r in path.parents), None)


def input_files(paths: list[Path], exclude: Iterable[Path] = ()) -> tuple[list[Path], list[str]]:
    """(input files under `paths`, one line per folder saying what of ours was skipped in it).

    Files and folders are taken as in iter_input_files. Inside folders, besides what that skips, these are
    never input: the state file (`*.duckdb`), its write-ahead log (`*.wal`), log files (`*.jsonl`), temporary
    files (`*.tmp`, `*.tmp.*`, `*.splice`), report folders (a folder with summary.json and discrepancies.*),
    anything under `exclude` (the configured state file, output and log folders), and links that point outside
    the folder. A file named explicitly is always taken.
    """
    excluded = [Path(os.path.abspath(e)) for e in exclude]
    found: set[Path] = set()
    notes: list[str] = []
    for p in paths:
        if p.is_file():
            found.add(p)
            continue
        if not p.is_dir():
            raise InputError(f"{p}: no such file or folder")
        real_root = p.resolve()
        skipped: dict[str, list[str]] = {}
        for folder, dirs, files in os.walk(p):  # links to folders are not followed (followlinks=False)
            here = Path(folder)
            rel_dir = here.relative_to(p)
            keep_dirs = []
            for d in sorted(dirs):
                sub = here / d
                if _hidden_or_skipped(rel_dir / d / "x"):
                    continue
                if _under(Path(os.path.abspath(sub)), excluded) or (
                    not sub.is_symlink() and _is_report_folder(set(os.listdir(sub)) if os.access(sub, os.R_OK) else set())
                ):
                    skipped.setdefault("report or log folder", []).append((rel_dir / d).as_posix() + "/")
                    continue
                keep_dirs.append(d)
            dirs[:] = keep_dirs
            for name in files:
                f = here / name
                rel = f.relative_to(p)
                if _hidden_or_skipped(rel):
                    continue
                kind = owned_file_kind(name)
                if kind is None and _under(Path(os.path.abspath(f)), excluded):
                    kind = "configured state, output or log path"
                if kind is None and f.is_symlink() and real_root not in f.resolve().parents:
                    kind = "link pointing outside the folder"
                if kind is not None:
                    skipped.setdefault(kind, []).append(rel.as_posix())
                    continue
                if f.is_file():
                    found.add(f)
        if skipped:
            parts = [
                f"{kind} {', '.join(names[:3])}" + (f" (and {len(names) - 3} more)" if len(names) > 3 else "")
                for kind, names in skipped.items()
            ]
            notes.append(f"{p}: skipped under the input folder (amili-etl's own files, never input): "
                         + "; ".join(parts))
    return sorted(found), notes


def iter_input_files(paths: list[Path], exclude: Iterable[Path] = ()) -> list[Path]:
    """Input files under `paths` (files or folders, recursive), sorted, without duplicates.

    Skipped inside folders: hidden files and folders, __pycache__/, *.toml, *.json, *.md, *.py(c), Excel lock
    files (~$...), anything under a rejects/ folder (our own output), and what input_files lists (the state
    file, its WAL, logs, temporary files, report folders, `exclude`, links pointing outside the folder). A file
    named explicitly is always taken. Raises InputError for a path that does not exist.
    """
    return input_files(paths, exclude)[0]
