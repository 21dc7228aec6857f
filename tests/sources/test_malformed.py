"""The malformed-input corpus (tests/data/malformed/manifest.json): every file gets its expected status, a
one-line message naming the file and line, the contract's exit code, and never disturbs the other files."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from etl.cli import cli
from etl.pipeline import read_inputs

from .conftest import DATA

CORPUS = DATA / "malformed"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
_STATUSES = {"unreadable", "held_back", "rejected_rows", "unrecognised", "ok"}
_NOT_INPUT = {"manifest.json", "generate.py"}


def test_the_manifest_covers_every_file_and_enough_cases():
    files = {p.name for p in CORPUS.iterdir() if p.name not in _NOT_INPUT and not p.name.startswith(".")}
    listed = [case["file"] for case in MANIFEST]
    assert len(listed) == len(set(listed)) and set(listed) == files
    assert sum(case["status"] != "ok" for case in MANIFEST) >= 20
    assert {case["status"] for case in MANIFEST} <= _STATUSES


@pytest.mark.parametrize("case", MANIFEST, ids=[c["file"] for c in MANIFEST])
def test_each_file_has_its_outcome_and_a_one_line_message(mappings, case):
    path = CORPUS / case["file"]
    [outcome] = read_inputs((path,), mappings)
    assert outcome.status == case["status"], outcome.result.message
    if case["status"] in ("unreadable", "held_back", "unrecognised"):
        message = outcome.result.message
        assert "\n" not in message and message.startswith(f"{path}: ")
        assert case["message"] in message
        if case["line"] is not None:
            assert f"{path}: line {case['line']}: " in message
        assert outcome.valid.height == 0 or case["status"] == "held_back"
    elif case["status"] == "rejected_rows":
        hits = outcome.rejects.filter(outcome.rejects["error_message"].str.contains(case["message"], literal=True))
        assert hits.height and "\n" not in hits["error_message"][0]
        assert hits["source_line"][0] == case["line"]
    else:
        assert outcome.result.message == "" and outcome.valid.height > 0


@pytest.mark.parametrize("case", MANIFEST, ids=[c["file"] for c in MANIFEST])
def test_validate_exit_code_per_file(tmp_path, case):
    result = CliRunner().invoke(cli, ["validate", "--json", "--out", str(tmp_path), str(CORPUS / case["file"])])
    assert result.exit_code == case["exit_code"], result.output
    [entry] = json.loads(result.output)["files"]
    assert entry["status"] == case["status"]


def test_one_run_over_the_whole_corpus_leaves_good_files_alone(mappings, tmp_path):
    """All bad files in one run with two good ones: each keeps its own outcome, the good ones are read whole."""
    inbox = tmp_path / "inbox"
    shutil.copytree(CORPUS, inbox)
    shutil.copyfile(DATA / "ocr_giro" / "ocr1.txt", inbox / "zz_good_ocr.txt")
    shutil.copyfile(DATA / "camt053" / "camt_053_swedish_account_statement.xml", inbox / "aa_good_camt.xml")
    outcomes = {Path(o.display).name: o for o in read_inputs((inbox,), mappings)}
    assert set(outcomes) == {c["file"] for c in MANIFEST} | {"zz_good_ocr.txt", "aa_good_camt.xml"}
    for case in MANIFEST:
        assert outcomes[case["file"]].status == case["status"], case["file"]
    good = outcomes["zz_good_ocr.txt"]
    assert (good.status, good.valid.height, int(good.valid["amount_minor"].sum())) == ("ok", 23, 1_563_000)
    assert (outcomes["aa_good_camt.xml"].status, outcomes["aa_good_camt.xml"].valid.height) == ("ok", 5)
    # The whole-folder validate exits 3 (some inputs unreadable / held back) and names every bad file.
    result = CliRunner().invoke(cli, ["validate", "--out", str(tmp_path / "out"), str(inbox)])
    assert result.exit_code == 3
    for case in MANIFEST:
        if case["status"] in ("unreadable", "held_back", "unrecognised"):
            assert re.search(rf"{re.escape(str(inbox / case['file']))}: ", result.output), case["file"]


def test_the_corpus_is_what_generate_py_writes():
    """The committed files are reproducible from the samples (xlsx aside: a workbook carries its save time)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("malformed_generate", CORPUS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = {**module.cases(), **(module.table_cases() if hasattr(module, "table_cases") else {})}
    for name, content in written.items():
        if not name.endswith(".xlsx"):
            assert (CORPUS / name).read_bytes() == content, name
