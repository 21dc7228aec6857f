"""A strict money API: an amount with more than two decimals is refused with 422 in each family's own shape."""

from __future__ import annotations

import httpx

from .support import (
    ADA_EXAMPLE_SEED,
    ARM_EXAMPLE_SEED,
    COLLECTION_EXAMPLE,
    DOCUMENT_EXAMPLE,
    ORG,
    RESERVATION_EXAMPLE,
    fresh,
    seed,
)
from .test_ada import PAYMENTS as ADA_PAYMENTS
from .test_ada import example as ada_example

NOISY = 8855.710000000001  # 885571 / 100 as a float: what the client's float arithmetic leaks


def _arm_refusal(r: httpx.Response, field: str) -> None:
    body = r.json()
    assert r.status_code == 422, body
    assert body["status"] == "ERROR" and body["result"] == "REJECTED" and "at most two decimals" in body["message"] and field in body["message"], body


def test_arm_document_amounts(arm: httpx.Client) -> None:
    for where in ("exclVat", "vat", "inclVat"):
        doc = fresh(DOCUMENT_EXAMPLE)
        doc["document"]["currencyAmounts"][where] = NOISY
        _arm_refusal(arm.post("/arm/clients/2218/documents", json=doc), f"currencyAmounts.{where}")
    doc = fresh(DOCUMENT_EXAMPLE)
    doc["document"]["documentLines"] = [{"lineNo": 1, "currencyAmounts": {"exclVat": 1, "vat": 0.001, "inclVat": 1}}]
    _arm_refusal(arm.post("/arm/clients/2218/documents", json=doc), "documentLines[0].currencyAmounts.vat")
    doc = fresh(DOCUMENT_EXAMPLE)
    doc["document"]["currencyAmounts"] = {"exclVat": 7084.56, "vat": 1771.15, "inclVat": 8855.71}
    assert arm.post("/arm/clients/2218/documents", json=doc).status_code in (200, 201)


def test_arm_reservation_amount(arm: httpx.Client) -> None:
    seed(arm, arm_documents=[ARM_EXAMPLE_SEED])
    body = fresh(RESERVATION_EXAMPLE)
    body["paymentreservation"]["currencyAmountPaid"] = 0.1 + 0.2
    _arm_refusal(arm.post("/arm/clients/2218/paymentreservations", json=body), "currencyAmountPaid")
    body["paymentreservation"]["currencyAmountPaid"] = 0.3
    assert arm.post("/arm/clients/2218/paymentreservations", json=body).status_code == 200


def test_collection_payment_amount(arm: httpx.Client) -> None:
    body = fresh(COLLECTION_EXAMPLE)
    body["payments"][0]["amount"] = 641.5500000000001
    r = arm.post(f"/collection/v1/orgs/{ORG}/payments", json=body)
    assert r.status_code == 422, r.text
    answer = r.json()
    assert answer["summary"]["status"] == "FAILED"
    assert {"field": "payments[0].amount", "message": "amount is required and must be a number with at most two decimals"} in answer["errors"]


def test_ada_payment_amount(ada: httpx.Client) -> None:
    seed(ada, ada_cases=[ADA_EXAMPLE_SEED])
    r = ada.post(ADA_PAYMENTS, json=ada_example(amount=9099.800000000001))
    assert r.status_code == 422, r.text
    answer = r.json()
    assert answer["_status"] == "ERR" and answer["_error"]["code"] == 422
    assert "two decimals" in answer["_issues"]["amount"]
    assert ada.post(ADA_PAYMENTS, json=ada_example(amount=9099.8)).status_code == 201
