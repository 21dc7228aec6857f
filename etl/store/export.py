"""Export the state database: every table to Parquet plus a manifest, for backup and audit."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from etl.store.db import Store

__all__ = ["export_state"]


def export_state(store: Store, folder: Path) -> dict[str, Any]:
    """Write FOLDER/<table>.parquet for every table and FOLDER/manifest.json; returns the manifest.

    Nothing is masked: this is the audit copy. Secrets are never stored in the state database, so none can leak
    here. Each file is written beside its final name and renamed, so a crash never leaves a half-written table.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tables = [r[0] for r in store.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE' "
        "ORDER BY table_name").fetchall()]
    version = store.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    counts: dict[str, int] = {}
    for table in tables:
        target = folder / f"{table}.parquet"
        partial = target.with_name(target.name + ".partial")
        # COPY takes no bound parameter for its target: quote the path as a literal (names come from the catalog).
        literal = str(partial).replace("'", "''")
        store.execute(f"""COPY "{table}" TO '{literal}' (FORMAT parquet)""")
        partial.replace(target)
        counts[table] = int(store.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
    manifest = {
        "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "state": str(store.path),
        "schema_version": int(version[0]) if version else None,
        "tables": counts,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest
