"""Bank CSV / Excel readers: whole-process timings of `amili-etl validate` against its peers (issue 4's numbers).

Usage:
    python bench/readers_tables.py [--rows 1000000] [--xlsx-rows 100000] [--repeats 3] [--pandas-repeats 3]

Cases (each a fresh process, median of --repeats; wall time, CPU time and peak RSS of the child):
- `amili-etl validate --json` of a 1,000,000-row SpareBank 1 CSV (UTF-8, `;`, quoted decimal-comma amounts,
  70% incoming payments with a KID in the text), against a bare `polars.read_csv` of the same file (every
  column as text) and against bench/baseline_pandas.py (the same steps with pandas + pandera);
- the same CSV transcoded to cp1252 (the Python decode path);
- `amili-etl validate` of a 100,000-row .xlsx bank export (SpareBank 1 layout, real numbers and dates).
Targets: CSV under 2.5 s and at most 3x the bare read, at least 4x faster than pandas; .xlsx under 2 s;
peak memory under 1.5 GB. The machine is shared and noisy: the lead reruns this on a quiet machine.
Files are generated once into /tmp (fixed seed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from readers_ocr import _measure  # noqa: E402  (one way to time a child process for every reader bench)

HEADER = "Dato;Beskrivelse;Rentedato;Inn;Ut;Til konto;Fra konto;"
OURS = "15062995960"


def _kid(n: int) -> str:
    body = str(100000 + n)
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def _rows(n: int, seed: int = 1) -> list[tuple[dt.date, str, int, str, str]]:
    """(date, text, signed øre, to account, from account) for n statement lines."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        day = dt.date(2026, rnd.randint(1, 12), rnd.randint(1, 28))
        if rnd.random() < 0.7:
            out.append((day, f"Innbetaling KID {_kid(i)} Ærlig Øst", rnd.randint(100, 9_999_999), OURS,
                        str(rnd.randint(10**10, 10**11 - 1))))
        else:
            out.append((day, "KIWI MAJORSTUEN", -rnd.randint(100, 999_999), "98765432109", OURS))
    return out


def _money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100},{abs(minor) % 100:02d}"


def ensure_csv(n: int) -> Path:
    """The SpareBank 1 CSV with n rows (UTF-8), generated once."""
    path = Path(f"/tmp/amili-bench-sb1-{n}.csv")
    if not path.exists():
        lines = [HEADER]
        for day, text, minor, to, frm in _rows(n):
            inn, ut = (_money(minor), "") if minor > 0 else ("", _money(minor))
            lines.append(f'"{day:%d.%m.%Y}";"{text}";;"{inn}";"{ut}";"{to}";"{frm}";')
        tmp = path.with_suffix(".part")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(path)
    return path


def ensure_cp1252(src: Path) -> Path:
    """The same file in cp1252."""
    path = src.with_name(src.stem + "-cp1252.csv")
    if not path.exists():
        path.write_bytes(src.read_text(encoding="utf-8").encode("cp1252"))
    return path


def ensure_xlsx(n: int) -> Path:
    """A SpareBank 1 .xlsx export with n rows: an info row, real dates and numbers (xlsxwriter, streaming)."""
    import xlsxwriter

    path = Path(f"/tmp/amili-bench-sb1-{n}.xlsx")
    if not path.exists():
        tmp = path.with_suffix(".part.xlsx")
        wb = xlsxwriter.Workbook(str(tmp), {"constant_memory": True})
        ws = wb.add_worksheet("Transaksjoner")
        date = wb.add_format({"num_format": "dd.mm.yyyy"})
        ws.write_row(0, 0, ["Kontoutskrift 1506.29.95960"])
        ws.write_row(2, 0, HEADER.rstrip(";").split(";"))
        for r, (day, text, minor, to, frm) in enumerate(_rows(n), start=3):
            ws.write_datetime(r, 0, dt.datetime(day.year, day.month, day.day), date)
            ws.write_string(r, 1, text)
            ws.write_number(r, 3 if minor > 0 else 4, minor / 100)
            ws.write_string(r, 5, to)
            ws.write_string(r, 6, frm)
        wb.close()
        tmp.replace(path)
    return path


def main() -> None:
    """Generate, measure, compare, print the verdicts."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--xlsx-rows", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pandas-repeats", type=int, default=3, help="0 skips the pandas baseline")
    args = ap.parse_args()
    py, out = sys.executable, "/tmp/amili-bench-tables-reports"
    # Byte-compile the package as `pip install` does: with PYTHONDONTWRITEBYTECODE set (as on the shared
    # machine), every process would otherwise compile etl/ from source (0.2-0.4 s of start-up).
    subprocess.run([py, "-m", "compileall", "-q", str(BENCH.parent / "etl")], check=True)
    validate = [py, "-m", "etl", "validate", "--json", "--out", out]

    csv = ensure_csv(args.rows)
    print(f"CSV: {csv} ({csv.stat().st_size / 1e6:.0f} MB, {args.rows} rows)", flush=True)
    ours, peak, ours_cpu = _measure("amili-etl validate (CSV, UTF-8)", [*validate, str(csv)], args.repeats)
    bare_code = f"import polars as pl; pl.read_csv({str(csv)!r}, separator=';', infer_schema_length=0)"
    bare, _, bare_cpu = _measure("bare polars.read_csv", [py, "-c", bare_code], args.repeats)
    cp, cp_peak, cp_cpu = _measure("amili-etl validate (CSV, cp1252)", [*validate, str(ensure_cp1252(csv))],
                                   args.repeats)
    lines = [
        f"CSV: {ours:.2f} s wall, {ours_cpu:.2f} s CPU (target < 2.5 s: {'met' if ours < 2.5 else 'NOT met'}); "
        f"{ours / bare:.1f}x the bare read's {bare:.2f} s wall, {ours_cpu / bare_cpu:.1f}x its {bare_cpu:.2f} s CPU "
        f"(target <= 3x: {'met' if ours <= 3 * bare else 'NOT met'} on wall)",
        f"CSV cp1252: {cp:.2f} s wall, {cp_cpu:.2f} s CPU",
    ]
    if args.pandas_repeats:
        theirs, pd_peak, pd_cpu = _measure("pandas + pandera baseline",
                                           [py, str(BENCH / "baseline_pandas.py"), str(csv)], args.pandas_repeats)
        lines.append(f"pandas + pandera: {theirs:.2f} s wall, {pd_cpu:.2f} s CPU, peak {pd_peak:.0f} MB: "
                     f"{theirs / ours:.1f}x slower on wall, {pd_cpu / ours_cpu:.1f}x on CPU "
                     f"(target >= 4x: {'met' if theirs >= 4 * ours else 'NOT met'} on wall)")
    xlsx = ensure_xlsx(args.xlsx_rows)
    print(f"xlsx: {xlsx} ({xlsx.stat().st_size / 1e6:.1f} MB, {args.xlsx_rows} rows)", flush=True)
    xl, xl_peak, xl_cpu = _measure("amili-etl validate (.xlsx)", [*validate, str(xlsx)], args.repeats)
    lines.append(f".xlsx: {xl:.2f} s wall, {xl_cpu:.2f} s CPU (target < 2 s: {'met' if xl < 2 else 'NOT met'})")
    worst = max(peak, cp_peak, xl_peak)
    lines.append(f"peak memory (ours): {worst:.0f} MB (target < 1500 MB: {'met' if worst < 1500 else 'NOT met'})")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
