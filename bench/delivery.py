"""Delivery throughput against `amili-etl sandbox serve` in its own process on loopback (issue 5's numbers).

Usage:
    python bench/delivery.py [--items 3000] [--repeats 3] [--only single,limited,rerun,ada]

Scenarios (each repeated, median printed; the machine is shared and noisy):
- single:  --items ARM payment reservations, one per request, through the real outbox + delivery
           (record_intents, mark_sent, concurrency, answers recorded in DuckDB); items/s.
- limited: the sandbox at --rate-limit 50, the client's rate_limit 50 for ARM: items/s as a share of 50, and
           the share of requests answered 429.
- rerun:   the same plan again after a full delivery: time (plan + outbox check + delivery) as a share of the
           first run's, and the number of POSTs (must be 0).
- ada:     ADA creditor payments under the issue's fault mix, single POSTs vs bulk lists of 50: items/s.
- io:      single reservations with `[http] io = "threads"` and `"async"`, interleaved (not in the default set).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import etl  # noqa: E402,F401  (before polars: the allocator settings the command line runs with)
import polars as pl  # noqa: E402

from etl.amili import Progress, deliver, record_intents  # noqa: E402
from etl.config import load_config  # noqa: E402
from etl.plan import plan_items  # noqa: E402
from etl.store import open_store  # noqa: E402

CLIENT = 2218
CREDITOR = "674dbeb208847b9501cc9138"
FAULTS = "500=0.05,503=0.05,429=0.05,timeout=0.02,reset=0.02"
NOW = dt.datetime(2026, 11, 21, 6, 0)
DAY = dt.date(2026, 11, 20)
ENV = {"AMILI_CLIENT_ID": "sandbox", "AMILI_CLIENT_SECRET": "sandbox", "AMILI_ADA_API_CODE": "sandbox"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def sandbox(*args: str) -> Iterator[str]:
    """`python -m etl sandbox serve` in its own process; yields its base URL once healthy."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "etl", "sandbox", "serve", "--port", str(port), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/_sandbox/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def config_file(tmp: Path, base: str, http: str) -> Path:
    path = tmp / "amili-etl.toml"
    path.write_text(f"""
[state]
path = "{tmp / 'state.duckdb'}"
[http]
timeout_s = 1.0
concurrency = 8
max_attempts = 10
max_retry_time_s = 30
{http}
[[creditor]]
name = "no"
country = "NO"
accounts = ["1"]
payments_to = "arm"
arm = {{ base_url = "{base}/arm", client_no = {CLIENT} }}
auth = {{ token_url = "{base}/auth/token" }}
[[creditor]]
name = "se"
country = "SE"
accounts = ["2"]
payments_to = "ada"
ada = {{ base_url = "{base}/ada", creditor = "{CREDITOR}" }}
""", encoding="utf-8")
    return path


def payments(creditor: str, n: int, prefix: str) -> pl.DataFrame:
    return pl.DataFrame({
        "creditor": [creditor] * n, "payment_key": [f"{prefix}-{i}" for i in range(n)],
        "invoice_number": [f"INV{i % 50}" for i in range(n)], "amount_minor": [100 + i for i in range(n)],
        "currency": ["NOK" if creditor == "no" else "SEK"] * n, "booking_date": [DAY] * n, "message": ["x"] * n,
        "reference": [None] * n, "source_file": ["bench"] * n, "source_line": list(range(n)),
    }, schema_overrides={"reference": pl.String})


def seed(base: str) -> None:
    httpx.post(f"{base}/_sandbox/seed", timeout=30, json={
        "arm_documents": [{"clientNo": CLIENT, "documentNo": f"INV{i}", "customerNo": f"C{i}", "kid": None,
                           "currency": "NOK", "amount": "100000.00"} for i in range(50)],
        "ada_cases": [{"case": f"{i + 1:024x}", "creditor": CREDITOR, "invoice_number": f"INV{i}",
                       "amount": "100000.00", "currency": "SEK"} for i in range(50)],
    }).raise_for_status()


def run(config_path: Path, pays: pl.DataFrame, run_id: str) -> tuple[float, object]:
    """Plan, record intents, deliver: (seconds, report)."""
    config = load_config(config_path, env=ENV)
    t = time.perf_counter()
    planned = plan_items(config, pl.DataFrame(), pays)
    with open_store(config.state_path) as store:
        items = record_intents(store, run_id, planned, NOW)
        report = deliver(store, config, run_id, items.filter(pl.col("action") == "deliver"), lambda: NOW,
                         Progress(enabled=False))
    return time.perf_counter() - t, report


def scenario_single(n: int, io: str = "threads") -> dict[str, float]:
    with sandbox() as base, tempfile.TemporaryDirectory() as tmp:
        seed(base)
        path = config_file(Path(tmp), base, f'io = "{io}"')
        secs, report = run(path, payments("no", n, "S"), "first")
        assert report.confirmed["arm.paymentreservations"] == n, report
        again, report2 = run(path, payments("no", n, "S"), "again")
        posts = sum(v for k, v in report2.requests.items() if k.startswith("POST"))
        return {"items_per_s": n / secs, "rerun_share": again / secs, "rerun_posts": posts}


def scenario_limited(n: int) -> dict[str, float]:
    with sandbox("--rate-limit", "50") as base, tempfile.TemporaryDirectory() as tmp:
        seed(base)
        path = config_file(Path(tmp), base, "rate_limit = 50.0")
        secs, report = run(path, payments("no", n, "L"), "limited")
        assert report.confirmed["arm.paymentreservations"] == n, report
        total = sum(report.requests.values())
        return {"items_per_s": n / secs, "share_of_limit": n / secs / 50, "share_429": report.requests["POST 429"] / total}


def scenario_ada(n: int, batch: int) -> dict[str, float]:
    with sandbox("--faults", FAULTS, "--fault-seed", "5") as base, tempfile.TemporaryDirectory() as tmp:
        seed(base)
        path = config_file(Path(tmp), base, f"ada_batch_size = {batch}")
        secs, report = run(path, payments("se", n, f"A{batch}"), "ada")
        return {"items_per_s": n / secs, "confirmed": report.confirmed["ada.creditor-payments"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="single,limited,ada", help="also: io (threads vs async, interleaved)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    os.environ.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[1]))

    def median(runs: list[dict[str, float]]) -> dict[str, float]:
        return {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}

    if "single" in only:
        runs = [scenario_single(args.items) for _ in range(args.repeats)]
        print(f"single reservations ({args.items}):", [round(r["items_per_s"]) for r in runs], "median", median(runs))
    if "io" in only:
        res: dict[str, list[float]] = {"threads": [], "async": []}
        for _ in range(args.repeats):
            for io in res:
                res[io].append(round(scenario_single(args.items, io)["items_per_s"]))
        print("reservations/s by io (interleaved):", {k: (v, statistics.median(v)) for k, v in res.items()})
    if "limited" in only:
        runs = [scenario_limited(500) for _ in range(args.repeats)]
        print("rate-limited 50/s (500):", median(runs))
    if "ada" in only:
        for batch in (0, 50):
            runs = [scenario_ada(600, batch) for _ in range(args.repeats)]
            print(f"ADA under faults, {'single POSTs' if batch == 0 else f'bulk of {batch}'} (600):", median(runs))


if __name__ == "__main__":
    main()
