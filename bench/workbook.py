"""Benchmark: discrepancies.xlsx (and the CSV) for 100,000 discrepancy rows: time and peak memory of the process.

`python bench/workbook.py [--rows N] [--repeat R]`: median of R writes; peak RSS from resource.getrusage (the whole
process, data generation included). Rows are synthetic and seeded, spread over every category, with lineage columns,
Amili ids, and some text cells that need formula escaping.
"""

from __future__ import annotations

import argparse
import datetime
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import etl  # noqa: E402,F401  (before polars: the allocator settings the command line runs with)
import polars as pl  # noqa: E402

from etl.reconcile.runner import CATEGORIES  # noqa: E402
from etl.report.tables import write_csv  # noqa: E402
from etl.report.workbook import Sheet, write_workbook  # noqa: E402


def discrepancies(n: int) -> pl.DataFrame:
    """`n` discrepancy rows as reconcile_run returns them, plus amili_id and http_status."""
    i = pl.int_range(n, dtype=pl.Int64)
    cats = list(CATEGORIES)
    return pl.select(
        (i % len(cats)).replace_strict(list(range(len(cats))), cats).alias("category"),
        pl.lit("warning").alias("severity"),
        (pl.lit("bank/ocr_") + (i // 5000).cast(pl.String) + ".txt").alias("source_file"),
        (i % 5000 + 2).alias("source_line"),
        (i * 7919 % 10**12).cast(pl.String).str.zfill(13).alias("reference"),
        (i + 100000).cast(pl.String).alias("invoice_number"),
        (i.hash(1) % 1_000_000 + 100).cast(pl.Int64).alias("amount_minor"),
        pl.lit("NOK").alias("currency"),
        (i.hash(2) % 1_000_000 + 100).cast(pl.Int64).alias("expected_minor"),
        pl.lit("arm.paymentreservations").alias("api"),
        pl.lit("201").alias("api_status"),
        pl.when(i % 50 == 0).then(pl.lit("=cmd|' /C calc'!A0")).otherwise(pl.lit("matched by reference; open on ")
                                                                             + (i + 100000).cast(pl.String)).alias("detail"),
        ((i.hash(1) % 1_000_000).cast(pl.Int64) - (i.hash(2) % 1_000_000).cast(pl.Int64)).alias("difference_minor"),
        (pl.lit("NETS-") + i.hash(3).cast(pl.String)).alias("stable_key"),
        (pl.lit("2218-") + i.cast(pl.String) + "-0").alias("amili_id"),
        pl.lit(201).alias("http_status"),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    found = discrepancies(args.rows)
    counts = {c: int(n) for c, n in found.group_by("category").len().iter_rows()}
    summary = {"run_id": "bench", "status": "discrepancies", "counts": counts, "files": [], "totals": {"rows": args.rows}}
    extra = {}
    try:  # the Summary's heading and tie-out (absent before issue 15: the bench then times the old Summary)
        from etl.report.cover import Cover

        tie = pl.DataFrame({"currency": ["NOK"], "bank_total_minor": [10**9], "delivered_minor": [9 * 10**8],
                            "unmatched_minor": [5 * 10**7], "held_back_minor": [3 * 10**7], "rejected_minor": [2 * 10**7],
                            "unexplained_minor": [0]})
        extra["cover"] = Cover("Run", "bench", datetime.datetime.now(datetime.timezone.utc), ("nordlys-no",),
                               (datetime.date(2026, 11, 1), datetime.date(2026, 11, 30)), tie)
    except ImportError:
        pass
    times, cpu, csv_times = [], [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            t0, c0 = time.perf_counter(), time.process_time()
            write_workbook(Path(tmp) / "d.xlsx", summary, found, [Sheet("Matched", found.head(20_000), totals=True)],
                           **extra)
            t1 = time.perf_counter()
            cpu.append(time.process_time() - c0)
            write_csv(found, Path(tmp) / "d.csv")
            t2 = time.perf_counter()
            size = (Path(tmp) / "d.xlsx").stat().st_size
        times.append(t1 - t0)
        csv_times.append(t2 - t1)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows={args.rows:,} (+20,000 in Matched) xlsx={size / 1e6:.1f} MB")
    print(f"discrepancies.xlsx  median {statistics.median(times):6.2f} s   runs {[round(t, 2) for t in times]}   "
          f"CPU median {statistics.median(cpu):.2f} s (all threads; steadier than wall time on a loaded machine)")
    print(f"discrepancies.csv   median {statistics.median(csv_times):6.2f} s   runs {[round(t, 2) for t in csv_times]}")
    print(f"peak RSS of the process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
