"""The hostile-input corpus (issue 14, tests/data/hostile/manifest.json) through `amili-etl validate --json` and
`amili-etl inbox`, each in its own process: status, counts, message, exit code, no traceback, no signal, peak
RSS under 1 GB, no lying amount read as a number, no personal data or /etc/passwd in the output.

Most files go through one grouped `validate` call (the contract takes several paths); the kinds that aborted or
blew up memory before issue 14 run alone, so that one abort fails its own entry only. Per-process peak memory
comes from os.wait4 on the child's pid (exact for that process, unlike RUSAGE_CHILDREN's running maximum).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA, SAMPLE
from tests.ops.support import assert_each_key_once, cli_env, ledger, write_config

CORPUS = DATA / "hostile"
FILES = CORPUS / "files"
MANIFEST: list[dict[str, Any]] = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
BY_NAME = {c["file"]: c for c in MANIFEST}
RSS_LIMIT_KB = 1024 * 1024  # 1 GiB (ru_maxrss is in KiB on Linux)
HANG_S = 120.0  # a guard against a hang (FIFO, endless loop): killed and failed, never a timing assertion
_EXIT_OF = {"ok": 0, "rejected_rows": 1, "held_back": 3, "unreadable": 3, "unrecognised": 3}
_TRACEBACK = ("Traceback (most recent call last)", "panicked at", "RUST_BACKTRACE", "Fatal Python error")


def _generator() -> Any:
    """tests/data/hostile/generate.py as a module (it is not a package)."""
    spec = importlib.util.spec_from_file_location("hostile_generate", CORPUS / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@dataclass
class Run:
    """One finished `amili-etl` process."""

    args: list[str]
    returncode: int  # negative: killed by that signal
    stdout: str
    stderr: str
    max_rss_kb: int
    hung: bool
    out: Path  # its --out folder (rejects) or its tmp folder

    def files(self) -> list[dict[str, Any]]:
        """validate --json's file entries."""
        return json.loads(self.stdout)["files"]

    def written(self) -> str:
        """Every text file the run wrote under `out`, concatenated (for forbidden strings)."""
        texts = []
        for p in sorted(self.out.rglob("*")) if self.out.exists() else []:
            if p.is_file() and not p.is_symlink() and p.suffix in (".csv", ".json", ".jsonl", ".txt", ".log"):
                texts.append(p.read_text(encoding="utf-8", errors="replace"))
        return "\n".join(texts)


