"""Peak memory and wall time of `amili-etl validate --json` on the worst hostile files (issue 14).

Usage: python bench/hostile_corpus_memory.py [--keep DIR]
Builds the big files of tests/data/hostile (zip bombs, 10 MB files) in a tmp folder, runs each alone in its own
process and prints its exit (or signal), peak RSS (os.wait4: exact for that process) and wall time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOSTILE = REPO / "tests" / "data" / "hostile"
COMMITTED = ["xlsx_far_cell_XFD1048576.xlsx", "xlsx_far_cell_no_dimension.xlsx", "xlsx_dimension_overstated.xlsx",
             "xlsx_zip_bomb_small.xlsx", "xlsx_zip_bomb_shared_strings.xlsx", "camt054_billion_laughs.xml",
             "camt054_deep_nesting.xml"]
BUILT = ["xlsx_zip_bomb_1_5GB.xlsx", "xlsx_10MB_many_rows.xlsx", "bank_csv_10MB_single_line.csv",
         "camt054_10MB_whitespace.xml"]


def measure(path: Path, out: Path) -> tuple[str, int, float]:
    """(exit or signal, peak RSS in MiB, wall seconds) of one validate process on `path`."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "etl", "validate", "--json", "--out", str(out), str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=out)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = code = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    return (f"signal {-code}" if code < 0 else f"exit {code}"), usage.ru_maxrss // 1024, wall


def main() -> None:
    """Build, run, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the big files here and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp) / "big"
        # Built in a child: Linux hands a parent's peak RSS to every later child as the floor of its ru_maxrss.
        subprocess.run([sys.executable, str(HOSTILE / "generate.py"), "--at-test-time", str(folder), *BUILT], check=True)
        files = [HOSTILE / "files" / n for n in COMMITTED] + [folder / n for n in BUILT]
        print("| file | size | outcome | peak RSS (MiB) | wall (s) |\n|---|---:|---|---:|---:|")
        for f in files:
            out = Path(tmp) / ("out-" + f.name)
            out.mkdir()
            outcome, rss, wall = measure(f, out)
            size = f.stat().st_size
            print(f"| {f.name} | {size / 1e6:.2f} MB | {outcome} | {rss} | {wall:.1f} |", flush=True)


if __name__ == "__main__":
    main()
