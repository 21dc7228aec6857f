"""One creditor's night (`amili-etl inbox`) and month-end (`amili-etl reconcile`), with the outcome as plain values.

The orchestrator calls these and maps the outcome to success, retry or failure; no dagster here. The inbox goes
through the same library calls as the CLI command; month-end runs the CLI itself (its contract: exit code and
OUT/period-YYYY-MM/summary.json).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl.errors import EXIT_CLEAN, EXIT_DISCREPANCIES, EXIT_INTERNAL, EXIT_PARTIAL, EXIT_TEMPFAIL, EtlError
from etl.orchestrate.registry import CreditorEntry

__all__ = ["Outcome", "inbox_run", "month_end_run", "EXIT_MEANING"]

EXIT_MEANING = {0: "clean", 1: "discrepancies found", 2: "usage or configuration error",
                3: "input unreadable or run incomplete", 4: "partial delivery: a rerun delivers the rest",
                70: "internal failure: page a person", 75: "Amili unreachable or the state locked: retry later"}


@dataclass(frozen=True)
class Outcome:
    """What a command ended with: its exit code, a one-line message and the summary as metadata."""

    exit_code: int
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """0 and 1 are a run that did its job (1: the accountant reads the report)."""
        return self.exit_code in (EXIT_CLEAN, EXIT_DISCREPANCIES)

    @property
    def retryable(self) -> bool:
        """4 and 75: nothing lost, a later attempt delivers what is left."""
        return self.exit_code in (EXIT_PARTIAL, EXIT_TEMPFAIL)


def _failed(exc: BaseException) -> Outcome:
    """A known failure as its exit code and one line; anything else is 70 with its traceback (masked, as the CLI
    prints it) for the developer."""
    import traceback

    from etl.cli.support import masked

    if isinstance(exc, EtlError):
        line = masked(str(exc))
        return Outcome(exc.exit_code, line, {"exit_code": exc.exit_code,
                                             "meaning": EXIT_MEANING.get(exc.exit_code, "?"), "error": line})
    line = masked(f"{type(exc).__name__}: {exc}")
    return Outcome(EXIT_INTERNAL, line, {"exit_code": EXIT_INTERNAL, "meaning": EXIT_MEANING[EXIT_INTERNAL],
                                         "error": line, "traceback": masked("".join(traceback.format_exception(exc)))})


def inbox_run(entry: CreditorEntry, force: bool = False) -> Outcome:
    """`amili-etl inbox --creditor NAME` on the creditor's inbox: new files run, then archived, failed or left."""
    from etl.cli.support import load, now
    from etl.config import check_transport
    from etl.inbox import run_inbox
    from etl.pipeline import new_run_id, run_log_path

    try:
        config = load(entry.config_path, entry.name)
        check_transport(config)
        result = run_inbox(config, entry.inbox, config.output_dir, force, now, new_run_id(now(), secrets.token_hex(2)))
    except Exception as exc:  # noqa: BLE001 - every failure becomes its exit code and one line, as in the CLI
        return _failed(exc)
    placed = Counter(p.outcome for p in result.placements)
    meta: dict[str, Any] = {"exit_code": result.exit_code, "meaning": EXIT_MEANING.get(result.exit_code, "?"),
                            "files": {k: placed.get(k, 0) for k in ("archived", "failed", "left", "already_imported")}
                            | {"busy": len(result.busy)}}
    if result.run is None:
        return Outcome(result.exit_code, f"inbox {entry.inbox}: nothing new", {**meta, "status": "nothing new"})
    s, run_dir = result.run.summary, result.run.run_dir
    meta |= {"status": s["status"], "amili_etl_run_id": result.run.run_id, "counts": dict(s["counts"]),
             "discrepancies": sum(s["counts"].values()), "sent": dict(s["sent"]), "sent_total": sum(s["sent"].values()),
             "workbook": run_dir / "discrepancies.xlsx", "csv": run_dir / "discrepancies.csv",
             "summary": run_dir / "summary.json", "log": run_log_path(config, run_dir, result.run.run_id)}
    return Outcome(result.exit_code, f"run {result.run.run_id}: {s['status']} (exit {result.exit_code})", meta)


def month_end_run(entry: CreditorEntry, period: str, readback: bool = True) -> Outcome:
    """`amili-etl reconcile --creditor NAME --period YYYY-MM` in its own process; the workbook and status."""
    from etl.cli.support import load

    try:
        out_dir = load(entry.config_path, entry.name).output_dir
    except Exception as exc:  # noqa: BLE001 - a broken config is exit 2 here as in the CLI
        return _failed(exc)
    cmd = [sys.executable, "-m", "etl", "reconcile", "--config", str(entry.config_path), "--creditor", entry.name,
           "--period", period, "--out", str(out_dir)] + ([] if readback else ["--no-readback"])
    folder = Path(out_dir) / f"period-{period}"
    summary_path = folder / "summary.json"
    before = summary_path.stat().st_mtime_ns if summary_path.is_file() else None
    proc = subprocess.run(cmd, capture_output=True, text=True)
    meta: dict[str, Any] = {"exit_code": proc.returncode, "meaning": EXIT_MEANING.get(proc.returncode, "?"),
                            "period": period}
    # Only this run's summary: one left by an earlier month-end of the same period says nothing about this one.
    if summary_path.is_file() and summary_path.stat().st_mtime_ns != before:
        s = json.loads(summary_path.read_text(encoding="utf-8"))
        t = s.get("totals", {})
        meta |= {"status": s.get("status"), "workbook": folder / "discrepancies.xlsx", "summary": summary_path,
                 "counts": dict(s.get("counts", {})),
                 "breaks": {k: t.get(f"breaks_{k}", 0) for k in ("new", "persisting", "resolved")},
                 "incomplete_because": dict(t.get("incomplete_because") or {})}
    last = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    if "status" not in meta:
        meta["error"] = last
    return Outcome(proc.returncode, f"period {period}: {meta.get('status', last)} (exit {proc.returncode})", meta)
