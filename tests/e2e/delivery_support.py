"""Synthetic delivery work for the delivery tests: a config for four creditors, planned items, the sandbox seed.

One ARM creditor (documents + payment reservations), one Collection creditor, one ADA creditor and one ARM
creditor on autopostings. Items are planned by the real planner and recorded in a real DuckDB outbox; the
tests deliver them over real HTTP to a sandbox on loopback. Also runnable as a script (the crash test's "run"):
    python -m tests.e2e.delivery_support STATE_DIR BASE_URL [N]
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from etl.amili import deliver, record_intents
__all__ = ["deliver", "record_intents", "plan_items", "httpx"]
from etl.config import Config, load_config
from etl.plan import plan_items
from etl.store import open_store

ARM_CLIENT = 4100
AUTO_CLIENT = 4200
ORG = "7bc05553-4b68-44e8-b7bc-37be63c6d9e9"
ADA_CREDITOR = "674dbeb208847b9501cc9138"
ENV = {"AMILI_CLIENT_ID": "sandbox", "AMILI_CLIENT_SECRET": "sandbox", "AMILI_ADA_API_CODE": "sandbox"}
DAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 21, 6, 0)


def write_config(tmp: Path, base_url: str, http: dict[str, Any] | None = None, apis: tuple[str, ...] = ("arm", "collection", "ada")) -> Path:
    """amili-etl.toml for the four creditors (those of `apis`), pointed at `base_url`, state under `tmp`."""
    http = {"timeout_s": 1.0, "concurrency": 8, "max_attempts": 10, "max_retry_time_s": 20, "poll_interval_s": 0.05,
            "poll_timeout_s": 10,
            # Longer than any sandbox batch_delay_s of the tests: a lookup after it sees every batch processed.
            "lookup_settle_s": 1.0, **(http or {})}
    lines = [f'[state]\npath = "{tmp / "state.duckdb"}"\n', "[http]"]
    lines += [f"{k} = {v!r}".replace("'", '"') if not isinstance(v, dict) else
              f"{k} = {{ {', '.join(f'{a} = {b}' for a, b in v.items())} }}" for k, v in http.items()]
    auth = f'auth = {{ token_url = "{base_url}/auth/token" }}'
    blocks = {
        "arm": ("arm-no", "NO", "15062995960", f'invoices_to = "arm"\npayments_to = "arm"\n'
                f'arm = {{ base_url = "{base_url}/arm", client_no = {ARM_CLIENT} }}\n{auth}'),
        "collection": ("coll-no", "NO", "15062995961", 'payments_to = "collection"\n'
                       f'collection = {{ base_url = "{base_url}/collection/v1", org_id = "{ORG}" }}\n{auth}'),
        "ada": ("ada-se", "SE", "54029681", f'payments_to = "ada"\nada = {{ base_url = "{base_url}/ada", creditor = "{ADA_CREDITOR}" }}'),
        "autopostings": ("auto-no", "NO", "15062995962", 'payments_to = "arm"\nautopostings = true\n'
                         f'arm = {{ base_url = "{base_url}/arm", client_no = {AUTO_CLIENT} }}\n{auth}'),
    }
    for api in apis:
        name, country, account, rest = blocks[api]
        lines.append(f'\n[[creditor]]\nname = "{name}"\ncountry = "{country}"\naccounts = ["{account}"]\n{rest}')
    path = tmp / "amili-etl.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load(path: Path) -> Config:
    """The config with the sandbox's credentials in its environment."""
    return load_config(path, env=ENV)


def seed(base_url: str, n: int) -> None:
    """What already exists at Amili: Collection invoices, ADA cases and the autoposting creditor's documents."""
    body = {
        "collection_invoices": [{"organizationId": ORG, "invoiceId": f"ci-{i}", "invoiceNumber": f"C{i}",
                                 "amount": "1000.00", "currency": "NOK"} for i in range(n)],
        "ada_cases": [{"case": f"{i:024x}", "creditor": ADA_CREDITOR, "invoice_number": f"S{i}", "amount": "1000.00",
                       "currency": "SEK"} for i in range(1, n + 1)],
        "arm_documents": [{"clientNo": AUTO_CLIENT, "documentNo": f"A{i}", "customerNo": f"K{i}", "kid": None,
                           "currency": "NOK", "amount": "1000.00"} for i in range(n)],
    }
    httpx.post(f"{base_url}/_sandbox/seed", json=body, timeout=30).raise_for_status()


