"""Carry out filled rows: decide each against the state, record the resolutions, deliver the matches, report."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl.config import Config
from etl.errors import EXIT_CLEAN, EXIT_DISCREPANCIES, EXIT_PARTIAL, EXIT_TEMPFAIL
from etl.resolve.decide import Decision, decide
from etl.resolve.deliver import deliver_matches, plan_match, plan_write_off
from etl.resolve.read import read_instructions
from etl.resolve.record import insert_resolution, mark_delivered, write_outcome
from etl.store import Store, open_store

__all__ = ["ResolveResult", "resolve_files"]


@dataclass
class ResolveResult:
    """What one resolve did: each row's outcome, the delivery, where the files went, the exit code."""

    rows: list[dict[str, Any]]
    folder: Path | None
    rejects: Path | None
    to_deliver: int = 0
    delivered: int = 0
    not_delivered: list[str] = field(default_factory=list)
    unreachable: str | None = None
    exit_code: int = EXIT_CLEAN


def _outcome(d: Decision, dry_run: bool) -> dict[str, Any]:
    row = d.row
    what = {"do": "would be done" if dry_run else "done", "unchanged": "unchanged", "refuse": "refused"}[d.verdict]
    reason = d.reason
    if d.verdict == "do" and d.resolution and d.resolution.get("api"):
        reason = f"{d.resolution['api']} {d.resolution['key']}"
    return {"source_file": row.source_file, "source_row": row.source_row, "category": row.category,
            "break_key": row.break_key, "action": row.action, "action_invoice": row.action_invoice, "outcome": what,
            "reason": reason}


def _decide_all(store: Store, config: Config, rows: list[Any], by: str, now: dt.datetime,
                dry_run: bool) -> tuple[list[Decision], dict[str, dict[str, Any]]]:
    """Decide and record row by row (each row sees the rows before it). A dry run records in one transaction it
    rolls back: it decides exactly as a real one would and leaves nothing behind."""
    decisions, payments = [], {}
    at = now.replace(tzinfo=None)
    store.execute("BEGIN TRANSACTION")
    try:
        for row in rows:
            d = decide(store, config, row, by, at)
            if d.verdict == "do" and d.payment is not None and row.action == "write_off":
                item = plan_write_off(config, d.payment, d.payment["amount_minor"], at.date())
                if item.height:  # else recorded for the ledger only
                    d.resolution.update(api=item.item(0, "api"), key=item.item(0, "key"))  # type: ignore[union-attr]
                    payments[d.resolution["resolution_id"]] = d.payment  # type: ignore[index]
            elif d.verdict == "do" and d.payment is not None:
                item = plan_match(config, d.payment)
                if item.height == 0:
                    d = Decision(row, "refuse", f"creditor {d.payment['creditor']!r} has nowhere to send payments")
                else:
                    d.resolution.update(api=item.item(0, "api"), key=item.item(0, "key"))  # type: ignore[union-attr]
                    payments[d.resolution["resolution_id"]] = d.payment  # type: ignore[index]
            if d.verdict == "do":
                insert_resolution(store, d)
            decisions.append(d)
    except BaseException:
        store.execute("ROLLBACK")
        raise
    if dry_run:
        store.execute("ROLLBACK")
    else:
        store.check_in_place()
        store.execute("COMMIT")  # every row's resolution at once: a crash before leaves none recorded
    return decisions, payments


def resolve_files(config: Config, paths: list[Path], by: str, clock: Callable[[], dt.datetime], out_dir: Path,
                  dry_run: bool = False) -> ResolveResult:
    """Carry out every filled row of `paths` under the state's lock; writes <out_dir>/resolve-<stamp>/ (not on a
    dry run). InputError (exit 3) for a file that cannot be read, before anything is decided."""
    from etl.lock import state_lock

    rows = read_instructions(paths)
    now = clock()
    stamp = now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)
    with state_lock(config.state_path, config.inbox.lock_wait_s), open_store(config.state_path) as store:
        mark_delivered(store)
        decisions, payments = _decide_all(store, config, rows, by, now, dry_run)
        result = ResolveResult([_outcome(d, dry_run) for d in decisions], None, None)
        if not dry_run:
            report, result.to_deliver = deliver_matches(store, config, f"resolve-{stamp}", payments, clock)
            mark_delivered(store)
            result.delivered = sum(report.confirmed.values())
            result.not_delivered = [f"{api}: {n} rejected by Amili" for api, n in report.rejected.items() if n] + \
                                   [f"{api}: {n} without an answer yet" for api, n in report.pending.items() if n]
            result.unreachable = report.unreachable_reason()
    if not dry_run and result.rows:
        result.folder = out_dir / f"resolve-{stamp}"
        result.rejects = write_outcome(result.folder, result.rows)
    result.exit_code = _exit_code(result)
    return result


def _exit_code(result: ResolveResult) -> int:
    """75 when Amili was unreachable for every item, 4 when some item is not delivered, 1 when rows were refused."""
    if result.to_deliver and result.unreachable and result.delivered == 0:
        return EXIT_TEMPFAIL
    if result.not_delivered:
        return EXIT_PARTIAL
    if any(r["outcome"] == "refused" for r in result.rows):
        return EXIT_DISCREPANCIES
    return EXIT_CLEAN
