"""`amili-etl demo` end to end in a real process: planted problems found, a second demo sends nothing."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx

from tests.conftest import SAMPLE


def _demo(out: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMILI_")}
    proc = subprocess.run([sys.executable, "-m", "etl", "demo", "--out", str(out)], capture_output=True, text=True,
                          env=env, timeout=300)
    runs = sorted(p for p in out.iterdir() if p.is_dir() and p.name != "demo-state")
    return proc, runs[-1]


def _ledger(out: Path) -> list[dict]:
    from etl.sandbox import EmbeddedSandbox, SandboxConfig

    with EmbeddedSandbox(SandboxConfig(state_file=out / "demo-state" / "sandbox-state.json")) as sb:
        return httpx.get(f"{sb.base_url}/_sandbox/ledger").json()["items"]


def test_demo_finds_the_planted_problems_and_a_second_demo_sends_nothing(tmp_path: Path) -> None:
    proc, run_dir = _demo(tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(run_dir / "discrepancies.xlsx") in proc.stdout
    for name in ("discrepancies.xlsx", "discrepancies.csv", "summary.json"):
        assert (run_dir / name).is_file()
    assert (run_dir / "rejects" / "invoices_nordlys_2026-11-20.xlsx.rejects.csv").is_file()

    with (run_dir / "discrepancies.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0].keys()) == ["category", "severity", "source_file", "source_line", "reference",
                                    "invoice_number", "amount", "currency", "expected_amount", "api",
                                    "api_status", "detail", "difference", "break_key", "action", "action_invoice",
                                    "action_note"]
    found = sorted((r["category"], r["source_file"], int(r["source_line"])) for r in rows)
    planted = json.loads((SAMPLE / "planted.json").read_text(encoding="utf-8"))
    expected = sorted((p["category"], p["source_file"], p["source_line"]) for p in planted)
    assert found == expected  # each planted problem under the right category, and no other rows
    by_cat = {r["category"]: r for r in rows}
    for p in planted:
        # Every row carries its identity, the invalid row too (what could be read of it).
        assert (by_cat[p["category"]]["amount"], by_cat[p["category"]]["reference"] or None,
                by_cat[p["category"]]["invoice_number"] or None) == (p["amount"], p["reference"], p["invoice_number"])
        if p["category"] in ("overpayment", "underpayment"):
            assert by_cat[p["category"]]["expected_amount"] == p["expected_amount"]
            assert Decimal(by_cat[p["category"]]["difference"]) == Decimal(p["amount"]) - Decimal(p["expected_amount"])
        else:
            assert by_cat[p["category"]]["difference"] == p["amount"]

    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "discrepancies"
    # Totals that tie, per currency: every krone received is delivered, unmatched, held back or rejected.
    tie = summary["totals"]["tie"]
    assert set(tie) == {"NOK", "SEK"} and all(t["unexplained"] == "0.00" for t in tie.values())
    planted_sum = lambda cat: str(sum((Decimal(p["amount"]) for p in planted if p["category"] == cat), Decimal("0.00")))  # noqa: E731
    assert tie["NOK"]["unmatched"] == planted_sum("unmatched_payment")
    assert tie["NOK"]["held_back"] == planted_sum("duplicate_payment")
    assert tie["SEK"]["delivered"] == tie["SEK"]["bank_total"]  # the underpayment and the bad check digit went too
    assert {t["rejected"] for t in tie.values()} == {"0.00"}  # the one invalid row is an invoice, no bank money
    assert summary["counts"] == {p["category"]: 1 for p in planted}
    assert set(summary["sent"]) == {"arm.documents", "arm.paymentreservations", "arm.autopostings",
                                    "collection.payments", "ada.creditor-payments"}
    assert summary["sent"]["arm.documents"] == 23  # 24 invoices, one rejected for its date
    assert summary["sent"]["arm.paymentreservations"] == 14  # 11 KID + 3 text payments; unknown KID and duplicate not sent
    # 10 camt.054 payments of one invoice each, and one paying two invoices: one creditor payment per invoice.
    assert summary["sent"]["ada.creditor-payments"] == 12
    tie = summary["totals"]["tie"]["SEK"]  # the two parts are the one payment's delivery: every krona in one place
    assert tie["delivered"] == tie["bank_total"] and tie["unexplained"] == "0.00"

    ledger = _ledger(tmp_path)
    assert all(item["accepted"] == 1 and item["duplicates_refused"] == 0 for item in ledger)
    assert len(ledger) == 23 + 14 + 12
    split = sorted((i["key"].split(":")[1], i["amount"]) for i in ledger if ":" in i["key"] and i["api"] == "ada.creditor-payments")
    seed = {c["invoice_number"]: c["amount"] for c in json.loads((SAMPLE / "sandbox_seed.json").read_text())["ada_cases"]}
    assert [ref[:-1] for ref, _ in split] == ["705013", "705014"]  # the key ends in each invoice's OCR reference
    assert [amount for _, amount in split] == [seed["705013"], seed["705014"]]

    proc2, run_dir2 = _demo(tmp_path)
    assert run_dir2 != run_dir
    assert proc2.returncode == 1, proc2.stdout + proc2.stderr
    summary2 = json.loads((run_dir2 / "summary.json").read_text(encoding="utf-8"))
    assert set(summary2["sent"].values()) == {0}
    # The terminal says so, rather than an empty endpoint table.
    assert "nothing to send" in proc2.stdout and "endpoint" not in proc2.stdout
    assert "endpoint" in proc.stdout and "nothing to send" not in proc.stdout
    assert summary2["counts"] == summary["counts"]
    assert _ledger(tmp_path) == ledger