def _run(args: list[str], out: Path, cwd: Path | None = None) -> Run:
    """`python -m etl ARGS` in its own process; its exact peak RSS via os.wait4; killed after HANG_S."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".stdout", "w+b") as so, open(out / ".stderr", "w+b") as se:
        proc = subprocess.Popen([sys.executable, "-m", "etl", *args], stdout=so, stderr=se, stdin=subprocess.DEVNULL,
                                env=cli_env(), cwd=cwd or out)
        hung = threading.Event()

        def kill() -> None:
            hung.set()
            proc.kill()

        timer = threading.Timer(HANG_S, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait for a reaped pid
        so.seek(0)
        se.seek(0)
        stdout, stderr = so.read().decode("utf-8", "replace"), se.read().decode("utf-8", "replace")
    (out / ".stdout").unlink()
    (out / ".stderr").unlink()
    return Run(args, proc.returncode, stdout, stderr, usage.ru_maxrss, hung.is_set(), out)


def _assert_invariants(run: Run, forbid: list[str] = ()) -> None:  # type: ignore[assignment]
    """No hang, no signal, no traceback, peak RSS under 1 GB, no forbidden string anywhere."""
    assert not run.hung, f"hung: killed after {HANG_S} s: {run.args}"
    assert run.returncode >= 0, f"killed by signal {-run.returncode}: {run.stderr[-2000:]}"
    assert not any(t in run.stderr for t in _TRACEBACK), run.stderr[-3000:]
    assert run.max_rss_kb < RSS_LIMIT_KB, f"peak RSS {run.max_rss_kb // 1024} MiB"
    everything = run.stdout + run.stderr + run.written()
    for s in forbid:
        assert s not in everything, f"{s!r} appears in the output"


def _one_of(expected: Any, actual: Any) -> bool:
    return actual in expected if isinstance(expected, list) else actual == expected


def _rejects_text(run: Run, name: str) -> str:
    """The rejects file(s) a validate run wrote for the file `name`."""
    return "\n".join(p.read_text(encoding="utf-8", errors="replace")
                     for p in run.out.rglob("*.rejects.csv") if p.name.startswith(name))


def _check_entry(case: dict[str, Any], entry: dict[str, Any], run: Run) -> None:
    """Every expectation of one manifest case against its validate --json entry."""
    name = case["file"]
    status = entry["status"]
    assert _one_of(case["status"], status), f"{name}: status {status!r}: {entry['message']}"
    assert _one_of(case["exit_code"], _EXIT_OF[status]), f"{name}: status {status!r} exits {_EXIT_OF[status]}"
    for key in ("rows", "valid", "rejected", "total_amount"):
        if case[key] is not None:
            assert entry[key] == case[key], f"{name}: {key} {entry[key]!r}, expected {case[key]!r}: {entry['message']}"
    message = entry["message"] or ""
    assert "\n" not in message and "\r" not in message, f"{name}: the message is not one line"
    if case["message_any"] and status != "ok":
        where = message + "\n" + (_rejects_text(run, name) if status == "rejected_rows" else "")
        assert any(m.lower() in where.lower() for m in case["message_any"]), (
            f"{name}: none of {case['message_any']} in {message!r}" + (" or its rejects" if status == "rejected_rows" else ""))
    if case["no_misread"]:
        assert entry["valid"] <= case["max_valid"], f"{name}: {entry['valid']} valid rows: the lying amount passed"
        if case["valid_total"] is not None and entry["valid"] and status != "held_back":
            assert entry["total_amount"] == case["valid_total"], f"{name}: total {entry['total_amount']}: misread"


# ------------------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="session")
def test_time_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The big and irregular files, built once per session (the 1.5 GB bomb takes ~5 s to compress)."""
    folder = tmp_path_factory.mktemp("hostile-big")
    regular = sorted(c["file"] for c in MANIFEST if c["generated_at_test_time"] and c["pretends"] != "any")
    # Built in a child: Linux hands a parent's peak RSS to every later child as the floor of its ru_maxrss.
    subprocess.run([sys.executable, str(CORPUS / "generate.py"), "--at-test-time", str(folder), *regular], check=True)
    return {n: folder / n for n in regular}


@pytest.fixture(scope="module")
def grouped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, dict[str, dict[str, Any]]]:
    """One `validate --json` over every committed file that is not run alone; entries by file name."""
    names = [c["file"] for c in MANIFEST if not c["single"] and not c["generated_at_test_time"]]
    out = tmp_path_factory.mktemp("grouped")
    run = _run(["validate", "--json", "--out", str(out), *[str(FILES / n) for n in names]], out)
    entries: dict[str, dict[str, Any]] = {}
    if run.returncode >= 0 and run.stdout.strip().startswith("{"):
        files = _per_file(run.files())
        # Paths may be masked (privacy), so entries are matched by position: validate keeps the order given.
        assert len(files) == len(names), [f["path"] for f in files]
        entries = dict(zip(names, files))
    return run, entries


_WORST = ("ok", "rejected_rows", "held_back", "unrecognised", "unreadable")


