"""Open the state database, apply pending migrations in order, and run work in transactions."""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from etl.errors import EtlError, InternalError, StateError, StateLockedError

__all__ = ["SCHEMA_VERSION", "Store", "open_store", "state_failure"]

# Migrations are files etl/store/migrations/NNNN_name.sql, applied once each in number order. The schema version is
# the number of the last one applied; numbers may have gaps. A released migration is never edited: add a new file.
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def _migrations() -> list[tuple[int, str]]:
    """Every shipped migration as (number, SQL), in order."""
    found: list[tuple[int, str]] = []
    for entry in resources.files("etl.store").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


SCHEMA_VERSION = _migrations()[-1][0]


class Store:
    """A DuckDB connection to the state file, with helpers that keep SQL parameters bound."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.con = con
        self.path = path
        self._identity = _identity(path)

    def check_in_place(self) -> None:
        """InternalError (exit 70) when the state file was deleted or replaced since it was opened.

        DuckDB keeps writing into the file it opened: after a delete or a rename nothing it commits is found by the
        next run. Checked before every commit, so a run stops at the first commit point after the file went.
        """
        if self._identity is None:
            return
        now = _identity(self.path)
        if now is None:
            raise InternalError(f"{self.path}: the state file was deleted during the run; what this run did since "
                                "is not recorded (restore the file from a backup, then rerun)")
        if now != self._identity:
            raise InternalError(f"{self.path}: the state file was replaced during the run (another file now has "
                                "its name); what this run did since is not recorded")

    def close(self) -> None:
        """Close the connection (DuckDB checkpoints the file)."""
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: a crash inside leaves the file as it was before."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
            self.check_in_place()
        except BaseException:
            try:
                self.con.execute("ROLLBACK")
            except duckdb.Error:
                pass  # the database failed (a full disk, a fatal error): the original error says why
            raise
        else:
            self.con.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        """Run one statement with bound parameters."""
        return self.con.execute(sql, params or [])

    def frame(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run a query and return a polars frame."""
        return self.con.sql(sql, params=params or None).pl()

    def insert_frame(self, table: str, frame: pl.DataFrame) -> None:
        """Append a polars frame to `table`, matching columns by name."""
        if frame.height == 0:
            return
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        self.con.register("_incoming", frame)
        try:
            self.con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming")
        finally:
            self.con.unregister("_incoming")


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`, None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


_LOCK_PID = re.compile(r"\(PID (\d+)\)")
_DISK_FULL = ("No space left on device", "File too large", "Disk quota exceeded")
_CORRUPT = ("not a valid DuckDB database", "Could not read enough bytes", "Corrupt", "corrupt", "checksum",
            "Checksum", "Serialization Error", "INTERNAL Error", "database has been invalidated",
            "Failed to load", "Failed to read")


def state_failure(path: Path, exc: BaseException) -> EtlError:
    """One line naming the state file and what is wrong with it, with the contract's exit code.

    Another process holding the file: 75 (run again later). A full disk, a corrupt or truncated file, any other
    failure of the database underneath: 70 (a person must look; exit 1 never stands for a failure).
    """
    if isinstance(exc, EtlError):
        return exc
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if "Could not set lock" in text or "Conflicting lock" in text:
        pid = _LOCK_PID.search(text)
        return StateLockedError(f"{path}: another amili-etl process holds the state file"
                                + (f" (pid {pid.group(1)})" if pid else "")
                                + "; nothing was touched, run again later")
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT) or any(
            m in text for m in _DISK_FULL):
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else next(m for m in _DISK_FULL if m in text) \
            if any(m in text for m in _DISK_FULL) else first
        return InternalError(f"{path}: cannot write the state database: the disk is full ({why}); "
                             "free space, then rerun (nothing half-written counts as done)")
    if any(m in text for m in _CORRUPT):
        return InternalError(f"{path}: the state database is corrupt or truncated ({_clean(first)}); restore it from "
                             "a backup (amili-etl state export), then rerun")
    return InternalError(f"{path}: the state database failed: {_clean(first)}")


def _clean(line: str) -> str:
    """DuckDB's message without its class prefix and its advice links."""
    line = re.sub(r"^[A-Za-z ]*Error: ", "", line)
    return re.sub(r"\s*See also https?://\S+", "", line).strip()


def open_store(path: Path, *, read_only: bool = False) -> Store:
    """Open (creating if needed) the state file at `path` and bring its schema up to date.

    Every failure is one line naming the path: another process holding the file (StateLockedError, 75), a corrupt,
    truncated or unwritable file or a full disk (InternalError, 70), a file from a newer amili-etl (StateError, 2).
    """
    try:
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only)
    except (duckdb.Error, OSError) as exc:
        raise state_failure(path, exc) from None
    # Results cross to polars as Arrow string views, which polars takes without copying the text (its own layout).
    # DuckDB produces them only from Arrow format 1.4 on (its default output is 1.0): both settings are needed.
    try:
        con.execute("SET produce_arrow_string_view = true")
        con.execute("SET arrow_output_version = '1.5'")
    except duckdb.Error as exc:
        con.close()
        raise state_failure(path, exc) from None
    store = Store(con, path)
    if read_only:
        return store
    try:
        with store.transaction():
            con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise StateError(
                    f"{path}: state database is schema version {version}; this amili-etl knows {SCHEMA_VERSION} "
                    "(upgrade amili-etl)"
                )
            for number, sql in _migrations():
                if number > version:
                    con.execute(sql)
                    version = number
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)])
    except (duckdb.Error, OSError) as exc:
        try:
            store.close()
        except duckdb.Error:
            pass
        raise state_failure(path, exc) from None
    return store
