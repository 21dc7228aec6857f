"""Run history in the state database: what each run was given, which files were imported before, and reruns."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from etl.config import Config
from etl.errors import ConfigError, InputError
from etl.sources import iter_input_files
from etl.store import Store

__all__ = [
    "IMPORTED_EXIT_CODES",
    "RunInfo",
    "file_sha256",
    "record_run_start",
    "mark_interrupted",
    "record_skipped",
    "imported_before",
    "already_imported",
    "list_runs",
    "find_run",
    "run_files",
    "locate_inputs",
    "undelivered_items",
    "run_log_path",
]

# A file counts as imported when a finished run read it and ended clean, with discrepancies or with incomplete
# input: its rows are in the state. A run that ended 4 or 75 (items left undelivered), failed or was interrupted
# did not finish the job, so its files are read again by the next run (the outbox keeps every send single);
# a dry run sent nothing, so it imports nothing either.
IMPORTED_EXIT_CODES = (0, 1, 3)


@dataclass(frozen=True)
class RunInfo:
    """One row of the runs table plus its metadata."""

    run_id: str
    started_at: Any
    finished_at: Any
    mode: str
    status: str
    exit_code: int | None
    config_path: str | None
    out_dir: str | None
    summary: dict[str, Any] | None
    inputs: list[str]
    forced: bool
    rerun_of: str | None
    log_path: str | None
    skipped: list[dict[str, Any]]


def run_log_path(config: Config, run_dir: Path, run_id: str) -> Path:
    """Where a run's JSON-lines log goes: <[log] dir>/<run_id>.jsonl, or <run folder>/log.jsonl."""
    return config.log_dir / f"{run_id}.jsonl" if config.log_dir else run_dir / "log.jsonl"

def file_sha256(path: Path) -> str:
    """The sha256 of a file's content, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def record_run_start(store: Store, run_id: str, inputs: tuple[Path, ...], forced: bool, rerun_of: str | None,
                     log_path: Path | None) -> None:
    """Remember what the run was given; mark runs left 'running' by a killed process as interrupted."""
    mark_interrupted(store, run_id)
    store.execute(
        "INSERT INTO run_meta (run_id, inputs, forced, rerun_of, log_path) VALUES (?, ?, ?, ?, ?)",
        [run_id, json.dumps([str(p.resolve()) for p in inputs]), forced, rerun_of,
         str(log_path) if log_path else None],
    )


def mark_interrupted(store: Store, current: str | None = None) -> int:
    """Mark every run still 'running' (but `current`) as interrupted; returns how many.

    Safe because we hold the state file read-write: DuckDB lets only one process do that, so no other run lives.
    """
    rows = store.execute("UPDATE runs SET status = 'interrupted' WHERE status = 'running' AND run_id IS DISTINCT FROM ? "
                         "RETURNING run_id", [current]).fetchall()
    return len(rows)


def record_skipped(store: Store, run_id: str, skipped: list[dict[str, Any]]) -> None:
    """Store the files a run left out because an earlier run had imported them."""
    store.execute("UPDATE run_meta SET skipped = ? WHERE run_id = ?", [json.dumps(skipped), run_id])


def imported_before(store: Store, sha256s: list[str]) -> dict[str, str]:
    """sha256 -> the first finished run that imported a file with that content (see IMPORTED_EXIT_CODES)."""
    if not sha256s:
        return {}
    rows = store.execute(
        """
        SELECT f.sha256, min(f.run_id) FROM files f JOIN runs r USING (run_id)
        WHERE f.sha256 IN (SELECT unnest($shas)) AND r.exit_code IN (SELECT unnest($codes)) AND r.mode <> 'dry-run'
        GROUP BY f.sha256
        """,
        {"shas": sha256s, "codes": list(IMPORTED_EXIT_CODES)},
    ).fetchall()
    return {sha: run for sha, run in rows}


def already_imported(store: Store, inputs: tuple[Path, ...]) -> list[dict[str, Any]]:
    """The input files whose content an earlier finished run imported: [{path, sha256, run_id}]."""
    files = iter_input_files(list(inputs))
    hashes = {f: file_sha256(f) for f in files}
    seen = imported_before(store, sorted(set(hashes.values())))
    return [{"path": str(f), "sha256": h, "run_id": seen[h]} for f, h in hashes.items() if h in seen]


def _info(row: tuple[Any, ...]) -> RunInfo:
    (run_id, started, finished, mode, status, exit_code, config_path, out_dir, summary, inputs, forced, rerun_of,
     log_path, skipped) = row
    return RunInfo(run_id, started, finished, mode, status, exit_code, config_path, out_dir,
                   json.loads(summary) if summary else None, json.loads(inputs) if inputs else [],
                   bool(forced), rerun_of, log_path, json.loads(skipped) if skipped else [])


_RUN_SQL = """
    SELECT r.run_id, r.started_at, r.finished_at, r.mode, r.status, r.exit_code, r.config_path, r.out_dir,
           r.summary, m.inputs, coalesce(m.forced, false), m.rerun_of, m.log_path, m.skipped
    FROM runs r LEFT JOIN run_meta m USING (run_id)
