"""The nightly inbox: pick up every new, complete file in a folder, run them, then archive or fail each one.

Order of work, chosen so no file is ever lost: take the single-instance lock; look twice at every file (a size
or mtime change, or a .part/.tmp name, means it is still being written: left for the next run); hash the rest
and leave out what an earlier run imported; run the pipeline once over the new files (invoice exports first);
commit where each file goes; only then move it (a name already in archive/ gets a numbered suffix).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl.history import file_sha256, imported_before
from etl.lock import InboxLocked, state_lock  # noqa: F401 - part of this module's API
from etl.limits import ReadLimits
from etl.mapping import MappingSet
from etl.sources import owned_file_kind
from etl.sources.detect import detect_format
from etl.sources.guard import is_workbook_bytes
from etl.sources.isolate import ReadingMarks, detect_file, marking
from etl.store import Store

__all__ = ["InboxLocked", "InboxPlan", "Placement", "state_lock", "candidates", "pending_files", "scan", "plan_inbox", "place_files",
           "unique_destination", "TEMP_SUFFIXES"]

TEMP_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".filepart", ".swp")
_SNIFF = 64 * 1024  # enough of a file to tell an invoice export from a bank file (xlsx needs the whole zip)


def _is_temp_name(name: str) -> bool:
    lower = name.lower()
    return lower.endswith(TEMP_SUFFIXES) or name.endswith("~") or name.startswith(("~$", "."))


def candidates(folder: Path) -> list[Path]:
    """The regular files directly in `folder` an inbox run looks at, sorted (temporary names among them)."""
    # Never what amili-etl writes itself (the state file, its WAL and lock, logs): read, it would be failed and moved.
    # (Temporary names stay candidates: an inbox run leaves them for the next run.)
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.is_symlink()
                  and owned_file_kind(p.name) in (None, "temporary file"))


def pending_files(folder: Path) -> list[Path]:
    """The files of `folder` the next inbox run would consider reading (no temporary names), sorted."""
    return [p for p in candidates(folder) if not _is_temp_name(p.name)]


def scan(folder: Path, settle_s: float, sleep: Callable[[float], None] = time.sleep) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(ready files, [(busy file, why)]) among the regular files directly in `folder`, looked at twice."""
    found = candidates(folder)
    busy = [(p, "temporary name: still being written") for p in found if _is_temp_name(p.name)]
    rest = [p for p in found if not _is_temp_name(p.name)]
    first = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in rest}
    if rest and settle_s > 0:
        sleep(settle_s)
    ready: list[Path] = []
    for p in rest:
        try:
            st = p.stat()
        except FileNotFoundError:
            continue  # gone between the two looks: someone else moved it
        if (st.st_size, st.st_mtime_ns) != first[p]:
            busy.append((p, f"size changed within {settle_s:g} s: still being written"))
        elif st.st_size == 0 and time.time() - st.st_mtime < max(settle_s, 1.0) * 5:
            busy.append((p, "empty and just created: still being written"))
        else:
            ready.append(p)
    return ready, sorted(busy)


def _kind_rank(path: Path, mappings: MappingSet, limits: ReadLimits | None = None) -> int:
    """0 for invoice exports, 1 for bank files, 2 for anything not recognised (it fails in the run)."""
    with path.open("rb") as fh:
        head = fh.read(_SNIFF)
    if is_workbook_bytes(head):  # guarded, and sniffed in the reading child: a poison workbook fails in the run
        fmt = detect_file(path, mappings, limits)
    else:
        try:
            found = detect_format(head, mappings)
        except Exception:  # a file the sniffer chokes on is read (and failed with its reason) by the run
            return 2
        fmt = found[0] if found else None
    if fmt is None:
        return 2
    return 0 if fmt.startswith("invoices_") else 1


@dataclass
class InboxPlan:
    """What one inbox run will do with each ready file."""

    new: list[Path] = field(default_factory=list)  # to read, in order: invoice exports, bank files, the rest
    sha256: dict[Path, str] = field(default_factory=dict)
    imported: list[tuple[Path, str]] = field(default_factory=list)  # (file, run that imported its content)
    copies: list[tuple[Path, Path]] = field(default_factory=list)  # (file, the new file with the same content)
    # (file, its "reading started" marker): an earlier run died while reading it; it goes to failed/ unread
    died: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)


