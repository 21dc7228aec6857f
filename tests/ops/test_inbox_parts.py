"""The inbox's parts on real files and a real state file: names that clash, temporary names, the order of work."""

from __future__ import annotations

import shutil
from pathlib import Path

from etl.bundled import bundled_dir
from etl.inbox import plan_inbox, scan, unique_destination
from etl.mapping import load_mappings
from etl.store import open_store
from tests.conftest import SAMPLE


def test_a_taken_name_gets_the_first_free_suffix(tmp_path: Path) -> None:
    assert unique_destination(tmp_path, "ocr.txt") == tmp_path / "ocr.txt"
    (tmp_path / "ocr.txt").write_text("1", encoding="utf-8")
    assert unique_destination(tmp_path, "ocr.txt") == tmp_path / "ocr.1.txt"
    (tmp_path / "ocr.1.txt.error.txt").write_text("why", encoding="utf-8")  # a failed file's reason holds the name too
    assert unique_destination(tmp_path, "ocr.txt") == tmp_path / "ocr.2.txt"


def test_temporary_names_are_never_taken(tmp_path: Path) -> None:
    for name in ("a.part", "b.TMP", "c.csv.partial", ".hidden.csv", "~$book.xlsx", "d.csv~", "ok.csv"):
        (tmp_path / name).write_text("x,y\n", encoding="utf-8")
    (tmp_path / "archive").mkdir()
    ready, busy = scan(tmp_path, 0)
    assert [p.name for p in ready] == ["ok.csv"]
    assert sorted(p.name for p, _ in busy) == sorted([".hidden.csv", "a.part", "b.TMP", "c.csv.partial", "d.csv~", "~$book.xlsx"])


def test_invoice_exports_come_first_and_copies_are_read_once(tmp_path: Path) -> None:
    for f in [*(SAMPLE / "no").iterdir(), *(SAMPLE / "se").iterdir()]:
        shutil.copy2(f, tmp_path / f.name)
    shutil.copy2(SAMPLE / "no" / "ocr_nordlys_2026-11-20.txt", tmp_path / "0-copy.txt")
    ready, _ = scan(tmp_path, 0)
    with open_store(tmp_path / "state.duckdb") as store:
        plan = plan_inbox(store, ready, load_mappings([bundled_dir("mappings")]), force=False)
    names = [p.name for p in plan.new]
    assert names[:2] == ["invoices_nordlys_2026-11-20.xlsx", "invoices_solkraft_2026-11-20.csv"]
    assert len(names) == 6 and plan.imported == []
    assert [(a.name, b.name) for a, b in plan.copies] == [("ocr_nordlys_2026-11-20.txt", "0-copy.txt")]
