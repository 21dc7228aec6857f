"""Month-end reads Collection settlements back over real HTTP; precision = recall = 100 % for the planted cases.

A Norwegian creditor on Collection (payments_to = "collection") is paid three invoices in one SpareBank 1 export;
the run delivers the three payments to an embedded sandbox on 127.0.0.1, which settles each. Then, at Amili (the
sandbox's `collection_settlements` seed section, docs/sandbox.md): the first settlement is left alone, the second is
changed to 50.00 less, the third is removed (never settled), a settlement under a uniqueSourcePaymentId we never sent
is added, and one without any (the debtor paid Amili directly). Month-end must report exactly: the third payment
missing_in_amili, the second settled_amount_mismatch, the stranger unknown_in_amili, and nothing else.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from etl.bundled import bundled_dir
from etl.config import load_config, with_sandbox
from etl.reconcile.period import period_bounds, reconcile_period
from etl.reconcile.readback import read_back, settlement_window
from etl.report.period_report import period_summary
from etl.store import open_store
from tests.conftest import SAMPLE
from tests.reconcile.support import COLLECTION_ACCOUNT, COLLECTION_CREDITOR, COLLECTION_ORG

_spec = importlib.util.spec_from_file_location("sample_generate", SAMPLE / "generate.py")
gen = importlib.util.module_from_spec(_spec)
sys.modules["sample_generate"] = gen  # dataclasses look their module up while the module runs
_spec.loader.exec_module(gen)  # type: ignore[union-attr]

ORG, ACCOUNT = COLLECTION_ORG, COLLECTION_ACCOUNT
BANK_FILE = "sparebank1_fjord.csv"
CONFIG = '[state]\npath = "state.duckdb"\n' + COLLECTION_CREDITOR


def _inputs(folder: Path, today: dt.date) -> list[gen.Invoice]:
    """Three invoices of the creditor and a bank export paying each in full (bank lines 2, 3, 4)."""
    invoices = [gen.Invoice(number, gen.Customer(customer, name, ""), gen.luhn_append(customer + number),
                            (today - dt.timedelta(days=14)).isoformat(), (today + dt.timedelta(days=14)).isoformat(),
                            "NOK", excl, excl // 4)
                for number, customer, name, excl in (("400001", "880001", "Kari Nordmann", 80_000),
                                                     ("400002", "880002", "Ola Nordmann", 120_000),
                                                     ("400003", "880003", "Fjordbakst AS", 64_000))]
    folder.mkdir(parents=True)
    (folder / "invoices_fjord_1.csv").write_text(gen.invoices_csv_text(invoices), encoding="utf-8")
    rows = [gen.BankRow(today, f"Betaling faktura {i.invoice_number}", i.amount_minor, ACCOUNT, "73584051024")
            for i in invoices]
    (folder / BANK_FILE).write_text("\n".join([gen.SB1_HEADER, *map(gen.sb1_line, rows)]) + "\n", encoding="utf-8")
    return invoices


def _settlements(base: str) -> dict[str, dict[str, Any]]:
    """Amili's settlements of the organisation, by uniqueSourcePaymentId, through the public API."""
    token = httpx.post(f"{base}/auth/token", data={"grant_type": "client_credentials", "client_id": "sandbox",
                                                   "client_secret": "sandbox"}).json()["access_token"]
    body = httpx.get(f"{base}/collection/v1/orgs/{ORG}/settlements", headers={"Authorization": f"Bearer {token}"}).json()
    return {s["uniqueSourcePaymentId"]: s for s in body["data"]}


def _cli_reconcile(tmp: Path, base: str, period: str) -> subprocess.CompletedProcess[str]:
    """`amili-etl reconcile --period` in its own process, the creditor's Collection API at the sandbox."""
    text = CONFIG.replace('"state.duckdb"', f'"{tmp / "state.duckdb"}"').replace(
        "https://api.amili.no/collection/v1", f"{base}/collection/v1").replace("https://auth.amili.no/token", f"{base}/auth/token")
    (tmp / "cli.toml").write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMILI_")}
    env.update(AMILI_NO_CLIENT_ID="sandbox", AMILI_NO_CLIENT_SECRET="sandbox")
    return subprocess.run([sys.executable, "-m", "etl", "reconcile", "--config", str(tmp / "cli.toml"), "--period", period,
                           "--out", str(tmp / "month")], capture_output=True, text=True, env=env, timeout=300)


