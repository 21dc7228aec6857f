"""read_source and detection: by content not by name, never raising for bad input; iter_input_files."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.errors import InputError
from etl.sources import detect_format, iter_input_files, read_source
from etl.sources.base import PAYMENT_SCHEMA

from .conftest import DATA

CASES = [
    (DATA / "ocr_giro" / "ocr1.txt", "ocr_giro", None),
    (DATA / "bgmax" / "BgMaxfil4.txt", "bgmax", None),
    (DATA / "bgmax" / "minimal.txt", "bgmax", None),
    (DATA / "bank_csv" / "sb1.csv", "bank_csv", "sparebank1"),
]


@pytest.mark.parametrize(("src", "fmt", "layout"), CASES)
def test_detection_is_by_content_not_name(src, fmt, layout, mappings, copy_as):
    for wrong in ("statement.xlsx", "noname", "payments.csv"):
        found = detect_format(copy_as(src, wrong).read_bytes(), mappings)
        assert found is not None and found[0] == fmt
        assert (found[1].name if found[1] else None) == layout


def test_empty_file(read, tmp_path):
    for name, content in [("empty.txt", b""), ("blank.csv", b"\n  \r\n")]:
        f = tmp_path / name
        f.write_bytes(content)
        r = read(f)
        assert (r.status, r.format, r.kind, r.message) == ("unreadable", None, "unknown", f"{f}: the file is empty")
        assert r.rows.schema == r.rows.schema and list(r.rows.columns) == list(PAYMENT_SCHEMA)
        assert len(r.sha256) == 64


def test_binary_garbage_is_unrecognised(read, tmp_path):
    f = tmp_path / "ocr.txt"
    f.write_bytes(bytes(range(256)) * 40)
    r = read(f)
    assert (r.status, r.format, r.kind) == ("unrecognised", None, "unknown")
    assert r.message.startswith(f"{f}: not a recognised format: a binary file")


def test_text_with_no_known_header_is_unrecognised(read, tmp_path):
    f = tmp_path / "notes.csv"
    f.write_text("a;b;c\n1;2;3\n", encoding="utf-8")
    r = read(f)
    assert r.status == "unrecognised"
    shipped = len(list((Path(__file__).resolve().parents[2] / "mappings").glob("*.toml")))
    assert f"no known header in the first 20 lines ({shipped} layouts known, see docs/mappings.md)" in r.message
    assert "sparebank1" not in r.message  # never a list of every layout


def test_corrupt_zip_and_foreign_workbook(read, tmp_path):
    f = tmp_path / "broken.xlsx"
    f.write_bytes(b"PK\x03\x04 not really a zip")
    assert read(f).status == "unrecognised"
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["Something", "else"])
    g = tmp_path / "other.xlsx"
    wb.save(g)
    r = read(g)
    assert r.status == "unrecognised" and "no known header row in the first 20 rows of any sheet" in r.message


def test_missing_file_is_unreadable_not_an_exception(mappings, tmp_path):
    r = read_source(tmp_path / "gone.txt", mappings)
    assert r.status == "unreadable" and "cannot read the file" in r.message


def test_camt_and_mt940_are_recognised_by_content(read, tmp_path):
    camt = tmp_path / "a.xml"
    camt.write_text('<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"></Document>')
    r = read(camt)
    assert (r.status, r.format, r.kind) == ("unreadable", "camt054", "payments")
    assert r.message == f"{camt}: no statement, notification or report (Stmt/Ntfctn/Rpt) found in this camt054 file"
    mt = tmp_path / "b.sta"
    mt.write_text(":20:STARTUMS\n:25:12345678/0001\n:28C:1\n:60F:C250101EUR0,00\n")
    r = read(mt)
    assert (r.format, r.status) == ("mt940", "held_back")  # no closing balance: cut off?
    other = tmp_path / "c.xml"
    other.write_text('<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>')
    r = read(other)
    assert r.status == "unrecognised" and "an XML document that is not ISO 20022 camt.053 / camt.054" in r.message


def test_iter_input_files(tmp_path):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "rejects").mkdir()
    (tmp_path / "in" / ".git").mkdir()
    for name in [
        "b.txt",
        "a.csv",
        "sub/c.xlsx",
        ".hidden.csv",
        "conf.toml",
        "x.json",
        "README.md",
        "gen.py",
        "rejects/a.csv.rejects.csv",
        ".git/config",
        "~$a.xlsx",
    ]:
        (tmp_path / "in" / name).write_text("x")
    explicit = tmp_path / "one.md"
    explicit.write_text("x")
    got = iter_input_files([tmp_path / "in", explicit, tmp_path / "in" / "a.csv"])
    assert [p.relative_to(tmp_path).as_posix() for p in got] == ["in/a.csv", "in/b.txt", "in/sub/c.xlsx", "one.md"]
    with pytest.raises(InputError, match="no such file or folder"):
        iter_input_files([tmp_path / "nope"])
