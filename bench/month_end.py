"""Benchmark: month-end over 30 daily runs of 50,000 payments (`amili-etl reconcile --period`, in process).

`python bench/month_end.py [--runs N] [--payments M] [--repeat R]`: builds a state database with DuckDB SQL (not
timed): N runs in November 2026, M payments each, all matched and delivered to ADA, about 3 % of each run reported
(unmatched, underpayments, pending), invoices due in the month with about 5 % unpaid, and an Amili read-back that
misses 100 confirmed items and holds 100 we never sent. Then times, median of R: reconcile_period (every month-end
question) and the month-end report files (xlsx, csv, json, parquet).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import etl  # noqa: E402,F401  (before polars: the allocator settings the command line runs with)
import polars as pl  # noqa: E402

from etl.bundled import bundled_dir  # noqa: E402
from etl.config import load_config  # noqa: E402
from etl.reconcile.period import reconcile_period  # noqa: E402
from etl.report.period_report import write_period_report  # noqa: E402
from etl.store import open_store  # noqa: E402

_BUILD = """
INSERT INTO runs (run_id, started_at, mode, status, exit_code)
SELECT 'run-' || lpad(CAST(d AS VARCHAR), 2, '0'), TIMESTAMP '2026-11-01 05:00:00' + INTERVAL (d - 1) DAY, 'run',
       'discrepancies', 1 FROM range(1, $runs + 1) t(d);
INSERT INTO invoices (run_id, creditor, invoice_number, customer_number, customer_name, kid, invoice_date, due_date,
                      currency, amount_minor, source_file, source_sha256, source_line)
SELECT 'run-' || lpad(CAST(1 + i % $runs AS VARCHAR), 2, '0'), 'solkraft-se', CAST(700000 + i AS VARCHAR),
       CAST(i % 50000 AS VARCHAR), 'Kund ' || i % 50000, CAST(700000 + i AS VARCHAR) || '0', DATE '2026-10-01',
       DATE '2026-11-01' + CAST(i % 29 AS INTEGER), 'SEK', 10000 + i % 90000, 'invoices.csv', 's', 2 + i
FROM range(0, $runs * $payments) t(i);
INSERT INTO payments (run_id, payment_no, payment_key, source_file, source_sha256, source_line, format, creditor, account,
                      booking_date, amount_minor, currency, reference, reference_valid, message, held_back, duplicate_of)