def frames(n: int, bad: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(invoices, payments) for `n` items per endpoint; `bad` adds one item per endpoint that Amili refuses."""
    inv = pl.DataFrame({
        "creditor": ["arm-no"] * n,
        "invoice_number": [f"N{i}" for i in range(n)],
        "customer_number": [f"K{i % 7}" for i in range(n)],
        "kid": [None] * n,
        "invoice_date": [DAY] * n,
        "due_date": [DAY + dt.timedelta(days=14)] * n,
        "currency": ["NOK"] * n,
        "amount_minor": [100_000 + i for i in range(n)],
        "amount_excl_vat_minor": [None] * n,
        "vat_minor": [None] * n,
        "source_file": ["invoices.csv"] * n,
        "source_line": list(range(2, n + 2)),
    }, schema_overrides={"kid": pl.String, "amount_excl_vat_minor": pl.Int64, "vat_minor": pl.Int64})
    rows = []
    for creditor, prefix, inv_prefix, offset in (("arm-no", "R", "N", 0), ("coll-no", "P", "C", 0),
                                                 ("ada-se", "D", "S", 1), ("auto-no", "T", "A", 0)):
        for i in range(n):
            rows.append({"creditor": creditor, "payment_key": f"{prefix}-{i}", "invoice_number": f"{inv_prefix}{i + offset}",
                         "amount_minor": 10_000 + i})
        if bad:
            rows.append({"creditor": creditor, "payment_key": f"{prefix}-bad", "invoice_number": "NO-SUCH-INVOICE",
                         "amount_minor": 5_000})
    pays = pl.DataFrame(rows).with_columns(
        pl.when(pl.col("creditor") == "ada-se").then(pl.lit("SEK")).otherwise(pl.lit("NOK")).alias("currency"),
        pl.lit(DAY).alias("booking_date"), pl.lit("betaling").alias("message"), pl.lit(None, pl.String).alias("reference"),
        pl.lit("bank.txt").alias("source_file"), (pl.int_range(pl.len()) + 1).cast(pl.Int64).alias("source_line"))
    return inv, pays


def plan(config: Config, n: int, bad: bool = False) -> pl.DataFrame:
    """The planned items of the configured creditors."""
    inv, pays = frames(n, bad)
    names = [c.name for c in config.creditors]
    return plan_items(config, inv.filter(pl.col("creditor").is_in(names)), pays.filter(pl.col("creditor").is_in(names)))


def run_delivery(config: Config, run_id: str, n: int, bad: bool = False, progress: Any = None,
                 before: Any = None) -> Any:
    """One 'run': record the intents of the plan, deliver what may go. Returns (items, report)."""
    with open_store(config.state_path) as store:
        items = record_intents(store, run_id, plan(config, n, bad), NOW)
        if before is not None:
            before()
        report = deliver(store, config, run_id, items.filter(pl.col("action") == "deliver"), lambda: NOW, progress)
    return items, report


def ledger(base_url: str) -> list[dict[str, Any]]:
    """The sandbox's ledger."""
    return httpx.get(f"{base_url}/_sandbox/ledger", timeout=30).json()["items"]


def outbox(config: Config) -> pl.DataFrame:
    """The outbox as it is now."""
    with open_store(config.state_path) as store:
        return store.frame("SELECT api, key, state, message, http_status, attempts FROM outbox ORDER BY api, key")


def _announce_and_hold(hold: bool) -> None:
    """Say that the intents are recorded; with `hold`, wait for a line on stdin (the crash test kills it there)."""
    print("delivering", flush=True)
    if hold:
        sys.stdin.readline()


if __name__ == "__main__":  # the crash test's run: python -m tests.e2e.delivery_support CONFIG RUN_ID N [hold]
    cfg = load(Path(sys.argv[1]))
    from etl.amili import Progress

    run_delivery(cfg, sys.argv[2], int(sys.argv[3]), progress=Progress(enabled=False),
                 before=lambda: _announce_and_hold(sys.argv[4:5] == ["hold"]))
