"""Benchmark: month-end with Collection settlements read back (30 daily runs of 50,000 Collection payments).

`python bench/month_end_collection.py [--runs N] [--payments M] [--repeat R]`: the state database of
bench/month_end.py (not timed), with every delivered payment a Collection payment of a creditor on
`payments_to = "collection"`, and a settlement read-back: one settlement per confirmed payment except about 100
(missing_in_amili), about 150 settled for 0.01 less (settled_amount_mismatch), 100 under keys we never sent
(unknown_in_amili) and 1,000 paid to Amili directly (counted only). Times reconcile_period, median of R.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import etl  # noqa: E402,F401  (before polars: the allocator settings the command line runs with)
import polars as pl  # noqa: E402

from month_end import build  # noqa: E402

from etl.bundled import bundled_dir  # noqa: E402
from etl.config import load_config  # noqa: E402
from etl.reconcile.period import reconcile_period  # noqa: E402
from etl.store import open_store  # noqa: E402

_SETTLEMENTS = """
SELECT 'collection.settlements' AS api, creditor, key, 's-' || key AS amili_id,
       amount_minor - CAST(source_line % 9973 = 0 AS INTEGER) AS amount_minor, currency, 'REMINDER' AS status,
       CAST(updated_at AS DATE) + 1 AS booked, 'b' || (source_line // 500) AS batch_id, invoice_number,
       NULL AS case_number, key AS reference
FROM outbox WHERE state = 'confirmed' AND source_line % 15000 <> 1
UNION ALL
SELECT 'collection.settlements', 'solkraft-se', CASE WHEN i < 100 THEN 'X' || i END, 'x' || i, 100, 'SEK', 'REMINDER',
       DATE '2026-11-15', 'bx', NULL, NULL, NULL
FROM range(0, 1100) t(i)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--payments", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="also print CPU seconds per month-end question")
    args = ap.parse_args()
    spent: dict[str, float] = {}
    if args.profile:
        import etl.reconcile.period as period

        plain = period.period_query

        def timed(store, name, params):  # type: ignore[no-untyped-def]
            c = time.process_time()
            try:
                return plain(store, name, params)
            finally:
                spent[name] = spent.get(name, 0.0) + (time.process_time() - c) / args.repeat

        period.period_query = timed
    config = load_config(bundled_dir("sample_data") / "amili-etl.toml", env={})
    config = replace(config, creditors=tuple(
        replace(c, payments_to="collection", collection_base_url="https://collection.invalid/v1", collection_org_id="org")
        if c.name == "solkraft-se" else c for c in config.creditors))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "state.duckdb"
        t = time.perf_counter()
        build(db, args.runs, args.payments)
        with open_store(db) as store:
            # Re-inserted rather than updated: an UPDATE of a primary-key column rewrites the index row by row.
            store.execute("INSERT INTO outbox BY NAME SELECT * REPLACE ('collection.payments' AS api) FROM outbox")
            store.execute("DELETE FROM outbox WHERE api = 'ada.creditor-payments'")
            store.execute("UPDATE run_items SET api = 'collection.payments'")
            store.execute("UPDATE discrepancies SET api = 'collection.payments' WHERE api IS NOT NULL")
            settlements = store.frame(_SETTLEMENTS)
        print(f"built {args.runs} runs x {args.payments:,} payments, {settlements.height:,} settlements in "
              f"{time.perf_counter() - t:.1f} s (not timed)")
        times, cpu = [], []
        for _ in range(args.repeat):
            with open_store(db) as store:
                t0, c0 = time.perf_counter(), time.process_time()
                # Read on 31 December: every payment of November has had its settlement lag.
                result = reconcile_period(store, config, "2026-11", lambda config, start, end: settlements,
                                          today=dt.date(2026, 12, 31))
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
        counts = dict(result.breaks.filter(pl.col("category").is_in(
            ["missing_in_amili", "settled_amount_mismatch", "unknown_in_amili"])).group_by("category").len().sort("category").iter_rows())
    print(f"breaks: {counts}; settlements: {result.settlements}")
    print(f"reconcile_period   median {statistics.median(times):6.2f} s   runs {[round(x, 2) for x in times]}")
    print(f"CPU s per run: {[round(c, 2) for c in cpu]}")
    if spent:
        print("CPU s per question: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(spent.items(), key=lambda kv: -kv[1])))


if __name__ == "__main__":
    main()
