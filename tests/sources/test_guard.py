"""Workbooks refused before any spreadsheet reader sees them (issue 14): far cells, zip bombs, lying sizes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest

from etl.limits import ReadLimits
from etl.mapping import load_mappings
from etl.sources import read_source
from etl.sources.guard import GuardError, check_workbook, sheet_extent
from etl.sources.isolate import read_file
from tests.sources.hostile_files import far_cell, workbook, zip_bomb

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = load_mappings([ROOT / "mappings"])


def test_the_far_cell_workbook_is_refused_in_one_line(tmp_path: Path) -> None:
    path = far_cell(tmp_path / "far.xlsx")
    assert path.stat().st_size < 2000
    result = read_source(path, MAPPINGS)
    assert result.status == "unreadable"
    assert "XFD" in result.message and "max_columns" in result.message and str(path) in result.message
    assert "\n" not in result.message


def test_a_used_range_beyond_the_cell_bound_is_refused(tmp_path: Path) -> None:
    path = far_cell(tmp_path / "wide.xlsx", "Z400000")  # 26 columns x 400,000 rows = 10.4M cells
    with pytest.raises(GuardError, match="max_cells"):
        check_workbook(path.read_bytes())
    check_workbook(path.read_bytes(), ReadLimits(max_cells=20_000_000))  # the bound is configurable


def test_cells_without_references_count_by_position(tmp_path: Path) -> None:
    cells = "<c><v>1</v></c>" * 1200  # no r="...": each takes the next column
    path = workbook(tmp_path / "positional.xlsx", f"<row>{cells}</row>")
    with pytest.raises(GuardError, match="1200"):
        check_workbook(path.read_bytes())


def test_a_lying_dimension_does_not_decide(tmp_path: Path) -> None:
    small = workbook(tmp_path / "dim.xlsx", '<row r="1"><c r="A1"><v>1</v></c></row>', dimension="A1:XFD1048576")
    check_workbook(small.read_bytes())  # the cells are what the reader sizes its range by
    liar = workbook(tmp_path / "liar.xlsx", '<row r="1"><c r="A1"><v>1</v></c><c r="ZZZ9"><v>1</v></c></row>',
                    dimension="A1:A1")
    with pytest.raises(GuardError, match="beyond Excel's last column XFD"):
        check_workbook(liar.read_bytes())


def test_a_zip_bomb_is_refused_by_ratio_and_by_size(tmp_path: Path) -> None:
    path = zip_bomb(tmp_path / "bomb.xlsx", 8)
    assert path.stat().st_size < 100_000
    with pytest.raises(GuardError, match="max_ratio"):
        check_workbook(path.read_bytes())
    with pytest.raises(GuardError, match="max_uncompressed_mb"):
        check_workbook(path.read_bytes(), ReadLimits(max_uncompressed_mb=4, max_ratio=10_000))
    result = read_source(path, MAPPINGS, ReadLimits(max_ratio=10_000, max_uncompressed_mb=4))
    assert result.status == "unreadable" and "inflates to 8.0 MB" in result.message


def test_a_member_that_lies_about_its_size_is_refused(tmp_path: Path) -> None:
    path = far_cell(tmp_path / "lie.xlsx", "B2")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
    # The central directory's uncompressed size of the sheet, made smaller than what it inflates to.
    at = data.find(b"xl/worksheets/sheet1.xml", data.find(b"PK\x01\x02"))
    header = at - 46
    assert data[header:header + 4] == b"PK\x01\x02"
    data[header + 24:header + 28] = (info.file_size // 2).to_bytes(4, "little")
    with pytest.raises(GuardError, match="damaged"):
        check_workbook(bytes(data))


def test_a_normal_workbook_passes_and_its_extent_is_exact(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in range(1, 301):
        ws.append([f"r{r}c{c}" for c in range(1, 31)])  # 300 rows x 30 columns (AD)
    path = tmp_path / "normal.xlsx"
    wb.save(path)
    check_workbook(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        ext = sheet_extent(z, z.getinfo("xl/worksheets/sheet1.xml"))
    assert (ext.rows, ext.cols, ext.cells, ext.refs) == (300, 30, 9000, 9000)


def test_the_reader_crashing_natively_fails_only_that_file(tmp_path: Path) -> None:
    """With the guard's bounds opened up, the far-cell workbook really aborts the Excel reader (SIGABRT): the
    child dies, the file is unreadable with the reason, and the next file is read by a fresh child."""
    path = far_cell(tmp_path / "far.xlsx")
    open_bounds = ReadLimits(max_columns=16384, max_cells=10**12)
    result = read_file(path, MAPPINGS, open_bounds)
    assert result.status == "unreadable"
    assert "the Excel reader crashed (SIGABRT, signal 6) reading this file" in result.message
    good = read_file(ROOT / "sample_data" / "no" / sorted(p.name for p in (ROOT / "sample_data" / "no").iterdir())[0],
                     MAPPINGS, open_bounds)
    assert good.status in ("ok", "held_back", "unrecognised")  # read: whatever the file is, the child answered


def test_a_reader_over_the_memory_limit_is_stopped(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in range(1, 2001):
        ws.append([f"text {r} {c}" for c in range(1, 21)])
    path = tmp_path / "big.xlsx"
    wb.save(path)
    result = read_file(path, MAPPINGS, ReadLimits(memory_limit_mb=1))  # below what any Python process takes
    assert result.status == "unreadable"
    assert "was stopped reading this file (it used more than the 1 MB" in result.message


def test_a_file_read_in_the_child_is_the_same_as_read_here(tmp_path: Path) -> None:
    csv = next(p for p in sorted((ROOT / "sample_data" / "no").iterdir()) if p.suffix == ".csv")
    here = read_source(csv, MAPPINGS)
    there = read_file(csv, MAPPINGS, ReadLimits(isolate="always"))
    assert there.status == here.status and there.sha256 == here.sha256 and there.format == here.format
    assert there.rows.equals(here.rows) and there.raw.equals(here.raw) and there.problems.equals(here.problems)