def _per_file(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """validate's entries with a workbook's sheets (`<file>#<sheet>`, one after the other) folded into one per file."""
    out: list[dict[str, Any]] = []
    for f in files:
        base = f["path"].split("#")[0]
        last = out[-1] if out else None
        if last is not None and "#" in f["path"] and last["path"].split("#")[0] == base:
            total = None if last["total_amount"] is None else \
                f"{sum(float(x) for x in (last['total_amount'], f['total_amount'] or '0')):.2f}"
            out[-1] = {**last, "rows": last["rows"] + f["rows"], "valid": last["valid"] + f["valid"],
                       "rejected": last["rejected"] + f["rejected"], "total_amount": total,
                       "status": max(last["status"], f["status"], key=_WORST.index),
                       "message": "; ".join(m for m in (last["message"], f["message"]) if m) or None}
        else:
            out.append(dict(f))
    return out


# ------------------------------------------------------------------------------------------------ the manifest

def test_the_manifest_covers_every_file_and_enough_kinds() -> None:
    committed = {p.name for p in FILES.iterdir()}
    listed = [c["file"] for c in MANIFEST]
    assert len(listed) == len(set(listed)) >= 60
    assert {c["file"] for c in MANIFEST if not c["generated_at_test_time"]} == committed
    for c in MANIFEST:
        statuses = c["status"] if isinstance(c["status"], list) else [c["status"]]
        assert set(statuses) <= {*_EXIT_OF, "skipped"}, c["file"]
        if c["no_misread"]:
            assert c["max_valid"] is not None, c["file"]
    assert all((FILES / n).stat().st_size <= 110_000 for n in committed)  # big ones are built at test time


def test_the_generator_is_deterministic_and_in_sync(tmp_path: Path) -> None:
    """The committed bytes are what generate.py writes, and the manifest is its manifest."""
    gen = _generator()
    for case, build in gen.CASES:
        assert build() == (FILES / case.file).read_bytes(), case.file
    assert gen.manifest() == MANIFEST


def test_no_hostile_file_is_one_of_the_malformed_corpus() -> None:
    malformed = {p.read_bytes() for p in (DATA / "malformed").iterdir() if p.suffix not in (".py", ".json")}
    assert not [p.name for p in FILES.iterdir() if p.read_bytes() in malformed]


# ------------------------------------------------------------------------------------------------ validate

def test_the_grouped_validate_run_holds_its_invariants(grouped: tuple[Run, dict[str, dict[str, Any]]]) -> None:
    run, entries = grouped
    forbid = sorted({s for c in MANIFEST if not c["single"] and not c["generated_at_test_time"]
                     for s in c["forbid_output"]})
    _assert_invariants(run, forbid)
    assert entries, run.stdout[-2000:] + run.stderr[-2000:]
    worst = max(_EXIT_OF[e["status"]] for e in entries.values())
    assert run.returncode == worst, f"exit {run.returncode}, the files' statuses say {worst}"


_GROUPED = [c for c in MANIFEST if not c["single"] and not c["generated_at_test_time"]]


@pytest.mark.parametrize("case", _GROUPED, ids=[c["file"] for c in _GROUPED])
def test_grouped_entry(case: dict[str, Any], grouped: tuple[Run, dict[str, dict[str, Any]]]) -> None:
    run, entries = grouped
    assert run.returncode >= 0, f"the grouped run was killed by signal {-run.returncode}"
    assert case["file"] in entries, "no entry: the grouped run printed no JSON"
    _check_entry(case, entries[case["file"]], run)


_ALONE = [c for c in MANIFEST if c["single"]]


@pytest.mark.parametrize("case", _ALONE, ids=[c["file"] for c in _ALONE])
def test_entry_alone(case: dict[str, Any], tmp_path: Path, test_time_files: dict[str, Path]) -> None:
    """The kinds that aborted or blew up memory: one process each, its exit code and peak RSS its own."""
    path = test_time_files[case["file"]] if case["generated_at_test_time"] else FILES / case["file"]
    run = _run(["validate", "--json", "--out", str(tmp_path / "out"), str(path)], tmp_path)
    _assert_invariants(run, case["forbid_output"])
    assert _one_of(case["exit_code"], run.returncode), f"exit {run.returncode}: {run.stderr[-1500:]}"
    [entry] = _per_file(run.files())
    _check_entry(case, entry, run)


def test_symlink_and_fifo_in_the_input_folder(tmp_path: Path) -> None:
    """A symlink to /etc/passwd and a FIFO beside a good file: no hang, no passwd content, the good file read."""
    folder = tmp_path / "in"
    made = _generator().write_at_test_time(folder, {"symlink_to_etc_passwd.csv", "fifo_in_inbox.txt"})
    shutil.copyfile(DATA / "ocr_giro" / "ocr1.txt", folder / "good_ocr.txt")
    run = _run(["validate", "--json", "--out", str(tmp_path / "out"), str(folder)], tmp_path)
    _assert_invariants(run, ["root:x:0"])
    files = {Path(f["path"]).name: f for f in run.files()}
    assert (files["good_ocr.txt"]["status"], files["good_ocr.txt"]["valid"]) == ("ok", 23)
    for name in made:
        case = BY_NAME[name]
        status = files[name]["status"] if name in files else "skipped"
        assert _one_of(case["status"], status), f"{name}: {status}"
    assert _one_of([0, 3], run.returncode)


# ------------------------------------------------------------------------------------------------ inbox

def _archive_day() -> str:
    return dt.datetime.now(dt.timezone.utc).astimezone().date().isoformat()


def test_inbox_goes_on_past_poison_files(tmp_path: Path, sandbox: Any, test_time_files: dict[str, Path]) -> None:
    """The poison files beside the good Norwegian sample files in one inbox: the good ones archived and delivered,
    every poison file in failed/ with its reason (at the latest on the second night), exit 3, no traceback, a
    valid workbook although a bank text holds U+FFFF, and no national id from a file name in logs or terminal."""
    import openpyxl

    logs = tmp_path / "logs"
    config = write_config(tmp_path, sandbox.base_url, log=f'dir = "{logs}"\nlevel = "debug"')
    box = tmp_path / "inbox"
    box.mkdir()
    good = sorted(p.name for p in (SAMPLE / "no").iterdir())
    for name in good:
        shutil.copy2(SAMPLE / "no" / name, box / name)
    poison = [c["file"] for c in MANIFEST if c["inbox_poison"]]
    for name in poison:
        shutil.copy2(test_time_files[name] if BY_NAME[name]["generated_at_test_time"] else FILES / name, box / name)
    extra = ["bank_sb1_forbidden_xml_chars.csv", BY_NAME["OCR_fnr15076537108.txt"]["file"]]
    for name in extra:
        shutil.copy2(FILES / name, box / name)

    nights = []
    for _ in range(2):  # a poison file may need the next night to be moved (the issue allows that)
        night = _run(["inbox", "--config", str(config), str(box)], tmp_path / f"night{len(nights)}", cwd=tmp_path)
        nights.append(night)
        _assert_invariants(night)
        if all((box / "failed" / n).is_file() for n in poison):
            break
    for night in nights:
        out = night.stdout + night.stderr
        assert "15076537108" not in out, "a national id from a file name reached the terminal"
    assert nights[-1].returncode == 3, nights[-1].stdout[-2000:] + nights[-1].stderr[-2000:]

    archive = box / "archive" / _archive_day()
    archived = {p.name for p in archive.iterdir()} if archive.exists() else set()
    assert set(good) | {"bank_sb1_forbidden_xml_chars.csv"} <= archived, sorted(archived)
    for name in poison:
        assert (box / "failed" / name).is_file(), f"{name} not in failed/"
        why = (box / "failed" / f"{name}.error.txt").read_text(encoding="utf-8")
        assert why.strip() and "Traceback" not in why, name
    assert not [p.name for p in box.iterdir() if p.is_file()], "files left in the inbox"

    items = ledger(sandbox.base_url)
    assert items, "nothing delivered"
    assert_each_key_once(items)
    for log in logs.rglob("*"):
        if log.is_file():
            assert "15076537108" not in log.read_text(encoding="utf-8", errors="replace"), log.name
    # Reports survive any text: every workbook written is valid XML that openpyxl opens.
    books = list((tmp_path / "reports").rglob("*.xlsx"))
    assert books
    for book in books:
        openpyxl.load_workbook(book, read_only=True).close()
    assert not list((tmp_path / "reports").rglob("*.tmp.xlsx"))
    assert not re.search(r"\.splice$", "\n".join(str(p) for p in (tmp_path / "reports").rglob("*")), re.M)
