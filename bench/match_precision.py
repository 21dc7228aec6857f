"""Benchmark: matching precision on a generated noisy bank file (300,000 payments, 400,000 invoices, fixed seed).

`python bench/match_precision.py [--payments N] [--invoices M] [--seed S]`: builds the world of
tests/unit/noisy_payments.py (structured KIDs, KIDs in DNB texts without the word "KID", invoice numbers in the text
paid in full, in part, with and without the payer's name, two invoices in one text, amount + name, payments to
invoices with nothing open, and random "ref NNNNNN" / phone / KID-shaped numbers in transfer texts), matches and routes
it as a run does (the sample configuration's nordlys-no: MOD10 KIDs, ARM), and prints per rule how many payments it
delivered, how many of those went to the right invoice (precision), how many of the payments it should find it did
(recall), the same per kind of payment, and the two numbers that must be 0: deliveries to a wrong invoice and
deliveries to an invoice with nothing open. Exit 1 when either is not 0.

More open invoices than payments: each payment pays its own invoice (a second full payment of one invoice is a
double payment, rightly not delivered). Half the random "ref" numbers are drawn from the invoice numbers and the rest
from 100000..999999, of which invoice numbers 100000..499999: about 70 % of them equal some invoice's number, far
more noise hits than the 2,156 of the file that prompted this.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import etl  # noqa: E402,F401  (before polars: the allocator settings the command line runs with)
import polars as pl  # noqa: E402

from etl.config import load_config  # noqa: E402
from etl.match import match_payments, route_matches  # noqa: E402
from tests.unit.noisy_payments import score, world  # noqa: E402


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:6.2f} %"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--payments", type=int, default=300_000)
    ap.add_argument("--invoices", type=int, default=400_000)
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args()
    pays, inv = world(args.payments, args.invoices, args.seed)
    config = load_config(Path(__file__).resolve().parents[1] / "sample_data" / "amili-etl.toml", env={})
    settings = {c.name: c.matching for c in config.creditors}
    checks = {c.name: c.reference_check for c in config.creditors}
    t0, c0 = time.perf_counter(), time.process_time()
    routed = route_matches(match_payments(pays, inv, settings, checks), pays, config)
    took, cpu = time.perf_counter() - t0, time.process_time() - c0
    s = score(pays, routed)
    noise_hits = pays.filter(pl.col("kind") == "noise_ref").with_columns(
        pl.col("message").str.extract(r"(\d+)$").alias("n")).join(inv, left_on="n", right_on="invoice_number",
                                                                 how="semi").height
    print(f"payments={args.payments:,} invoices={args.invoices:,} seed={args.seed} match + route {took:.2f} s "
          f"({cpu:.2f} CPU-s, all threads)")
    print(f"random 'ref NNNNNN' numbers equal to an invoice number: {noise_hits:,}")
    print(f"{'rule':<16} {'delivered':>10} {'right':>10} {'precision':>10} {'should find':>12} {'found':>10} {'recall':>10}")
    for rule, r in s["per_rule"].items():  # type: ignore[union-attr]
        print(f"{rule:<16} {r['delivered']:>10,} {r['right']:>10,} {_pct(r['precision']):>10} {r['should_find']:>12,} "
              f"{r['found']:>10,} {_pct(r['recall']):>10}")
    print(f"\n{'kind':<22} {'payments':>10} {'delivered':>10} {'right':>10}")
    for kind, n, delivered, right in s["per_kind"].iter_rows():  # type: ignore[union-attr]
        print(f"{kind:<22} {n:>10,} {delivered:>10,} {right:>10,}")
    print(f"\nrules decided: {s['rules']}")
    print(f"deliveries to a wrong invoice: {s['wrong_deliveries']}")
    print(f"deliveries to an invoice with nothing open: {s['nothing_open_deliveries']}")
    return 0 if s["wrong_deliveries"] == 0 and s["nothing_open_deliveries"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
