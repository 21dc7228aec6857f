"""Two nights against a sandbox. The next morning's bank file pays an invoice again, naming its number and its
customer (nothing open: an overpayment, not sent, not posted), pays another by its KID in a DNB-style text without the
word KID (delivered), carries a random "ref" number equal to a third invoice's number (unmatched, not sent), and the
first invoice's KID in a bare text (not an open invoice's KID: unmatched)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx
import polars as pl

from etl.match.stage import open_invoices
from etl.store import open_store
from tests.conftest import SAMPLE, write_sample_config
from tests.e2e.test_run import _latest_run, _run

HEADER = "Dato;Beskrivelse;Rentedato;Inn;Ut;Til konto;Fra konto;"


def _line(text: str, amount_minor: int) -> str:
    whole, cents = divmod(amount_minor, 100)
    return f'"21.11.2026";"{text}";;"{whole},{cents:02d}";;"15062995960";"73584051024";'


def test_next_nights_text_kids_and_random_refs(tmp_path: Path, sandbox) -> None:
    config = write_sample_config(tmp_path, sandbox.base_url)
    first = _run(config, "--invoices", str(SAMPLE / "no"))
    assert first.returncode == 1, first.stdout + first.stderr
    with open_store(tmp_path / "state.duckdb") as store:
        rows = open_invoices(store, "next").with_columns(pl.col("outstanding_minor").cast(pl.Int64)).to_dicts()
    paid = next(r for r in rows if r["outstanding_minor"] == 0 and r["kid"])
    unpaid = [r for r in rows if r["outstanding_minor"] == r["amount_minor"] and r["outstanding_minor"] > 0 and r["kid"]]
    open_kid, other = unpaid[0], unpaid[1]
    ledger_before = httpx.get(f"{sandbox.base_url}/_sandbox/ledger").json()["items"]

    night2 = tmp_path / "night2"
    night2.mkdir()
    (night2 / "sparebank1_2026-11-21.csv").write_text("\n".join([
        HEADER,
        _line(f"Faktura {paid['invoice_number']} {paid['customer_name']}", paid["amount_minor"]),  # nothing open
        _line(f"Betaling {open_kid['kid']} faktura", open_kid["outstanding_minor"]),  # KID without the word
        _line(f"Overføring ref {other['invoice_number']}", 12_345),               # a random number, 123.45
        _line(f"Betaling {paid['kid']} faktura", 10_000),                         # a paid invoice's KID, bare
    ]) + "\n", encoding="utf-8")
    second = _run(config, "--bank", str(night2))
    assert second.returncode == 1, second.stdout + second.stderr

    run_dir = _latest_run(tmp_path)
    with (run_dir / "discrepancies.csv").open(encoding="utf-8") as fh:
        found = {(r["category"], r["source_line"]): r for r in csv.DictReader(fh)}
    assert set(found) == {("overpayment", "2"), ("unmatched_payment", "4"), ("unmatched_payment", "5")}
    assert found[("overpayment", "2")]["invoice_number"] == paid["invoice_number"]
    assert "not sent: nothing open on the invoice" in found[("overpayment", "2")]["detail"]

    new = httpx.get(f"{sandbox.base_url}/_sandbox/ledger").json()["items"][len(ledger_before):]
    # Only the KID found in the text was delivered, to its own invoice.
    assert [(i["api"], i["amount"]) for i in new] == [
        ("arm.paymentreservations", f"{open_kid['amount_minor'] // 100}.{open_kid['amount_minor'] % 100:02d}")]
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["sent"]["arm.paymentreservations"] == 1

    with open_store(tmp_path / "state.duckdb") as store:
        matched = store.frame("SELECT source_line, rule, fields, target, route_reason FROM matches JOIN payments "
                              "USING (run_id, payment_no) WHERE run_id = ? ORDER BY source_line",
                              [run_dir.name]).to_dicts()
        after = {r["invoice_number"]: int(r["outstanding_minor"]) for r in open_invoices(store, "later").to_dicts()}
    assert [(m["rule"], m["fields"]) for m in matched] == [
        ("invoice_number", "message~invoice_number, message~customer_name"), ("reference", "message~kid"),
        ("none", None), ("none", None)]
    assert matched[0]["target"] is None and matched[0]["route_reason"].startswith("not sent: nothing open on invoice")
    # The overpayment is not posted on the paid invoice: it stays at 0.00 open, never below.
    assert after[paid["invoice_number"]] == 0
    assert after[open_kid["invoice_number"]] == 0
    assert after[other["invoice_number"]] == other["outstanding_minor"]
