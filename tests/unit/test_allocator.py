"""Importing etl sets polars' allocator to keep freed pages (etl/__init__.py), before polars loads, unless set already."""

from __future__ import annotations

import os
import subprocess
import sys

_PROBE = (
    "import os, sys\n"
    "import etl\n"
    "assert 'polars' not in sys.modules, 'etl imported polars before the allocator setting'\n"
    "import polars as pl\n"
    "pl.select(pl.int_range(1000).sum())\n"
    "print(os.environ.get('_RJEM_MALLOC_CONF', ''))\n"
)


def _effective(env_value: str | None) -> dict[str, str]:
    """The allocator options polars' jemalloc starts with in a fresh `import etl` process (later entries win)."""
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    if env_value is not None:
        env["_RJEM_MALLOC_CONF"] = env_value
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    return dict(item.split(":", 1) for item in done.stdout.strip().split(",") if item)


def test_import_keeps_freed_pages_ten_seconds_over_polars_own_default() -> None:
    conf = _effective(None)
    assert conf["dirty_decay_ms"] == "10000" and conf["muzzy_decay_ms"] == "10000"


def test_a_value_the_operator_set_wins() -> None:
    conf = _effective("dirty_decay_ms:0")
    assert conf["dirty_decay_ms"] == "0"
    assert conf.get("muzzy_decay_ms") != "10000"  # ours is not added beside the operator's
