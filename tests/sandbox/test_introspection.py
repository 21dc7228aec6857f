"""/_sandbox: ledger, seed, reset and stats."""

from __future__ import annotations

import httpx

from .support import ADA_EXAMPLE, ADA_EXAMPLE_SEED, ARM_EXAMPLE_SEED, ORG, RESERVATION_EXAMPLE, ledger, seed


def test_seed_assigns_ids_as_a_real_create_would(client: httpx.Client) -> None:
    stored = seed(
        client,
        arm_documents=[
            {"clientNo": 2218, "documentNo": "S1", "customerNo": "C1", "kid": "1234567897", "currency": "NOK", "amount": 10},
            {"clientNo": 2218, "documentNo": "S2", "customerNo": "C2", "kid": None, "currency": "NOK", "amount": 20.5},
        ],
        collection_invoices=[{"organizationId": ORG, "invoiceId": "i1", "invoiceNumber": "n1", "amount": 5, "currency": "NOK"}],
        ada_cases=[ADA_EXAMPLE_SEED],
    )
    assert [d["arItemId"] for d in stored["arm_documents"]] == ["2218-500001-35001-0", "2218-500002-35002-0"]
    assert stored["collection_invoices"][0]["caseId"]
    assert stored["ada_cases"][0]["case"] == ADA_EXAMPLE_SEED["case"]
    # Seeding the same items again changes nothing.
    assert seed(client, arm_documents=[{"clientNo": 2218, "documentNo": "S1", "customerNo": "C1", "currency": "NOK", "amount": 10}])[
        "arm_documents"
    ][0]["arItemId"] == "2218-500001-35001-0"
    # Seeded data is not something a client sent: the ledger stays empty.
    assert ledger(client) == {}


def test_bad_seed_is_400(client: httpx.Client) -> None:
    r = client.post("/_sandbox/seed", json={"arm_documents": [{"clientNo": 1}]})
    assert r.status_code == 400
    assert "arm_documents" in r.json()["error"]
    assert client.post("/_sandbox/seed", json={"cases": []}).status_code == 400


def test_reset_forgets_data_but_not_tokens(arm: httpx.Client) -> None:
    seed(arm, arm_documents=[ARM_EXAMPLE_SEED])
    assert arm.post("/arm/clients/2218/paymentreservations", json=RESERVATION_EXAMPLE).status_code == 200
    assert len(ledger(arm)) == 1
    assert arm.post("/_sandbox/reset").json() == {"status": "reset"}
    assert ledger(arm) == {}
    assert arm.get("/_sandbox/stats").json() == {"requests": {}}
    r = arm.post("/arm/clients/2218/paymentreservations", json=RESERVATION_EXAMPLE)
    assert r.status_code == 422  # the document is gone, the token still works


def test_ledger_amounts_are_decimal_strings(arm: httpx.Client) -> None:
    seed(arm, arm_documents=[ARM_EXAMPLE_SEED])
    body = {"metadata": {}, "paymentreservation": {**RESERVATION_EXAMPLE["paymentreservation"], "currencyAmountPaid": 0.3}}
    assert arm.post("/arm/clients/2218/paymentreservations", json=body).status_code == 200
    items = arm.get("/_sandbox/ledger").json()["items"]
    assert items == [
        {
            "api": "arm.paymentreservations",
            "scope": "2218",
            "key": "PM285000350786",
            "amount": "0.30",
            "currency": "NOK",
            "accepted": 1,
            "duplicates_refused": 0,
        }
    ]
    assert arm.get("/_sandbox/ledger", params={"api": "ada.creditor-payments"}).json() == {"items": []}


def test_stats_by_route_template_and_status(arm: httpx.Client) -> None:
    seed(arm, arm_documents=[ARM_EXAMPLE_SEED])
    arm.post("/arm/clients/2218/paymentreservations", json=RESERVATION_EXAMPLE)
    arm.post("/arm/clients/2218/paymentreservations", json=RESERVATION_EXAMPLE)
    arm.post("/arm/clients/2218/paymentreservations", json={"metadata": {}})
    arm.get("/arm/clients/2218/nothing-here")
    stats = arm.get("/_sandbox/stats").json()["requests"]
    assert stats["POST /arm/clients/{clientno}/paymentreservations"] == {"200": 2, "400": 1}
    assert stats["POST /auth/token"] == {"200": 1}
    assert stats["GET (unmatched)"] == {"404": 1}
    assert not any(k.split(" ", 1)[1].startswith("/_sandbox") for k in stats)


def test_health(client: httpx.Client) -> None:
    assert client.get("/_sandbox/health").json() == {"status": "ok", "reading": "lenient"}


def test_seed_amounts_may_be_decimal_strings(ada: httpx.Client) -> None:
    seed(ada, ada_cases=[{**ADA_EXAMPLE_SEED, "amount": "80.50"}])
    r = ada.post("/ada/creditor--payments", json={**ADA_EXAMPLE, "amount": 100})
    assert r.json()["_payment_status"] == "warning"
    assert ada.get(f"/ada/creditor--payments/{r.json()['_id']}").json()["settled_amount"] == 80.5
    bad = ada.post("/_sandbox/seed", json={"ada_cases": [{**ADA_EXAMPLE_SEED, "case": "other", "amount": "12,50"}]})
    assert bad.status_code == 400
