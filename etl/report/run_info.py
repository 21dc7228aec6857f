"""The Run info sheet: the configuration used (secrets never included), versions, and the run's own facts."""

from __future__ import annotations

import dataclasses
import platform
from importlib import metadata
from typing import Any

import polars as pl

from etl.config import Config

__all__ = ["run_info_frame", "human_key", "human_value"]

_VERSIONED = ("amili-etl", "polars", "duckdb", "xlsxwriter", "httpx", "pandera")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


# Words for the parts of internal names a person reads in the Run info sheet (ARM, not arm; "timeout (s)").
_WORDS = {"arm": "ARM", "ada": "ADA", "url": "URL", "tls": "TLS", "kid": "KID", "http": "HTTP", "io": "I/O",
          "id": "id", "no": "number", "env": "(environment variable)", "s": "(s)", "mb": "(MB)", "minor": "(øre/öre)",
          "bp": "(basis points)", "dir": "folder", "dirs": "folders", "max": "max", "min": "min"}
# Whole keys whose words alone would say too little.
_WHOLE = {"config": "configuration file", "config.path": "configuration file", "state": "state file",
          "config.state_path": "state file", "config.sandbox": "sent to the embedded sandbox"}
_SECTIONS = {"http": "HTTP", "inbox": "inbox", "reading": "reading", "matching": "matching"}


def _words(name: str) -> str:
    """An internal name as words: `arm_base_url` -> 'ARM base URL', `timeout_s` -> 'timeout (s)'."""
    return " ".join(_WORDS.get(part, part) for part in name.split("_") if part)


def human_key(key: str) -> str:
    """A dotted Run info key as a person reads it: 'config.creditors[nordlys-no].payments_to' ->
    'creditor nordlys-no: payments to'; 'config.http.timeout_s' -> 'HTTP: timeout (s)'."""
    if key in _WHOLE:
        return _WHOLE[key]
    parts = key.split(".")
    if parts[0] == "config":
        parts = parts[1:]
    if parts and parts[0].startswith("creditors[") and parts[0].endswith("]"):
        head = f"creditor {parts[0][len('creditors['):-1]}"
        return f"{head}: " + ": ".join(_words(p) for p in parts[1:])
    if len(parts) > 1 and parts[0] in _SECTIONS:
        return f"{_SECTIONS[parts[0]]}: " + ": ".join(_words(p) for p in parts[1:])
    if parts and parts[0] == "version":
        return f"version of {'.'.join(parts[1:])}"
    return ": ".join(_words(p) for p in parts)


def human_value(value: Any) -> str:
    """A value as a person reads it: yes / no, 'not set' for None, lists joined with commas."""
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (tuple, list)):
        return ", ".join(map(human_value, value)) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {human_value(v)}" for k, v in value.items()) if value else "none"
    return str(value)


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    """Dataclasses and dicts as dotted keys; the `secrets` of a creditor are left out entirely."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if f.name == "secrets":
                continue  # credentials never reach a report (their variable names, *_env, are shown)
            _flatten(f"{prefix}.{f.name}" if prefix else f.name, getattr(value, f.name), out)
    elif isinstance(value, (tuple, list)) and value and all(dataclasses.is_dataclass(v) for v in value):
        for i, v in enumerate(value):
            _flatten(f"{prefix}[{getattr(v, 'name', i)}]", v, out)
    else:
        out.append((human_key(prefix), human_value(value)))


def run_info_frame(facts: dict[str, Any], config: Config) -> pl.DataFrame:
    """key/value rows in words: the run's facts, every configuration value (no secrets), the versions of what ran."""
    rows: list[tuple[str, str]] = [(human_key(k), human_value(v)) for k, v in facts.items()]
    _flatten("config", config, rows)
    rows += [(human_key(f"version.{d}"), _version(d)) for d in _VERSIONED]
    rows.append((human_key("version.python"), platform.python_version()))
    return pl.DataFrame(rows, schema={"key": pl.String, "value": pl.String}, orient="row")
