"""Record resolutions in the state and write what a resolve did: outcome.csv and rejects.csv."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from etl.resolve.decide import Decision
from etl.store import Store

__all__ = ["OUTCOME_COLUMNS", "insert_resolution", "mark_delivered", "write_outcome"]

_COLUMNS = ("resolution_id", "break_key", "category", "action", "action_invoice", "action_note", "creditor",
            "amount_minor", "currency", "resolved_by", "resolved_at", "source_file", "source_row", "state", "api", "key")
OUTCOME_COLUMNS = ("source_file", "source_row", "category", "break_key", "action", "action_invoice", "outcome",
                   "reason")


def insert_resolution(store: Store, d: Decision) -> None:
    """Record one decision carried out; a reopen also marks the resolution it undoes as reopened (and drops its
    outbox item while that was never sent, so no later delivery sends it)."""
    r = dict(d.resolution or {})
    if d.undoes is not None:
        store.execute("UPDATE resolutions SET state = 'reopened' WHERE resolution_id = ?", [d.undoes["resolution_id"]])
        if d.undoes["api"] is not None:
            store.execute("DELETE FROM outbox WHERE api = ? AND key = ? AND state = 'intent' AND attempts = 0",
                          [d.undoes["api"], d.undoes["key"]])
        r["api"], r["key"] = d.undoes["api"], d.undoes["key"]
    store.execute(f"INSERT INTO resolutions ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                  [r.get(c) for c in _COLUMNS])


def mark_delivered(store: Store) -> int:
    """Active match resolutions whose outbox item Amili confirmed become delivered; returns how many moved."""
    moved = store.execute("""
        UPDATE resolutions SET state = 'delivered'
        FROM outbox o
        WHERE resolutions.state = 'active' AND resolutions.action <> 'reopen' AND o.api = resolutions.api
          AND o.key = resolutions.key AND o.state = 'confirmed'
        RETURNING resolution_id""").fetchall()
    return len(moved)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write atomically: a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=OUTCOME_COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def write_outcome(folder: Path, rows: list[dict[str, Any]]) -> Path | None:
    """outcome.csv (every filled row and what became of it) and rejects.csv (the refused ones, when any)."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_csv(folder / "outcome.csv", rows)
    refused = [r for r in rows if r["outcome"] == "refused"]
    if refused:
        _write_csv(folder / "rejects.csv", refused)
        return folder / "rejects.csv"
    return None
