"""Peak memory of the whole process tree of `amili-etl validate` on the worst hostile files known (issue 14).

Usage:
    python bench/hostile_memory.py [--keep DIR]

Builds each case (10 MB or less on disk) in a temporary folder, runs `python -m etl validate --json FILE` in its
own process, samples the resident memory of that process and all its descendants (the reading child
included) every 10 ms from /proc, and prints the peak, the exit code and the file's status. Target: every peak
under 1 GB, no exit but 3 (unreadable / unrecognised) or 0/1, no traceback.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sources.hostile_files import far_cell, workbook, zip_bomb  # noqa: E402


def _tree_rss_mb(pid: int) -> float:
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
            for task in Path(f"/proc/{p}").joinpath("task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


def _measure(path: Path) -> tuple[float, int, str, float]:
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "etl", "validate", "--json", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_mb(proc.pid))
        time.sleep(0.01)
    out, err = proc.communicate()
    try:
        f = json.loads(out)["files"][0]
        what = f"{f['status']}: {(f['message'] or '')[:110]}"
    except (ValueError, KeyError, IndexError):
        what = "no JSON: " + err.decode("utf-8", "replace").strip().splitlines()[-1][:110] if err else "no output"
    return peak, proc.returncode, what, time.monotonic() - t0


def build(folder: Path) -> list[Path]:
    """The cases; each at most 10 MB."""
    cases = [far_cell(folder / "far_cell_XFD1048576.xlsx")]
    cases.append(far_cell(folder / "used_range_1000_cols_x_1M_rows.xlsx", "ALL1048576"))
    # Just within the default bounds (5,000,000 cells): what a far cell can still make the Excel reader allocate.
    cases.append(far_cell(folder / "at_the_cell_bound_J500000.xlsx", "J500000"))
    cases.append(far_cell(folder / "at_the_column_bound_ALL5000.xlsx", "ALL5000"))
    cases.append(zip_bomb(folder / "zip_bomb_1500MB.xlsx", 1500))
    # A sheet XML member of 9 MB compressed that inflates to ~1 GB of cells: ratio and size both refuse it.
    cells = "".join(f'<c r="{c}1"><v>1</v></c>' for c in "ABCDEFGHIJ")
    dense = workbook(folder / "dense_sheet_bomb.xlsx", "")
    with zipfile.ZipFile(dense, "a", zipfile.ZIP_DEFLATED) as z, z.open("xl/worksheets/sheet2.xml", "w",
                                                                          force_zip64=True) as m:
        m.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
        row = ("<row>" + cells + "</row>").encode()
        for _ in range(900_000 // 10):
            m.write(row * 10)
        m.write(b"</sheetData></worksheet>")
    cases.append(dense)
    # Shared strings just under the size bound: millions of short strings the Excel reader loads whole.
    strings = workbook(folder / "shared_strings_200MB.xlsx", '<row r="1"><c r="A1" t="s"><v>0</v></c></row>')
    with zipfile.ZipFile(strings, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as z, z.open("xl/sharedStrings.xml", "w",
                                                                                             force_zip64=True) as m:
        m.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
        for start in range(0, 9_000_000, 100_000):
            m.write("".join(f"<si><t>{k // 4}</t></si>" for k in range(start, start + 100_000)).encode())
        m.write(b"</sst>")
    cases.append(strings)
    # 10 MB CSV on one line (no newline at all).
    one = folder / "one_line_10MB.csv"
    one.write_bytes(b"Dato;Beskrivelse;Inn;Ut;" + b"x;" * (5 * 1024 * 1024 - 20))
    cases.append(one)
    # 10 MB of a known header then a single cell of 10 MB in quotes.
    quoted = folder / "quoted_cell_10MB.csv"
    quoted.write_bytes(b"Dato;Beskrivelse;Rentedato;Inn;Ut;Til konto;Fra konto;\n01.01.2026;\"" + b"a" * (10 * 1024 * 1024 - 100) + b"\";;1,00;;1;2;\n")
    cases.append(quoted)
    # Deeply nested camt-looking XML (10 MB of open tags) and an entity expansion attempt.
    deep = folder / "deep_nested_camt.xml"
    deep.write_bytes(b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">'
                     + b"<a>" * (3 * 1024 * 1024) + b"</Document>")
    cases.append(deep)
    lol = folder / "billion_laughs_camt.xml"
    ents = "".join(f'<!ENTITY l{i} "{"&l%d;" % (i - 1) * 10 if i else "lol"}">' for i in range(10))
    lol.write_text(f'<?xml version="1.0"?><!DOCTYPE d [{ents}]><Document xmlns="urn:iso:std:iso:20022:tech:xsd:'
                   f'camt.054.001.02"><x>&l9;</x></Document>')
    cases.append(lol)
    # A 10 MB OCR giro file made of one start record and garbage, and a fake .xls (OLE2 magic + noise).
    ocr = folder / "ocr_garbage_10MB.txt"
    ocr.write_bytes(b"NY000010" + b"0" * 72 + b"\n" + b"9" * (10 * 1024 * 1024))
    cases.append(ocr)
    xls = folder / "fake_ole2.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00\x02\x0e\x00" + (1 << 30).to_bytes(4, "little") * 3 + b"\0" * 4096)
    cases.append(xls)
    return cases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="build the files here and keep them")
    args = ap.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="amili-hostile-"))
    folder.mkdir(parents=True, exist_ok=True)
    worst = 0.0
    for path in build(folder):
        size = path.stat().st_size / 1e6
        assert size <= 10.5, (path, size)
        peak, code, what, took = _measure(path)
        worst = max(worst, peak)
        print(f"{path.name:40s} {size:6.2f} MB  peak {peak:7.0f} MB  exit {code}  {took:5.1f} s  {what}", flush=True)
    print(f"worst peak (process tree): {worst:.0f} MB (target < 1024 MB: {'met' if worst < 1024 else 'NOT met'})")


if __name__ == "__main__":
    main()
