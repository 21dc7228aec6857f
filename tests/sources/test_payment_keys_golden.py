"""Stable payment keys pinned: the exactly-once identity of payments already delivered must never change.

tests/sources/golden/payment_keys.json holds, for every test data file that yields payment rows, each row's
(source_line, payment_key) as the readers produced them when the file was written. OCR giro files also pin
every canonical column (the OCR reader is the one tuned hardest for speed), and a larger generated OCR giro
transmission (the benchmark's generator: every transaction type 10-21, credit notes, item 3 texts,
AvtaleGiro) pins a digest of its keys, also when the same file is written with CRLF and blank lines.

A deliberate key change is a contract change (DESIGN.md): regenerate with
`python -m tests.sources.test_payment_keys_golden` only then.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import polars as pl
import pytest

from etl.mapping import load_mappings
from etl.sources import read_source

from .conftest import DATA, REPO

GOLDEN = Path(__file__).parent / "golden" / "payment_keys.json"
_GENERATED_TRANSACTIONS = 2_000
# Columns of the full OCR giro rows pinned (not the file name or its sha256: they depend on where the file lies).
_OCR_COLUMNS = [
    "source_line", "account", "booking_date", "amount_minor", "currency", "reference", "message", "payer_name",
    "payer_account", "bank_ref", "payment_key",
]


def _data_files() -> list[Path]:
    return sorted(p for p in DATA.rglob("*") if p.is_file() and "amili-docs" not in p.parts and "hostile" not in p.parts)


def _ocr_generator():
    """bench/readers_ocr.py's `_ocr_lines` (bench/ is not a package: loaded from its path)."""
    bench = REPO / "bench"
    sys.path.insert(0, str(bench))  # it imports its sibling readers_measure
    try:
        spec = importlib.util.spec_from_file_location("bench_readers_ocr", bench / "readers_ocr.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(bench))
    return module._ocr_lines


def _rows_of(path: Path, mappings) -> pl.DataFrame:
    return read_source(path, mappings).rows


def _keys_digest(rows: pl.DataFrame) -> str:
    text = "\n".join(f"{line} {key}" for line, key in rows.select("source_line", "payment_key").iter_rows())
    return hashlib.sha256(text.encode()).hexdigest()


def _generated(tmp: Path, variant: str) -> Path:
    lines = _ocr_generator()(_GENERATED_TRANSACTIONS)
    path = tmp / f"generated_{variant}.txt"
    if variant == "lf":
        path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    else:  # CRLF, a blank line every 97 records, no final newline: the same payments, other line numbers
        out = []
        for i, line in enumerate(lines):
            out.append(line)
            if i % 97 == 5:
                out.append("")
        path.write_bytes("\r\n".join(out).encode("latin-1"))
    return path


def _snapshot(tmp: Path) -> dict:
    """What the golden file holds, computed by the readers as they are now."""
    mappings = load_mappings([REPO / "mappings"])
    files: dict[str, dict] = {}
    for path in _data_files():
        result = read_source(path, mappings)
        if result.kind != "payments" or result.rows.height == 0:
            continue
        entry: dict = {
            "format": result.format,
            "keys": [list(r) for r in result.rows.select("source_line", "payment_key").iter_rows()],
        }
        if result.format == "ocr_giro":
            rows = result.rows.select(_OCR_COLUMNS).with_columns(pl.col("booking_date").cast(pl.String))
            entry["rows"] = rows.rows()
        files[path.relative_to(DATA).as_posix()] = entry
    generated = {}
    for variant in ("lf", "crlf_blank_lines"):
        rows = _rows_of(_generated(tmp, variant), mappings)
        generated[variant] = {"rows": rows.height, "keys_sha256": hashlib.sha256(
            "\n".join(rows["payment_key"]).encode()).hexdigest()}
    return {"files": files, "generated_ocr_giro": generated}


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> dict:
    return _snapshot(tmp_path_factory.mktemp("golden"))


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_every_file_with_payments_is_pinned(snapshot, golden):
    assert sorted(snapshot["files"]) == sorted(golden["files"])
    assert {e["format"] for e in golden["files"].values()} >= {"ocr_giro", "bgmax", "camt053", "camt054", "mt940",
                                                                 "bank_csv", "bank_xlsx"}


def test_payment_keys_are_unchanged(snapshot, golden):
    for name, entry in golden["files"].items():
        assert snapshot["files"][name]["keys"] == entry["keys"], name


def test_ocr_giro_rows_are_unchanged(snapshot, golden):
    pinned = {n: e for n, e in golden["files"].items() if e["format"] == "ocr_giro"}
    assert len(pinned) >= 4
    for name, entry in pinned.items():
        got = json.loads(json.dumps(snapshot["files"][name]["rows"]))  # tuples -> lists, as the JSON holds them
        assert got == entry["rows"], name


def test_generated_ocr_giro_keys_are_unchanged(snapshot, golden):
    assert snapshot["generated_ocr_giro"] == golden["generated_ocr_giro"]
    # Line endings and blank lines change the line numbers, never the keys.
    assert len({g["keys_sha256"] for g in golden["generated_ocr_giro"].values()}) == 1


if __name__ == "__main__":  # regenerate (only for a deliberate, documented key change)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(_snapshot(Path(tmp)), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}")