"""


def find_run(store: Store, run_id: str) -> RunInfo:
    """The run called `run_id` (a unique prefix will do); ConfigError when there is none or several."""
    rows = store.execute(_RUN_SQL + " WHERE starts_with(r.run_id, ?) ORDER BY r.run_id", [run_id]).fetchall()
    if not rows:
        raise ConfigError(f"no run {run_id!r} in the state database (see `amili-etl runs`)")
    exact = [r for r in rows if r[0] == run_id]
    if len(rows) > 1 and not exact:
        raise ConfigError(f"{run_id!r} matches {len(rows)} runs: give more of the run id")
    return _info(exact[0] if exact else rows[0])


def list_runs(store: Store, limit: int) -> pl.DataFrame:
    """The latest `limit` runs, newest first: id, times, mode, files, items per outbox state, status, exit code."""
    return store.frame(
        """
        WITH items AS (
            SELECT i.run_id,
                   count(*) FILTER (WHERE i.action IN ('deliver', 'sent', 'dry_run')) AS planned,
                   count(*) FILTER (WHERE o.state = 'confirmed' AND i.action IN ('deliver', 'sent')) AS confirmed,
                   count(*) FILTER (WHERE o.state = 'rejected' AND i.action IN ('deliver', 'sent')) AS rejected,
                   count(*) FILTER (WHERE o.state IN ('intent', 'sent', 'acknowledged', 'unknown')) AS open,
                   count(*) FILTER (WHERE i.action LIKE 'skipped%') AS skipped,
                   count(*) FILTER (WHERE i.action = 'conflict') AS conflict
            FROM run_items i LEFT JOIN outbox o ON o.api = i.api AND o.key = i.key
            GROUP BY i.run_id
        ),
        f AS (SELECT run_id, count(*) AS files FROM files GROUP BY run_id)
        SELECT r.run_id, r.started_at, r.finished_at, r.mode, coalesce(f.files, 0) AS files,
               coalesce(items.planned, 0) AS planned, coalesce(items.confirmed, 0) AS confirmed,
               coalesce(items.rejected, 0) AS rejected, coalesce(items.open, 0) AS open,
               coalesce(items.skipped, 0) AS skipped, coalesce(items.conflict, 0) AS conflict,
               r.status, r.exit_code
        FROM runs r LEFT JOIN f USING (run_id) LEFT JOIN items USING (run_id)
        ORDER BY r.started_at DESC, r.run_id DESC
        LIMIT $limit
        """,
        {"limit": limit},
    )


def run_files(store: Store, run_id: str) -> pl.DataFrame:
    """The files a run read, with where the inbox put them afterwards (moved_to, null when not moved)."""
    return store.frame(
        """
        SELECT f.path, f.sha256, f.format, f.status, f.rows, f.valid, f.rejected, f.message,
               (SELECT any_value(b.moved_to ORDER BY b.handled_at DESC) FROM inbox_files b
                 WHERE b.sha256 = f.sha256 AND b.run_id = f.run_id) AS moved_to
        FROM files f WHERE f.run_id = $run_id ORDER BY f.path
        """,
        {"run_id": run_id},
    )


def locate_inputs(store: Store, run: RunInfo) -> list[Path]:
    """The run's files as they are now: by content hash, wherever the inbox moved them or under its inputs.

    Raises InputError naming every file that can no longer be found (with a hint to --only-failed).
    """
    files = run_files(store, run.run_id)
    wanted = dict(zip(files.get_column("sha256").to_list(), files.get_column("path").to_list(), strict=True))
    found: dict[str, Path] = {}
    for moved in files.get_column("moved_to").drop_nulls().to_list():
        p = Path(moved)
        if p.is_file() and file_sha256(p) in wanted:
            found[file_sha256(p)] = p
    missing = [sha for sha in wanted if sha not in found]
    if missing:
        roots = [Path(p) for p in run.inputs if Path(p).exists()]
        for f in iter_input_files(roots) if roots else []:
            h = file_sha256(f)
            if h in wanted and h not in found:
                found[h] = f
    gone = [wanted[sha] for sha in wanted if sha not in found]
    if gone:
        raise InputError(f"run {run.run_id}: input file(s) no longer found: {', '.join(gone)} "
                         "(restore them, or use --only-failed to deliver what the state holds)")
    return sorted(found.values())


def undelivered_items(store: Store, run_id: str) -> pl.DataFrame:
    """The run's outbox items without a final answer yet (the outbox's unfinished items that this run planned)."""
    from etl.amili.outbox import unfinished_items

    items = unfinished_items(store)
    mine = store.frame("SELECT DISTINCT api, key FROM run_items WHERE run_id = $run_id AND action <> 'conflict'",
                       {"run_id": run_id})
    return items.join(mine, on=["api", "key"], how="semi")


def redeliver(config: Any, run: RunInfo, new_run_id: str, out_dir: Path, clock: Any) -> tuple[dict[str, Any], int]:
    """Deliver what `run` left without a final answer, as run `new_run_id`: (summary, exit code).

    Thin on purpose: the outbox decides what may go (a confirmed item never does) and delivery looks up anything
    that may have got through before it sends again.
    """
    from etl.amili import APIS, deliver
    from etl.amili.outbox import add_run_items
    from etl.errors import EXIT_CLEAN, EXIT_DISCREPANCIES, EXIT_PARTIAL, EXIT_TEMPFAIL
    from etl.logs import log_event, run_log, secret_values
    from etl.reconcile import reconcile_run
    from etl.reconcile.write_off import write_off_small, written_off_totals
    from etl.report import write_csv, write_summary
    from etl.config import check_transport, insecure_tls_warning
    from etl.store import open_store

    check_transport(config)  # no credentials over plain http to a remote host
    run_dir = out_dir / new_run_id
    log_path = run_log_path(config, run_dir, new_run_id)
    now = lambda: clock().replace(tzinfo=None)  # noqa: E731 - the store keeps naive UTC
    with open_store(config.state_path) as store, run_log(log_path, new_run_id, secret_values(config), config.log_level):
        with store.transaction():
            store.execute("INSERT INTO runs (run_id, started_at, mode, status, config_path, out_dir) "
                          "VALUES (?, ?, 'rerun', 'running', ?, ?)", [new_run_id, now(), str(config.path), str(run_dir)])
            record_run_start(store, new_run_id, (), False, run.run_id, log_path)
            items = undelivered_items(store, run.run_id)
            add_run_items(store, new_run_id, items)
        log_event("rerun_started", f"rerun of {run.run_id}: {items.height} item(s) without a final answer",
                  rerun_of=run.run_id, items=items.height)
        if (warning := insecure_tls_warning(config)):
            import logging
            import sys

            log_event("insecure_tls", warning, logging.WARNING)
            print(f"amili-etl: {warning}", file=sys.stderr)
        report = deliver(store, config, new_run_id, items, now)
        found, written_off = write_off_small(store, config, new_run_id, reconcile_run(store, new_run_id), clock())
        if report.unavailable and len(report.unavailable) >= items.height > 0:
            code = EXIT_TEMPFAIL
        elif report.unavailable or sum(report.pending.values()):
            code = EXIT_PARTIAL
        else:
            code = EXIT_DISCREPANCIES if found.height else EXIT_CLEAN
        status = {EXIT_CLEAN: "clean", EXIT_DISCREPANCIES: "discrepancies", EXIT_PARTIAL: "incomplete",
                  EXIT_TEMPFAIL: "failed"}[code]
        counts = {c: int(n) for c, n in found.group_by("category").len().sort("category").iter_rows()}
        summary = {
            "run_id": new_run_id, "status": status, "counts": counts, "files": [], "rerun_of": run.run_id,
            "totals": {"planned": {a: int(n) for a, n in items.group_by("api").len().sort("api").iter_rows()},
                       "confirmed": dict(report.confirmed), "rejected": dict(report.rejected),
                       "pending": dict(report.pending), **written_off_totals(written_off)},
            "sent": {api: int(report.sent.get(api, 0)) for api in APIS},
        }
        report.note_unreachable(summary)
        run_dir.mkdir(parents=True, exist_ok=True)
        write_csv(found, run_dir / "discrepancies.csv")
        write_summary(summary, run_dir / "summary.json")
        store.execute("UPDATE runs SET finished_at = ?, status = ?, exit_code = ?, summary = ? WHERE run_id = ?",
                      [now(), status, code, json.dumps(summary), new_run_id])
        log_event("run_finished", f"run {new_run_id}: {status} (exit {code})", status=status, exit_code=code,
                  sent=summary["sent"])
    return summary, code
