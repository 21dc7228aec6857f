"""Open the state database, apply pending migrations in order, and run work in transactions."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from etl.errors import StateError

__all__ = ["SCHEMA_VERSION", "Store", "open_store"]

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
        except BaseException:
            self.con.execute("ROLLBACK")
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


def open_store(path: Path, *, read_only: bool = False) -> Store:
    """Open (creating if needed) the state file at `path` and bring its schema up to date."""
    try:
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        raise StateError(f"{path}: cannot open the state database: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise StateError(f"{path}: cannot open the state database: {exc}") from None
    # Results cross to polars as Arrow string views, which polars takes without copying the text (its own layout).
    # DuckDB produces them only from Arrow format 1.4 on (its default output is 1.0): both settings are needed.
    con.execute("SET produce_arrow_string_view = true")
    con.execute("SET arrow_output_version = '1.5'")
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
    except duckdb.Error as exc:
        store.close()
        raise StateError(f"{path}: state database unusable: {str(exc).splitlines()[0]}") from None
    return store
