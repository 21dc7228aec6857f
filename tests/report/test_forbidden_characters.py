"""Reports survive any text: characters XML 1.0 forbids (C0 controls but TAB/LF/CR, U+FFFE, U+FFFF, lone
surrogates) never break a workbook; they become U+FFFD. CSV and JSON keep the text and stay valid UTF-8.
Checked by opening every workbook with openpyxl and parsing every XML part of it with lxml."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from lxml import etree

from etl.reconcile.runner import DISCREPANCY_COLUMNS
from etl.report.safe import utf8_text, xml_safe, xml_text
from etl.report.tables import write_csv, write_summary
from etl.report.workbook import Sheet, write_workbook
from tests.conftest import SAMPLE, write_sample_config

# Every kind of character XML 1.0 forbids that a polars string can hold (surrogates cannot: tested apart).
FORBIDDEN = "".join(chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]) + "\ufffe\uffff"
BAD = "Betaling\uffff faktura\ufffe 100014\x00\x01\x1f end"


def assert_valid_workbook(path: Path) -> openpyxl.Workbook:
    """Every XML part parses with lxml (no recovery) and openpyxl opens the workbook."""
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.endswith((".xml", ".rels")):
                etree.fromstring(z.read(name))  # raises on invalid XML
    return openpyxl.load_workbook(path)


def _cells(book: openpyxl.Workbook) -> list[str]:
    return [str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]


def test_xml_text_replaces_exactly_what_xml_forbids():
    allowed = "\t\n\r a\u00e6\u00f8\u00e5\ud7ff\ue000\ufffd\U0001f600\u2028"
    assert xml_text(allowed) == allowed
    assert xml_text(FORBIDDEN + "\ud800\udfff") == "\ufffd" * (len(FORBIDDEN) + 2)
    assert xml_safe({"a\x00": ["x\uffff", ("y\ud83d",)], "n": 1}) == {"a\ufffd": ["x\ufffd", ("y\ufffd",)], "n": 1}
    assert utf8_text("keep\x00\uffff lone\udce6") == "keep\x00\uffff lone\ufffd"


def _frames() -> tuple[pl.DataFrame, list[Sheet]]:
    rows = [
        ("unmatched_payment", "warning", "bank\uffff.csv", 3, "=1+1\x00", None, 226_341, "NOK", None, None, None, BAD,
         226_341, "K1"),
        ("overpayment", "warning", "ocr.txt", 5, "5432591000112", "100011", 511_081, "NO\ufffeK", 496_081, None, None,
         "matched\x0b", 15_000, "K2"),
    ]
    found = pl.DataFrame(rows, schema=list(DISCREPANCY_COLUMNS), orient="row")
    matched = pl.DataFrame({"source_file": ["bank.csv", "bg.txt"], "payer_name": [FORBIDDEN, "Ann"],
                            "message": [BAD, None], "amount_minor": [1000, 2000], "currency": ["NOK\uffff", "SEK"]})
    sheets = [Sheet("Matched", matched, totals=True, notes=("note \x07 with a bell\ud800",)),
              Sheet("Run info", pl.DataFrame({"key": ["input\x1b"], "value": ["/in/Innbetaling_\ufffe.csv"]}))]
    return found, sheets


def test_a_workbook_with_every_forbidden_character_is_valid(tmp_path):
    found, sheets = _frames()
    summary = {"run_id": "r\x00", "status": "discrepancies", "counts": {"unmatched_payment": 1, "overpayment": 1},
               "files": [{"path": "Innbetaling_\udce6.csv"}],  # a file name that is not UTF-8 (surrogateescape)
               "totals": {"note\uffff": "text \x02 \ud800", "incomplete_because": {"runs": "x\ufffe"}}}
    path = tmp_path / "discrepancies.xlsx"
    write_workbook(path, summary, found, sheets)
    book = assert_valid_workbook(path)
    cells = _cells(book)
    assert "Betaling\ufffd faktura\ufffd 100014\ufffd\ufffd\ufffd end" in cells
    assert "\ufffd" * len(FORBIDDEN) in cells
    assert "'=1+1\ufffd" in cells  # formula escaping as before, then the character replaced
    assert not any(ch in cell for cell in cells for ch in FORBIDDEN)
    assert "Total NOK\ufffd" in cells and "Difference NO\ufffdK" in cells  # labels from data are made safe too
    assert "note \ufffd with a bell\ufffd" in cells


def test_csv_and_json_keep_the_text_and_stay_utf8(tmp_path):
    found, _ = _frames()
    write_csv(found, tmp_path / "discrepancies.csv")
    data = (tmp_path / "discrepancies.csv").read_bytes()
    text = data.decode("utf-8")  # valid UTF-8
    assert BAD in text  # the bank's text as it was (a CSV has no forbidden characters)
    write_summary({"files": [{"path": "Innbetaling_\udce6.csv"}], "note": BAD}, tmp_path / "summary.json")
    back = json.loads((tmp_path / "summary.json").read_bytes().decode("utf-8"))
    assert back == {"files": [{"path": "Innbetaling_\ufffd.csv"}], "note": BAD}


@pytest.mark.parametrize("ch", ["\uffff", "\ufffe", "\x00", "\x01", "\x0b", "\x1f"])
def test_the_spliced_rows_of_a_large_sheet_survive(tmp_path, ch):
    """The rows of a table sheet are rendered as raw XML and spliced in (sheetxml.py): that path too."""
    frame = pl.DataFrame({"message": [f"row {i} {ch}" for i in range(2_000)], "amount_minor": list(range(2_000))})
    path = tmp_path / "big.xlsx"
    write_workbook(path, {"run_id": "r", "status": "clean", "counts": {}}, pl.DataFrame(
        schema={c: pl.String for c in DISCREPANCY_COLUMNS}).cast({"source_line": pl.Int64, "amount_minor": pl.Int64,
                                                                   "expected_minor": pl.Int64,
                                                                   "difference_minor": pl.Int64}),
        [Sheet("Unmatched", frame, totals=True)])
    book = assert_valid_workbook(path)
    assert book["Unmatched"]["A1999"].value == "row 1997 \ufffd"




def test_a_real_run_with_forbidden_characters_in_bank_texts(tmp_path, sandbox):
    """Through the pipeline: a SpareBank 1 export whose texts hold U+FFFF, U+FFFE and controls; the run's
    discrepancies.xlsx is valid and shows U+FFFD where they were; the CSV keeps the text."""
    bank = tmp_path / "bank"
    bank.mkdir()
    src = (SAMPLE / "no" / "sparebank1_2026-11-20.csv").read_text(encoding="utf-8")
    lines = src.splitlines(keepends=True)
    lines[1] = lines[1].replace("CIRCLE K STORGATA", "CIRCLE K\uffff STORGATA\ufffe\x01")
    lines.append('"20.11.2026";"Ukjent innbetaling \uffff\x1b";;"123,45";;"15062995960";"73584051024";\n')
    (bank / "sparebank1_hostile.csv").write_text("".join(lines), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMILI_")}
    env.update(AMILI_NO_CLIENT_ID="sandbox", AMILI_NO_CLIENT_SECRET="sandbox", AMILI_SE_ADA_API_CODE="sandbox")
    proc = subprocess.run([sys.executable, "-m", "etl", "run", "--config", str(write_sample_config(tmp_path, sandbox.base_url)),
                           "--dry-run", "--bank", str(bank)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    (run_dir,) = [p for p in (tmp_path / "reports").iterdir() if p.is_dir()]
    cells = _cells(assert_valid_workbook(run_dir / "discrepancies.xlsx"))
    assert any("Ukjent innbetaling \ufffd\ufffd" in c for c in cells)
    with (run_dir / "discrepancies.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows  # the CSV is valid UTF-8 and readable (its text kept as the bank wrote it)
