"""The state database hands results to polars as Arrow string views (etl/store/db.py), not as copied strings."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from etl.store import open_store


def test_text_results_cross_as_string_views(tmp_path: Path) -> None:
    with open_store(tmp_path / "state.duckdb") as store:
        table = store.con.sql("SELECT 'a text longer than twelve bytes ' || i::VARCHAR AS t FROM range(3) r(i)").arrow()
        if isinstance(table, pa.RecordBatchReader):
            table = table.read_all()
        assert table.schema.field("t").type == pa.string_view()
        assert store.frame("SELECT 'x' || 1 AS t").item() == "x1"
