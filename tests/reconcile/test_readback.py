"""read_back over real HTTP against an embedded sandbox: Collection settlements of the window, every page; ADA
creditor payments of earlier months kept (an item confirmed then must still be there)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import polars as pl

from etl.config import load_config, with_sandbox
from etl.reconcile.readback import read_back, readback_scope, settlement_window
from tests.conftest import sample_config_text
from tests.reconcile.support import COLLECTION_CREDITOR, COLLECTION_ORG

ORG = COLLECTION_ORG
ENV = {"AMILI_NO_CLIENT_ID": "sandbox", "AMILI_NO_CLIENT_SECRET": "sandbox", "AMILI_SE_ADA_API_CODE": "sandbox"}
START, END = dt.date(2026, 11, 1), dt.date(2026, 12, 1)


def _config(tmp: Path, base_url: str):
    path = tmp / "amili-etl.toml"
    path.write_text(sample_config_text(base_url).replace('"../state/amili-etl.duckdb"', f'"{tmp / "s.duckdb"}"')
                    + COLLECTION_CREDITOR, encoding="utf-8")
    return with_sandbox(load_config(path, env=ENV), base_url)


def test_settlements_of_the_window_every_page_and_old_ada_payments(tmp_path: Path, sandbox) -> None:
    config = _config(tmp_path, sandbox.base_url)
    first, last = settlement_window(START, END)
    assert (first, last) == (START, dt.date(2026, 12, 7))
    dates = [START + dt.timedelta(days=i % 30) for i in range(230)] + [
        START - dt.timedelta(days=1), last, last + dt.timedelta(days=1)]
    httpx.post(f"{sandbox.base_url}/_sandbox/seed", json={"collection_settlements": [
        {"organizationId": ORG, "settlementId": f"S{i}", "settlementDate": d.isoformat(), "amount": "10.50",
         "currency": "NOK", "uniqueSourcePaymentId": f"K{i}" if i % 10 else None, "batchId": "B1",
         "invoiceNumber": "400001", "caseNumber": "1000001", "customerReference": f"K{i}"}
        for i, d in enumerate(dates)]}).raise_for_status()
    token = httpx.post(f"{sandbox.base_url}/ada/authenticates/api-code", json={"api_code": "sandbox"}).json()["access_token"]
    posted = httpx.post(f"{sandbox.base_url}/ada/creditor--payments", headers={"X-API-Key": token}, json={
        "creditor": "674dbeb208847b9501cc9138", "invoice_number": "705011", "currency": "SEK", "amount": 10,
        "bank_transaction_date": "Fri, 30 Oct 2026 00:00:00 GMT", "origin": "creditor_system",
        "creditor_payment_reference": "OCTOBER-1"})
    assert posted.status_code == 201, posted.text

    frame = read_back(config, START, END)
    got = frame.filter(pl.col("api") == "collection.settlements")
    assert got.height == 231  # 230 in the month, one on the window's last day; one before, one after: not read
    assert sorted(got.get_column("amili_id").to_list()) == sorted([f"S{i}" for i in range(230)] + ["S231"])
    row = got.filter(pl.col("amili_id") == "S1").row(0, named=True)
    assert {k: row[k] for k in ("creditor", "key", "amount_minor", "currency", "booked", "batch_id", "invoice_number",
                                "case_number", "reference")} == {
        "creditor": "fjord-no", "key": "K1", "amount_minor": 1_050, "currency": "NOK", "booked": dt.date(2026, 11, 2),
        "batch_id": "B1", "invoice_number": "400001", "case_number": "1000001", "reference": "K1"}
    assert got.filter(pl.col("key").is_null()).height == 23  # paid to Amili directly: read, with no key of ours
    october = frame.filter(pl.col("key") == "OCTOBER-1").to_dicts()
    assert [(r["api"], r["booked"]) for r in october] == [("ada.creditor-payments", dt.date(2026, 10, 30))]
    assert "collection.settlements|fjord-no" in readback_scope(config)