def plan_inbox(store: Store, ready: list[Path], mappings: MappingSet, force: bool,
               marks: ReadingMarks | None = None, limits: ReadLimits | None = None) -> InboxPlan:
    """Split the ready files into new ones (ordered), ones an earlier run imported, copies within the inbox, and
    ones an earlier run died while reading (their marker in `marks`)."""
    plan = InboxPlan()
    plan.sha256 = {p: file_sha256(p) for p in ready}
    seen = {} if force else imported_before(store, sorted(set(plan.sha256.values())))
    left_over = {}
    if marks is not None:
        marks.know(plan.sha256)
        left_over = marks.left_over()
    first_with: dict[str, Path] = {}
    for p in ready:
        sha = plan.sha256[p]
        if sha in seen:
            plan.imported.append((p, seen[sha]))
        elif sha in first_with:
            plan.copies.append((p, first_with[sha]))
        elif sha in left_over:
            plan.died.append((p, left_over[sha]))
            first_with[sha] = p
        else:
            first_with[sha] = p
            plan.new.append(p)
    if marks is not None:  # markers of files no longer in the inbox say nothing any more
        for sha in set(left_over) - set(plan.sha256.values()):
            marks.clear(sha)
    ranks = {p: _kind_rank(p, mappings, limits) for p in plan.new}
    plan.new.sort(key=lambda p: (ranks[p], p.name))
    return plan


def unique_destination(folder: Path, name: str) -> Path:
    """`folder/name`, or `folder/stem.N.suffix` with the first free N: an archived file is never overwritten."""
    target = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 1
    while target.exists() or target.with_name(target.name + ".error.txt").exists():
        target = folder / f"{stem}.{n}{suffix}"
        n += 1
    return target


@dataclass(frozen=True)
class Placement:
    """Where one inbox file goes, and why."""

    source: Path
    sha256: str
    outcome: str  # archived | failed | already_imported | left
    destination: Path | None
    run_id: str | None
    note: str


def place_files(store: Store, folder: Path, placements: list[Placement], now: dt.datetime) -> list[Placement]:
    """Commit every placement to inbox_files, then move the files (and write failed/<name>.error.txt).

    Destinations are chosen (suffixed on a clash) and committed before anything moves: a crash between the two
    leaves the file in the inbox, where the next run finds its content already imported and archives it.
    """
    final: list[Placement] = []
    taken: set[Path] = set()
    for pl_ in placements:
        if pl_.destination is None:
            final.append(pl_)
            continue
        dest = unique_destination(pl_.destination.parent, pl_.source.name)
        while dest in taken:  # two files of this run with one name (cannot happen in one folder, but be safe)
            dest = unique_destination(dest.parent, f"{dest.stem}.x{dest.suffix}")
        taken.add(dest)
        final.append(Placement(pl_.source, pl_.sha256, pl_.outcome, dest, pl_.run_id, pl_.note))
    moving = [p for p in final if p.destination is not None]
    with store.transaction():
        for p in moving:
            store.execute(
                "INSERT INTO inbox_files VALUES (?, ?, ?, ?, ?, ?, ?)",
                [p.sha256, p.source.name, p.run_id, p.outcome, str(p.destination.resolve()), p.note,
                 now.replace(tzinfo=None)],
            )
    for p in moving:
        assert p.destination is not None
        p.destination.parent.mkdir(parents=True, exist_ok=True)
        if p.outcome == "failed":
            error = p.destination.with_name(p.destination.name + ".error.txt")
            error.write_text(_error_text(p, now), encoding="utf-8")
        os.rename(p.source, p.destination)
    return final


def _error_text(p: Placement, now: dt.datetime) -> str:
    lines = [
        f"file: {p.source.name}",
        f"sha256: {p.sha256}",
        f"run: {p.run_id or '-'}",
        f"when: {now.isoformat(timespec='seconds')}",
        f"why: {p.note}",
        "",
        "Fix the file (or ask for a new export) and drop the corrected file into the inbox again.",
    ]
    return "\n".join(lines) + "\n"


def describe(placements: list[Placement], folder: Path) -> list[dict[str, Any]]:
    """Placements as plain dicts for logs and the terminal."""
    return [
        {"file": p.source.name, "outcome": p.outcome, "sha256": p.sha256, "run_id": p.run_id, "note": p.note,
         "moved_to": str(p.destination.relative_to(folder)) if p.destination else None}
        for p in placements
    ]


@dataclass
class InboxResult:
    """What an inbox run did: the pipeline's result (None when nothing was new), and every file's placement."""

    folder: Path
    run: Any  # etl.pipeline.RunResult | None
    placements: list[Placement]
    busy: list[tuple[Path, str]]
    exit_code: int


_FAILED_STATUSES = ("unreadable", "unrecognised", "held_back")
_LEAVE_EXIT_CODES = (4, 75)  # items left undelivered: keep the files for the next run to read again


def _sheets_entry(files: list[dict[str, Any]], path: str) -> dict[str, Any] | None:
    """A workbook read sheet by sheet (summary entries `<path>#<sheet>`) as one entry: the worst status, the
    first message, rows and valid summed; None when the summary has no sheet of `path`."""
    parts = [f for f in files if str(f["path"]).startswith(path + "#")]
    if not parts:
        return None
    order = ("unreadable", "unrecognised", "held_back", "rejected_rows", "ok")
    worst = min(parts, key=lambda f: order.index(f["status"]) if f["status"] in order else 0)
    return {**worst, "path": path, "rows": sum(f.get("rows") or 0 for f in parts),
            "valid": sum(f.get("valid") or 0 for f in parts)}


