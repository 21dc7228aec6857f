"""/openapi.json: every served endpoint described, nothing else, and real answers fit the described schemas."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from starlette.responses import Response
from starlette.routing import Route

from etl.sandbox import SandboxConfig, create_app
from etl.sandbox.openapi import openapi_document

from .support import (
    ADA_EXAMPLE,
    ADA_EXAMPLE_SEED,
    ARM_EXAMPLE_SEED,
    BATCH_DELAY_S,
    CLOCK,
    ORG,
    ada_token,
    bearer_token,
    schema_problems,
    seed,
)


def test_document_is_valid_openapi_3_1_json_schema(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.1")
    for schema in openapi["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    for path, ops in openapi["paths"].items():
        for method, op in ops.items():
            assert op["responses"], f"{method} {path}"
            params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert params == {part[1:-1] for part in path.split("/") if part.startswith("{")}, path


def test_every_route_is_described_and_nothing_else() -> None:
    app = create_app(SandboxConfig())
    served = {f"{m} {r.path}" for r in app.routes if isinstance(r, Route) for m in (r.methods or ()) if m != "HEAD"}
    described = {f"{m.upper()} {p}" for p, ops in openapi_document(app.routes)["paths"].items() for m in ops}
    assert served == described

    async def extra(request: object) -> Response:
        return Response()

    with pytest.raises(ValueError, match="GET /extra is served but not described"):
        openapi_document([*app.routes, Route("/extra", extra)])
    with pytest.raises(ValueError, match="described but not served"):
        openapi_document([r for r in app.routes if getattr(r, "path", "") != "/_sandbox/health"])


def test_every_described_operation_reaches_its_route(client: httpx.Client, openapi: dict[str, Any]) -> None:
    # Fill path parameters with anything; the request statistics say which route template answered.
    values = {"clientno": "2218", "batchuuid": "x", "autopostingmethod": "payment", "orgId": ORG, "batchId": "x", "settlementId": "x", "id": "x"}
    expected = set()
    for template, ops in openapi["paths"].items():
        if template == "/_sandbox/reset":
            continue  # it would clear the statistics
        for method in ops:
            client.request(method.upper(), template.format(**values), content=b"{}")
            if not template.startswith("/_sandbox"):
                expected.add(f"{method.upper()} {template}")
    counted = client.get("/_sandbox/stats").json()["requests"]
    assert expected <= set(counted)
    assert not any("405" in statuses for statuses in counted.values())


def test_answers_of_a_whole_session_fit_the_schemas(client: httpx.Client, openapi: dict[str, Any]) -> None:
    problems: list[str] = []

    def check(method: str, template: str, r: httpx.Response) -> dict[str, Any]:
        problems.extend(f"{method} {template} {r.status_code}: {p}" for p in schema_problems(openapi, method, template, r.status_code, r.json()))
        return dict(r.json())

    def call(method: str, template: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return check(method, template, client.request(method, path, **kwargs))

    check("POST", "/auth/token", client.post("/auth/token", data={"grant_type": "client_credentials", "client_id": "sandbox", "client_secret": "x"}))
    client.headers["Authorization"] = f"Bearer {bearer_token(client)}"
    client.headers["X-API-Key"] = ada_token(client)
    check("POST", "/ada/authenticates/api-code", client.post("/ada/authenticates/api-code", json={"api_code": "nope"}))
    seed(client, arm_documents=[ARM_EXAMPLE_SEED], ada_cases=[ADA_EXAMPLE_SEED],
         collection_invoices=[{"organizationId": ORG, "invoiceId": "i1", "invoiceNumber": "1", "amount": 100, "currency": "NOK"}])
    arm = "/arm/clients/{clientno}"
    doc = {"documentType": "IN", "customerNo": "C9", "documentNo": "D9", "documentDate": "2025-01-01", "dueDate": "2025-02-01",
           "currency": "NOK", "currencyAmounts": {"inclVat": 10}}
    call("POST", f"{arm}/documents", "/arm/clients/2218/documents", json={"document": doc})
    call("POST", f"{arm}/documents", "/arm/clients/2218/documents", json={"document": doc})  # 200 EXISTS
    call("POST", f"{arm}/documents", "/arm/clients/2218/documents", json={"document": {**doc, "dueDate": "2025-03-01"}})  # 409
    call("POST", f"{arm}/documents", "/arm/clients/2218/documents", json={"document": {}})  # 422
    batch = call("POST", f"{arm}/documents/batches", "/arm/clients/2218/documents/batches", json={"documents": [{**doc, "documentNo": "D10"}, {}]})
    call("GET", f"{arm}/batches/{{batchuuid}}", f"/arm/clients/2218/batches/{batch['batchUuid']}")  # 202
    for name in ("documents", "aritems", "customers"):
        call("GET", f"{arm}/{name}", f"/arm/clients/2218/{name}")
    pr = {"documentNo": "D9", "paymentId": "P1", "currency": "NOK", "currencyAmountPaid": 5}
    call("POST", f"{arm}/paymentreservations", "/arm/clients/2218/paymentreservations", json={"paymentreservation": pr})
    call("POST", f"{arm}/paymentreservations", "/arm/clients/2218/paymentreservations", json={"paymentreservation": {**pr, "currencyAmountPaid": 6}})
    posting = {"arItemId": "2218-500002-35078-0", "currency": "NOK", "currencyAmount": 10}
    ap = f"{arm}/autopostings/{{autopostingmethod}}"
    call("POST", ap, "/arm/clients/2218/autopostings/payment", json={"postings": [posting, {**posting, "arItemId": "nope"}]})  # 400
    call("POST", ap, "/arm/clients/2218/autopostings/payment", json={"postings": [{**posting, "validateOnly": True}]})
    call("POST", ap, "/arm/clients/2218/autopostings/payment", json={"postings": [posting]})
    call("POST", ap, "/arm/clients/2218/autopostings/nomethod", json={"postings": [posting]})  # 404
    col = "/collection/v1"
    pay = {"invoiceId": "i1", "uniqueSourcePaymentId": "S1", "amount": 10, "currency": "NOK", "date": "2025-01-01"}
    accepted = call("POST", f"{col}/orgs/{{orgId}}/payments", f"{col}/orgs/{ORG}/payments",
                    json={"organizationId": ORG, "payments": [pay, {**pay, "uniqueSourcePaymentId": "S2", "invoiceId": "nope"}]},
                    headers={"Idempotency-Key": "k1"})
    call("POST", f"{col}/orgs/{{orgId}}/payments", f"{col}/orgs/{ORG}/payments", json={"organizationId": ORG, "payments": []})  # 422
    batch_id = accepted["data"]["batchId"]
    call("GET", f"{col}/orgs/{{orgId}}/batches/{{batchId}}", f"{col}/orgs/{ORG}/batches/{batch_id}")  # QUEUED
    CLOCK.advance(BATCH_DELAY_S + 0.05)
    call("GET", f"{arm}/batches/{{batchuuid}}", f"/arm/clients/2218/batches/{batch['batchUuid']}")  # 206
    call("GET", f"{col}/orgs/{{orgId}}/batches/{{batchId}}", f"{col}/orgs/{ORG}/batches/{batch_id}")  # PARTIAL
    call("GET", f"{col}/batches/{{batchId}}", f"{col}/batches/{batch_id}")
    call("GET", f"{col}/orgs/{{orgId}}/batches", f"{col}/orgs/{ORG}/batches", params={"IdempotencyKey": "k1"})
    settlements = call("GET", f"{col}/orgs/{{orgId}}/settlements", f"{col}/orgs/{ORG}/settlements")
    assert len(settlements["data"]) == 1
    call("GET", f"{col}/orgs/{{orgId}}/settlements/{{settlementId}}", f"{col}/orgs/{ORG}/settlements/{settlements['data'][0]['settlementId']}")
    call("GET", f"{col}/orgs/{{orgId}}/settlements", f"{col}/orgs/{ORG}/settlements", params={"fromDate": "x"})  # 400
    created = call("POST", "/ada/creditor--payments", "/ada/creditor--payments", json=ADA_EXAMPLE)
    call("POST", "/ada/creditor--payments", "/ada/creditor--payments", json=ADA_EXAMPLE)  # 422 not unique
    bulk = [{**ADA_EXAMPLE, "creditor_payment_reference": f"B{i}", "amount": 1} for i in range(2)]
    call("POST", "/ada/creditor--payments", "/ada/creditor--payments", json=bulk)  # 201 bulk
    call("POST", "/ada/creditor--payments", "/ada/creditor--payments", json=bulk)  # 422 bulk, with _items
    call("POST", "/ada/creditor--payments", "/ada/creditor--payments", json=[])  # 400
    call("GET", "/ada/creditor--payments", "/ada/creditor--payments")
    call("GET", "/ada/creditor--payments/{id}", f"/ada/creditor--payments/{created['_id']}")
    call("GET", "/ada/creditor--payments/{id}", "/ada/creditor--payments/nope")  # 404
    call("GET", "/ada/finance--payout-specifications", "/ada/finance--payout-specifications")
    call("GET", "/_sandbox/ledger", "/_sandbox/ledger")
    call("POST", "/_sandbox/seed", "/_sandbox/seed", json={"nope": []})  # 400
    client.headers.pop("Authorization")
    call("GET", f"{arm}/documents", "/arm/clients/2218/documents")  # 401
    call("GET", f"{col}/orgs/{{orgId}}/batches", f"{col}/orgs/{ORG}/batches")  # 401
    client.headers.pop("X-API-Key")
    call("GET", "/ada/creditor--payments", "/ada/creditor--payments")  # 401
    assert problems == []
