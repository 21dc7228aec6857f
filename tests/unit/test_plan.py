"""The planner's payloads: canonical JSON per API, stable keys, hashes, routes (Collection, autopostings)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import polars as pl

from tests.e2e import delivery_support as ds


def _planned(tmp_path: Path, apis=("arm", "collection", "ada", "autopostings")) -> pl.DataFrame:
    config = ds.load(ds.write_config(tmp_path, "http://127.0.0.1:9", apis=apis))
    inv, pays = ds.frames(2)
    inv = inv.with_columns(pl.Series("kid", ["1234567890", None]))
    pays = pays.with_columns(pl.when(pl.col("payment_key") == "R-1").then(pl.lit("")).otherwise(pl.col("message")).alias("message"))
    return ds.plan_items(config, inv, pays)


def test_every_payload_is_canonical_json_and_hashed(tmp_path: Path) -> None:
    planned = _planned(tmp_path)
    for payload, digest in planned.select("payload", "payload_hash").iter_rows():
        assert orjson.dumps(orjson.loads(payload), option=orjson.OPT_SORT_KEYS).decode() == payload
        assert hashlib.sha256(payload.encode()).hexdigest() == digest
    assert planned.group_by("api").len().sort("api").rows() == [
        ("ada.creditor-payments", 2), ("arm.autopostings", 2), ("arm.documents", 2),
        ("arm.paymentreservations", 2), ("collection.payments", 2)]
    again = _planned(tmp_path)
    assert again.get_column("payload_hash").to_list() == planned.get_column("payload_hash").to_list()


def test_payloads_per_api(tmp_path: Path) -> None:
    by_key = {k: orjson.loads(p) for k, p in _planned(tmp_path).select("key", "payload").iter_rows()}
    doc0, doc1 = by_key[f"{ds.ARM_CLIENT}:N0"], by_key[f"{ds.ARM_CLIENT}:N1"]
    assert doc0["kid"] == "1234567890" and "kid" not in doc1  # optional fields are left out, never null
    assert doc0["currencyAmounts"] == {"exclVat": 1000.0, "vat": 0.0, "inclVat": 1000.0}
    assert doc0["documentType"] == "IN" and doc0["dueDate"] == "2026-12-04"
    assert by_key["R-0"] == {"currency": "NOK", "currencyAmountPaid": 100.0, "documentNo": "N0",
                             "paidTime": "2026-11-20T00:00:00Z", "paymentId": "R-0", "transactionText": "betaling"}
    assert "transactionText" not in by_key["R-1"]
    assert by_key["P-1"] == {"amount": 100.01, "currency": "NOK", "date": "2026-11-20T00:00:00Z",
                             "description": "betaling", "invoiceNumber": "C1", "type": 0,
                             "uniqueSourcePaymentId": "P-1"}
    assert by_key["D-0"] == {"amount": 100.0, "bank_transaction_date": "Fri, 20 Nov 2026 00:00:00 GMT",
                             "creditor": ds.ADA_CREDITOR, "creditor_payment_reference": "D-0", "currency": "SEK",
                             "invoice_number": "S1", "origin": "creditor_system"}
    assert by_key["T-0"] == {"currency": "NOK", "currencyAmount": 100.0, "documentNo": "A0",
                             "voucherDate": "2026-11-20", "voucherNo": "T-0"}


def test_a_target_column_from_routing_wins_over_the_creditor_default(tmp_path: Path) -> None:
    config = ds.load(ds.write_config(tmp_path, "http://127.0.0.1:9", apis=("arm",)))
    _, pays = ds.frames(2)
    pays = pays.filter(pl.col("creditor") == "arm-no").with_columns(
        pl.Series("target", ["arm.paymentreservations", None]))
    planned = ds.plan_items(config, pl.DataFrame(), pays)
    assert planned.select("api", "key").rows() == [("arm.paymentreservations", "R-0")]


def test_a_multi_invoice_payment_is_one_payload_per_invoice_on_every_api(tmp_path: Path) -> None:
    """ARM reservations and autopostings, Collection and ADA alike: each invoice its part of the amount, its own key."""
    config = ds.load(ds.write_config(tmp_path, "http://127.0.0.1:9", apis=("arm", "collection", "ada", "autopostings")))
    _, pays = ds.frames(1)
    alloc = [{"invoice_number": "X1", "amount_minor": 6_000}, {"invoice_number": "X2", "amount_minor": 4_000}]
    pays = pays.with_columns(pl.lit("multi_invoice").alias("rule"), pl.lit(10_000, pl.Int64).alias("amount_minor"),
                             pl.lit(alloc).alias("_multi"), pl.lit(["7050114", None]).alias("_split_refs"))
    planned = ds.plan_items(config, pl.DataFrame(), pays)
    assert planned.height == 2 * pays.height
    for key, amount, invoice, payload in planned.select("key", "amount_minor", "invoice_number", "payload").iter_rows():
        base, part = key.split(":")
        assert (part, amount, invoice) in (("7050114", 6_000, "X1"), ("X2", 4_000, "X2"))  # no payer's ref: the number
        body = orjson.loads(payload)
        assert key in body.values() and invoice in body.values()  # the part's key and invoice go out in the payload
    assert planned.group_by("api").agg(pl.col("amount_minor").sum()).get_column("amount_minor").to_list() == [10_000] * 4