def _placements(folder: Path, plan: InboxPlan, run: Any, day: str) -> list[Placement]:
    """Where each file goes after the run: archive/<day>/, failed/, or stays (left) when delivery is unfinished."""
    archive, failed = folder / "archive" / day, folder / "failed"
    out: list[Placement] = []
    for p, run_id in plan.imported:
        out.append(Placement(p, plan.sha256[p], "already_imported", archive / p.name, None,
                             f"already imported by run {run_id}; not read again (--force reads it)"))
    for p, original in plan.copies:
        out.append(Placement(p, plan.sha256[p], "already_imported", archive / p.name, None,
                             f"same content as {original.name} in this inbox; read once"))
    for p, mark in plan.died:
        when = f" (started {mark['started']}, process {mark.get('pid', '?')})" if mark.get("started") else ""
        out.append(Placement(p, plan.sha256[p], "failed", failed / p.name, run.run_id if run is not None else None,
                             f"unreadable: the previous run died while reading this file{when}; it is not read "
                             "again (a reader crashed or the machine ran out of memory on it)"))
    if run is None:
        return out
    by_path = {f["path"]: f for f in run.summary["files"]}
    for p in plan.new:
        f = by_path.get(str(p)) or _sheets_entry(run.summary["files"], str(p))
        sha = plan.sha256[p]
        if f is None:  # the pipeline skipped it after all (imported meanwhile): keep the books straight
            out.append(Placement(p, sha, "already_imported", archive / p.name, run.run_id, "imported by an earlier run"))
        elif f["status"] in _FAILED_STATUSES:
            out.append(Placement(p, sha, "failed", failed / p.name, run.run_id,
                                 f"{f['status']}: {f['message'] or 'see the run report'}"))
        elif run.exit_code in _LEAVE_EXIT_CODES:
            out.append(Placement(p, sha, "left", None, run.run_id,
                                 f"run ended {run.exit_code}: some items not delivered; the next run reads it again"))
        else:
            note = f"{f['status']}: {f['rows']} rows, {f['valid']} valid"
            out.append(Placement(p, sha, "archived", archive / p.name, run.run_id, note))
    return out


def run_inbox(config: Any, folder: Path, out_dir: Path, force: bool, clock: Callable[[], dt.datetime],
              run_id: str, sleep: Callable[[float], None] = time.sleep) -> InboxResult:
    """One nightly inbox run over `folder` under the state lock; see the module docstring for the order of work."""
    from etl.logs import log_event, run_log, secret_values
    from etl.mapping import load_mappings
    from etl.pipeline import RunRequest, run_log_path, run_pipeline
    from etl.store import open_store

    if not folder.is_dir():
        from etl.errors import InputError

        raise InputError(f"{folder}: no such folder")
    folder = folder.resolve()
    with state_lock(config.state_path, config.inbox.lock_wait_s):
        ready, busy = scan(folder, config.inbox.settle_s, sleep)
        mappings = load_mappings(list(config.mapping_dirs))
        limits = getattr(config, "reading", None)
        marks = ReadingMarks(folder)
        with marking(marks):  # "reading started" around every sniff and read of an inbox file
            with open_store(config.state_path) as store:
                plan = plan_inbox(store, ready, mappings, force, marks, limits)
            run = None
            if plan.new:
                run = run_pipeline(RunRequest(config=config, inputs=tuple(plan.new), out_dir=out_dir, run_id=run_id,
                                              clock=clock, mode="inbox", force=force))
        now = clock()
        placements = _placements(folder, plan, run, now.astimezone().date().isoformat())
        with open_store(config.state_path) as store:
            placements = place_files(store, folder, placements, now)
        for p, _ in plan.died:
            marks.clear(plan.sha256[p])
        if run is not None:
            with run_log(run_log_path(config, run.run_dir, run.run_id), run.run_id, secret_values(config),
                         config.log_level):
                for d in describe(placements, folder):
                    log_event("inbox_file", f"{d['file']}: {d['outcome']} ({d['note']})", **d)
                for p, why in busy:
                    log_event("inbox_busy", f"{p.name}: left in the inbox ({why})", file=p.name)
    exit_code = run.exit_code if run is not None else 0
    if plan.died and exit_code in (0, 1):
        from etl.errors import EXIT_INPUT

        exit_code = EXIT_INPUT  # a file put in failed/ unread: the night's input is incomplete
    return InboxResult(folder, run, placements, busy, exit_code)