def _seed(base: str, body: dict[str, Any]) -> None:
    httpx.post(f"{base}/_sandbox/seed", json=body).raise_for_status()


def test_collection_settlements_reconciled_at_month_end(tmp_path: Path) -> None:
    from etl.pipeline import RunRequest, run_pipeline
    from etl.sandbox import EmbeddedSandbox, SandboxConfig

    now = dt.datetime.now(dt.timezone.utc)
    period = now.strftime("%Y-%m")
    start, end, _ = period_bounds(period)
    invoices = _inputs(tmp_path / "in", now.date())
    (tmp_path / "amili-etl.toml").write_text(CONFIG, encoding="utf-8")
    config = load_config(tmp_path / "amili-etl.toml", env={}, default_mapping_dirs=(bundled_dir("mappings"),))
    with EmbeddedSandbox(SandboxConfig()) as sb:
        cfg = with_sandbox(config, sb.base_url)
        _seed(sb.base_url, {"collection_invoices": [
            {"organizationId": ORG, "invoiceId": f"ci-{i.invoice_number}", "invoiceNumber": i.invoice_number,
             "amount": f"{i.amount_minor / 100:.2f}", "currency": "NOK"} for i in invoices]})
        run = run_pipeline(RunRequest(config=cfg, inputs=(tmp_path / "in",), out_dir=tmp_path / "out", run_id="r1",
                                      clock=lambda: dt.datetime.now(dt.timezone.utc)))
        assert run.summary["sent"]["collection.payments"] == 3, run.summary

        with open_store(cfg.state_path) as store:
            sent = store.frame("SELECT key, invoice_number, amount_minor, source_file, source_line, state FROM outbox "
                               "WHERE api = 'collection.payments' ORDER BY source_line").to_dicts()
        assert [(s["invoice_number"], s["source_line"], s["state"]) for s in sent] == [
            ("400001", 2, "confirmed"), ("400002", 3, "confirmed"), ("400003", 4, "confirmed")]
        right, short, lost = sent
        settled = _settlements(sb.base_url)
        assert set(settled) == {s["key"] for s in sent}  # the sandbox settled every payment
        today = now.date().isoformat()
        _seed(sb.base_url, {"collection_settlements": [
            {"organizationId": ORG, "settlementId": settled[short["key"]]["settlementId"],
             "amount": f"{(short['amount_minor'] - 5_000) / 100:.2f}"},
            {"organizationId": ORG, "settlementId": settled[lost["key"]]["settlementId"], "remove": True},
            {"organizationId": ORG, "settlementId": "S-STRANGER", "settlementDate": today, "amount": "123.45",
             "currency": "NOK", "uniqueSourcePaymentId": "NOT-OURS-1", "invoiceNumber": "400009", "batchId": "B-BY-HAND"},
            {"organizationId": ORG, "settlementId": "S-DIRECT", "settlementDate": today, "amount": "77.00",
             "currency": "NOK", "invoiceNumber": "400001"},
        ]})

        with open_store(cfg.state_path) as store:
            # Read today: the payments are within the settlement lag, so none is judged missing yet.
            early = reconcile_period(store, cfg, period, read_back, today=now.date())
            # Read once the lag after the period's last day has passed: everything is judged.
            month = reconcile_period(store, cfg, period, read_back, today=settlement_window(start, end)[1])
            summary = period_summary(store, month)
            # The next month: the lost payment is still not settled and stays open; then a late settlement comes.
            following = end.strftime("%Y-%m")
            next_read = settlement_window(*period_bounds(following)[:2])[1]
            still = reconcile_period(store, cfg, following, read_back, today=next_read)
            _seed(sb.base_url, {"collection_settlements": [
                {"organizationId": ORG, "settlementId": "S-LATE", "settlementDate": (end + dt.timedelta(days=3)).isoformat(),
                 "amount": f"{lost['amount_minor'] / 100:.2f}", "currency": "NOK", "uniqueSourcePaymentId": lost["key"]}]})
            settled_late = reconcile_period(store, cfg, following, read_back, today=next_read)
        # The command, in its own process, run today: nothing is judged missing yet, so the month is incomplete (exit
        # 3, never clean) and it says when to rerun.
        cli = _cli_reconcile(tmp_path, sb.base_url, period)
    assert cli.returncode == 3 and "Traceback" not in cli.stderr, cli.stdout + cli.stderr
    assert (f"Collection: 3 payment(s) within the settlement lag, not judged yet: rerun on or after "
            f"{settlement_window(start, end)[1]}") in cli.stdout
    cli_summary = json.loads((tmp_path / "month" / f"period-{period}" / "summary.json").read_text(encoding="utf-8"))
    assert cli_summary["totals"]["collection_settlements"]["payments_not_yet_due"] == 3
    # Today is in the month itself: it has not ended either.
    assert cli_summary["status"] == "incomplete"
    assert set(cli_summary["totals"]["incomplete_because"]) == {"period_open", "settlement_lag"}
    assert "missing_in_amili" not in cli_summary["counts"]

    assert "missing_in_amili" not in set(early.breaks.get_column("category").to_list())
    assert early.settlements == {"settlements": 4, "settlements_direct": 1, "payments_judged": 0,
                                 "payments_not_yet_due": 3}

    planted = {("missing_in_amili", lost["key"]), ("settled_amount_mismatch", short["key"]),
               ("unknown_in_amili", "NOT-OURS-1")}
    open_ = month.breaks.filter(pl.col("status") != "resolved")
    found = {(r["category"], r["stable_key"]) for r in open_.to_dicts()}
    assert found == planted, (sorted(found - planted), sorted(planted - found))  # precision and recall: 100 %
    assert open_.height == len(planted)
    assert right["key"] not in {k for _, k in found}
    assert month.settlements == {"settlements": 4, "settlements_direct": 1, "payments_judged": 3,
                                 "payments_not_yet_due": 0}
    assert summary["totals"]["collection_settlements"] == month.settlements
    assert summary["counts"] == {"settled_amount_mismatch": 1, "missing_in_amili": 1, "unknown_in_amili": 1}

    rows = {r["category"]: r for r in open_.to_dicts()}
    batch = settled[right["key"]]["batchId"]  # one Collection batch carried the three payments
    missing, mismatch, unknown = rows["missing_in_amili"], rows["settled_amount_mismatch"], rows["unknown_in_amili"]
    assert (missing["source_file"], missing["source_line"], missing["amount_minor"]) == (
        lost["source_file"], 4, lost["amount_minor"])
    assert Path(missing["source_file"]).name == BANK_FILE and f"in batch {batch}" in missing["detail"]
    assert (mismatch["source_line"], mismatch["amount_minor"], mismatch["expected_minor"]) == (
        3, short["amount_minor"] - 5_000, short["amount_minor"])
    assert settled[short["key"]]["settlementId"] in mismatch["detail"] and batch in mismatch["detail"]
    assert (unknown["amount_minor"], unknown["invoice_number"], unknown["api"]) == (12_345, "400009", "collection.settlements")
    assert "S-STRANGER" in unknown["detail"] and "B-BY-HAND" in unknown["detail"]

    def status(result, category: str) -> list[tuple[str, str, str]]:
        return [(r["break_key"], r["status"], r["first_period"]) for r in
                result.breaks.filter(pl.col("category") == category).to_dicts()]

    lost_break = f"collection.payments:{lost['key']}"
    assert status(still, "missing_in_amili") == [(lost_break, "persisting", period)]
    # The stranger's settlement is dated in the month before: out of the next month's window, yet not resolved.
    assert status(still, "unknown_in_amili") == [("collection.settlements:NOT-OURS-1", "persisting", period)]
    assert status(settled_late, "missing_in_amili") == [(lost_break, "resolved", period)]
