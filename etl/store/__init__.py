"""The DuckDB state file: schema, migrations and narrow read/write functions."""

from etl.store.db import SCHEMA_VERSION, Store, open_store

__all__ = ["SCHEMA_VERSION", "Store", "open_store"]
