"""State safety: an older state file is migrated, a newer one refused; export writes every table to Parquet."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import duckdb
import polars as pl
import pytest

from etl.errors import StateError
from etl.store import SCHEMA_VERSION, open_store
from etl.store.export import export_state


def _version_1_database(path: Path) -> None:
    """A state file as amili-etl with only migration 0001 left it, with one finished run in it."""
    sql = resources.files("etl.store").joinpath("migrations", "0001_initial.sql").read_text(encoding="utf-8")
    con = duckdb.connect(str(path))
    con.execute(sql)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute("INSERT INTO runs (run_id, started_at, mode, status, exit_code) "
                "VALUES ('20250101T000000Z-abcd', TIMESTAMP '2025-01-01 00:00:00', 'run', 'clean', 0)")
    con.close()


def test_an_older_state_file_is_migrated_and_keeps_its_history(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    _version_1_database(db)
    with open_store(db) as store:
        version = store.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        assert int(version[0]) == SCHEMA_VERSION > 1
        assert store.execute("SELECT run_id, status FROM runs").fetchall() == [("20250101T000000Z-abcd", "clean")]
        tables = {r[0] for r in store.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert {"run_meta", "inbox_files"} <= tables
    with open_store(db) as store:  # applied once: opening again changes nothing
        assert store.execute("SELECT count(*) FROM runs").fetchone()[0] == 1


def test_a_newer_state_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "new.duckdb"
    open_store(db).close()
    con = duckdb.connect(str(db))
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
    con.close()
    with pytest.raises(StateError, match=f"schema version {SCHEMA_VERSION + 1}.*upgrade amili-etl"):
        open_store(db)


def test_export_writes_every_table_to_parquet(tmp_path: Path) -> None:
    db = tmp_path / "state.duckdb"
    _version_1_database(db)
    with open_store(db) as store:
        manifest = export_state(store, tmp_path / "export")
        tables = [r[0] for r in store.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_type = 'BASE TABLE'").fetchall()]
    assert sorted(manifest["tables"]) == sorted(tables)
    assert manifest["schema_version"] == SCHEMA_VERSION
    runs = pl.read_parquet(tmp_path / "export" / "runs.parquet")
    assert runs.get_column("run_id").to_list() == ["20250101T000000Z-abcd"]
    for table in tables:
        assert pl.read_parquet(tmp_path / "export" / f"{table}.parquet").height == manifest["tables"][table]
    assert not list((tmp_path / "export").glob("*.partial"))


def test_payments_stored_before_migration_8_are_numbered_and_their_matches_linked(tmp_path: Path) -> None:
    from etl.store.db import _migrations

    db = tmp_path / "v7.duckdb"
    con = duckdb.connect(str(db))
    for number, sql in _migrations():
        if number <= 7:
            con.execute(sql)
    con.execute("INSERT INTO meta VALUES ('schema_version', '7')")
    rows = [("r1", "a", 1, False, None), ("r1", "b", 2, False, None), ("r1", "a", 3, False, "bank.txt:1"),
            ("r1", "c", 4, True, None), ("r2", "b", 1, False, None)]
    for run_id, key, line, held_back, duplicate_of in rows:
        con.execute("INSERT INTO payments (run_id, payment_key, source_file, source_sha256, source_line, format, "
                    "amount_minor, currency, held_back, duplicate_of) VALUES (?, ?, 'bank.txt', 's', ?, 'ocr_giro', 100, "
                    "'NOK', ?, ?)", [run_id, key, line, held_back, duplicate_of])
    for run_id, key in (("r1", "a"), ("r1", "b"), ("r2", "b")):
        con.execute("INSERT INTO matches (run_id, payment_key, creditor, rule) VALUES (?, ?, 'c', 'none')", [run_id, key])
    con.close()
    with open_store(db) as store:
        numbered = store.execute("SELECT run_id, source_line, payment_no FROM payments ORDER BY run_id, source_line").fetchall()
        linked = store.execute("SELECT m.run_id, m.payment_key, p.source_line FROM matches m JOIN payments p "
                               "ON p.run_id = m.run_id AND p.payment_no = m.payment_no ORDER BY 1, 2").fetchall()
    assert numbered == [("r1", 1, 0), ("r1", 2, 1), ("r1", 3, 2), ("r1", 4, 3), ("r2", 1, 0)]
    # Each match belongs to the first sighting of its key in its run, never to the duplicate or another run's row.
    assert linked == [("r1", "a", 1), ("r1", "b", 2), ("r2", "b", 1)]
