"""A fresh real DuckDB state file per reconciliation test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from etl.store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """The state database, migrated, on disk under tmp_path."""
    with open_store(tmp_path / "state.duckdb") as s:
        yield s