SELECT 'run-' || lpad(CAST(1 + i // $payments AS VARCHAR), 2, '0'), i % $payments, 'BGC' || i,
       'bgmax_' || CAST(1 + i // $payments AS VARCHAR) || '.txt', 's', 3 + i % $payments, 'bgmax', 'solkraft-se',
       '54029681', DATE '2026-11-01' + CAST(i // $payments AS INTEGER), 10000 + i % 90000, 'SEK',
       CAST(700000 + i AS VARCHAR) || '0', TRUE, NULL, FALSE, NULL
FROM range(0, $runs * $payments) t(i) WHERE i % 20 <> 7;   -- 5 % of the invoices get no payment: unpaid
INSERT INTO matches (run_id, payment_no, payment_key, creditor, rule, invoice_number, invoice_amount_minor, outstanding_minor,
                     invoice_currency, evidence, fields, score, target, route_reason)
SELECT run_id, payment_no, payment_key, creditor, CASE WHEN source_line % 97 = 0 THEN 'none' ELSE 'reference' END,
       CASE WHEN source_line % 97 = 0 THEN NULL ELSE left(reference, length(reference) - 1) END, amount_minor,
       amount_minor, 'SEK',
       'structured reference equals the invoice KID (reference=kid)', 'reference=kid', 1.0,
       'ada.creditor-payments', 'solkraft-se: payments_to = ada'
FROM payments;
INSERT INTO match_allocations SELECT run_id, payment_key, creditor, invoice_number, invoice_amount_minor
FROM matches WHERE rule = 'reference';
INSERT INTO outbox (api, key, creditor, payload_hash, payload, state, amount_minor, currency, source_file, source_line,
                    reference, invoice_number, first_run_id, last_run_id, attempts, http_status, amili_id, created_at,
                    updated_at)
SELECT 'ada.creditor-payments', p.payment_key, p.creditor, 'h', '{}',
       CASE WHEN p.source_line % 211 = 0 THEN 'sent' ELSE 'confirmed' END, p.amount_minor, 'SEK', p.source_file,
       p.source_line, p.reference, m.invoice_number, p.run_id, p.run_id, 1, 201, 'ada-' || p.payment_key,
       CAST(p.booking_date AS TIMESTAMP), CAST(p.booking_date AS TIMESTAMP)
FROM payments p JOIN matches m USING (run_id, payment_key) WHERE m.rule = 'reference';
INSERT INTO run_items SELECT first_run_id, api, key, 'deliver', NULL FROM outbox;
INSERT INTO discrepancies (run_id, category, severity, source_file, source_line, reference, invoice_number,
                           amount_minor, currency, expected_minor, api, api_status, detail, stable_key)
SELECT p.run_id, 'unmatched_payment', 'warning', p.source_file, p.source_line, p.reference, NULL, p.amount_minor, 'SEK',
       NULL, NULL, NULL, 'no open invoice matches the reference or the text', p.payment_key
FROM payments p JOIN matches m USING (run_id, payment_key) WHERE m.rule = 'none'
UNION ALL
SELECT o.first_run_id, 'pending', 'warning', o.source_file, o.source_line, o.reference, o.invoice_number,
       o.amount_minor, 'SEK', NULL, o.api, o.state, 'no final answer from Amili yet', o.key
FROM outbox o WHERE o.state = 'sent'
UNION ALL
SELECT p.run_id, 'underpayment', 'warning', p.source_file, p.source_line, p.reference, NULL, p.amount_minor - 100,
       'SEK', p.amount_minor, NULL, NULL, 'matched by reference', p.payment_key
FROM payments p WHERE p.source_line % 53 = 0;
"""


def build(path: Path, runs: int, payments: int) -> None:
    """The state database of a month of nights, written by DuckDB SQL."""
    with open_store(path) as store:
        for stmt in [s for s in _BUILD.split(";") if s.strip()]:
            params = {k: v for k, v in {"runs": runs, "payments": payments}.items() if f"${k}" in stmt}
            store.execute(stmt, params)


def readback_for(path: Path):
    """A read-back function: what Amili holds = our confirmed ADA items minus 100, plus 100 it has that we never sent."""
    with open_store(path) as store:
        held = store.frame("SELECT api, creditor, key, amili_id, amount_minor, currency, 'completed' AS status, "
                           "CAST(updated_at AS DATE) AS booked FROM outbox WHERE state = 'confirmed'")
    held = held.slice(100)
    strangers = pl.DataFrame({"api": ["ada.creditor-payments"] * 100, "creditor": ["solkraft-se"] * 100,
                              "key": [f"BY-HAND-{i}" for i in range(100)], "amili_id": [f"x{i}" for i in range(100)],
                              "amount_minor": [100] * 100, "currency": ["SEK"] * 100, "status": ["completed"] * 100,
                              "booked": [dt.date(2026, 11, 15)] * 100})
    frame = pl.concat([held, strangers], how="vertical_relaxed")
    return lambda config, start, end: frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--payments", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    config = load_config(bundled_dir("sample_data") / "amili-etl.toml", env={})
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "state.duckdb"
        t = time.perf_counter()
        build(db, args.runs, args.payments)
        readback = readback_for(db)
        print(f"built {args.runs} runs x {args.payments:,} payments in {time.perf_counter() - t:.1f} s (not timed)")
        rec, rep, cpu = [], [], []
        for _ in range(args.repeat):
            with open_store(db) as store:
                t0, c0 = time.perf_counter(), time.process_time()
                result = reconcile_period(store, config, "2026-11", readback)
                t1, c1 = time.perf_counter(), time.process_time()
                write_period_report(store, result, Path(tmp) / "out", config, {"period": "2026-11"})
                t2, c2 = time.perf_counter(), time.process_time()
            rec.append(t1 - t0)
            rep.append(t2 - t1)
            cpu.append((c1 - c0, c2 - c1))
        counts = dict(result.breaks.group_by("category").len().sort("category").iter_rows())
    print(f"breaks: {counts}")
    for label, times in (("reconcile_period", rec), ("report files", rep), ("month-end total", [a + b for a, b in zip(rec, rep)])):
        print(f"{label:<18} median {statistics.median(times):6.2f} s   runs {[round(x, 2) for x in times]}")
    # CPU seconds of the process (all threads): steadier than wall time on a shared machine.
    print(f"CPU s (reconcile_period, report files) per run: {[(round(a, 2), round(b, 2)) for a, b in cpu]}")


if __name__ == "__main__":
    main()
