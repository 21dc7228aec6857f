"""The creditor registry, the inbox's run key and the run limits: plain Python, tested without dagster installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from etl.errors import ConfigError
from etl.orchestrate.limits import concurrency_settings, run_tags
from etl.orchestrate.registry import load_registry, load_settings, registry_path_from_env
from etl.orchestrate.watch import pending
from tests.orchestrate.support import FJORD, build_registry, bureau_config, fjord_config


def test_a_single_file_registry_has_one_partition_per_creditor_block(tmp_path: Path) -> None:
    path = bureau_config(tmp_path / "bureau", "http://127.0.0.1:9")
    reg = load_registry(path)
    assert sorted(reg.creditors) == ["nordlys-no", "solkraft-se"] and reg.problems == ()
    nordlys = reg.entry("nordlys-no")
    assert nordlys.config_path == path and nordlys.inbox == tmp_path / "bureau" / "inbox" / "nordlys-no"
    assert nordlys.families == ("arm",) and reg.entry("solkraft-se").families == ("ada",)
    assert run_tags(nordlys) == {"amili-etl/creditor": "nordlys-no", "amili-etl/api-arm": "true"}
    with pytest.raises(ConfigError, match="no creditor 'nobody'"):
        reg.entry("nobody")


def test_a_broken_config_hides_only_its_own_creditors(tmp_path: Path) -> None:
    build_registry(tmp_path, "http://127.0.0.1:9")
    (tmp_path / FJORD / "amili-etl.toml").write_text("[[creditor]]\nname = 'fjord-no'\ncountry = 'DK'\n", encoding="utf-8")
    (tmp_path / "copy").mkdir()
    fjord_config(tmp_path / "copy", "http://127.0.0.1:9")  # a second file claiming fjord-no: the first one wins
    reg = load_registry(tmp_path)
    assert sorted(reg.creditors) == ["fjord-no", "nordlys-no", "solkraft-se"]
    assert reg.creditors[FJORD].config_path == tmp_path / "copy" / "amili-etl.toml"
    assert len(reg.problems) == 1 and "country must be one of" in reg.problems[0]


def test_orchestration_settings_size_the_family_limits(tmp_path: Path) -> None:
    assert load_settings(tmp_path).pools == {"arm": 4, "collection": 4, "ada": 4}  # no orchestration.toml
    (tmp_path / "orchestration.toml").write_text("[pools]\narm = 6\n\n[inbox]\nroot = 'boxes'\n", encoding="utf-8")
    settings = load_settings(tmp_path)
    assert settings.inbox_root == tmp_path / "boxes"
    limits = concurrency_settings(settings)["runs"]["tag_concurrency_limits"]
    assert {"key": "amili-etl/api-arm", "limit": 6} in limits
    assert {"key": "amili-etl/creditor", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
    (tmp_path / "orchestration.toml").write_text("[pools]\narm = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[pools\] arm must be a whole number of runs, at least 1"):
        load_settings(tmp_path)
    (tmp_path / "orchestration.toml").write_text("[pool]\narm = 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[pool\]: unknown table"):
        load_settings(tmp_path)


def test_the_registry_comes_from_the_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="AMILI_ETL_REGISTRY is not set"):
        registry_path_from_env({})
    with pytest.raises(ConfigError, match="no such file or folder"):
        registry_path_from_env({"AMILI_ETL_REGISTRY": str(tmp_path / "nope")})
    assert registry_path_from_env({"AMILI_ETL_REGISTRY": str(tmp_path)}) == tmp_path


def test_the_run_key_is_the_same_for_the_same_drop_and_new_for_a_new_one(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    assert pending("c", inbox).run_key is None  # no inbox folder yet
    inbox.mkdir()
    (inbox / "ocr.txt").write_bytes(b"first file")
    (inbox / "bank.csv.part").write_bytes(b"still being written")  # never part of the key
    first = pending("c", inbox)
    assert [p.name for p in first.files] == ["ocr.txt"]
    again = pending("c", inbox, first.seen)
    assert again.run_key == first.run_key
    assert pending("other", inbox).run_key != first.run_key  # keys are per creditor
    (inbox / "bank.csv.part").rename(inbox / "bank.csv")
    grown = pending("c", inbox, first.seen)
    assert grown.run_key != first.run_key and len(grown.files) == 2
    # The same content dropped again later (the archive took the first copy): a new drop, a new key.
    (inbox / "bank.csv").unlink()
    content = (inbox / "ocr.txt").read_bytes()
    (inbox / "ocr.txt").unlink()
    (inbox / "ocr.txt").write_bytes(content)
    os.utime(inbox / "ocr.txt", ns=(first.seen["ocr.txt"][1] + 10**9,) * 2)
    assert pending("c", inbox).run_key != first.run_key


def test_the_core_never_imports_dagster() -> None:
    code = ("import sys, etl, etl.cli, etl.orchestrate.registry, etl.orchestrate.runs, etl.orchestrate.limits, "
            "etl.orchestrate.watch; sys.exit(1 if any(m.split('.')[0] == 'dagster' for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
