"""Fixtures for the reader tests: the shipped mappings and a helper that reads a file as the pipeline does."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from etl.mapping import MappingSet, load_mappings
from etl.sources import read_source
from etl.sources.base import SourceResult

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"


@pytest.fixture(scope="session")
def mappings() -> MappingSet:
    """The layouts shipped in mappings/."""
    return load_mappings([REPO / "mappings"])


@pytest.fixture
def read(mappings: MappingSet) -> Callable[[Path], SourceResult]:
    """read_source with the shipped mappings."""
    return lambda path: read_source(path, mappings)


@pytest.fixture
def copy_as(tmp_path: Path) -> Callable[[Path, str], Path]:
    """Copy a data file into tmp_path under another name (detection must not look at names)."""

    def _copy(src: Path, name: str) -> Path:
        dst = tmp_path / name
        shutil.copyfile(src, dst)
        return dst

    return _copy


@pytest.fixture
def run_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sample configuration with its state file and reports in tmp_path, and sandbox secrets in the environment."""
    text = (REPO / "sample_data" / "amili-etl.toml").read_text(encoding="utf-8")
    text = text.replace('"../state/amili-etl.duckdb"', f'"{tmp_path / "state.duckdb"}"')
    text = text.replace('"../reports"', f'"{tmp_path / "reports"}"')
    config = tmp_path / "amili-etl.toml"
    config.write_text(text, encoding="utf-8")
    for name in ("AMILI_NO_CLIENT_ID", "AMILI_NO_CLIENT_SECRET", "AMILI_SE_ADA_API_CODE"):
        monkeypatch.setenv(name, "sandbox")
    return config
