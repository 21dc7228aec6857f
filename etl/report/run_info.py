"""The Run info sheet: the configuration used (secrets never included), versions, and the run's own facts."""

from __future__ import annotations

import dataclasses
import platform
from importlib import metadata
from typing import Any

import polars as pl

from etl.config import Config

__all__ = ["run_info_frame"]

_VERSIONED = ("amili-etl", "polars", "duckdb", "xlsxwriter", "httpx", "pandera")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    """Dataclasses and dicts as dotted keys; the `secrets` of a creditor are left out entirely."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if f.name == "secrets":
                continue  # credentials never reach a report (their variable names, *_env, are shown)
            _flatten(f"{prefix}.{f.name}" if prefix else f.name, getattr(value, f.name), out)
    elif isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}", v, out)
    elif isinstance(value, (tuple, list)) and value and all(dataclasses.is_dataclass(v) for v in value):
        for i, v in enumerate(value):
            _flatten(f"{prefix}[{getattr(v, 'name', i)}]", v, out)
    else:
        out.append((prefix, ", ".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)))


def run_info_frame(facts: dict[str, Any], config: Config) -> pl.DataFrame:
    """key/value rows: the run's facts, every configuration value (no secrets), and the versions of what ran."""
    rows: list[tuple[str, str]] = [(k, str(v)) for k, v in facts.items()]
    _flatten("config", config, rows)
    rows += [(f"version.{d}", _version(d)) for d in _VERSIONED]
    rows.append(("version.python", platform.python_version()))
    return pl.DataFrame(rows, schema={"key": pl.String, "value": pl.String}, orient="row")
