"""Shared test material: Amili's own documented request examples, their seeds, and small HTTP helpers."""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

import httpx
import pytest

from etl.sandbox import EmbeddedSandbox, SandboxConfig
from etl.sandbox.readings import READINGS as _READINGS

# How long a batch stays processing on the shared sandbox, in its clock's seconds (tests advance that clock).
BATCH_DELAY_S = 0.15


class ManualClock:
    """A sandbox clock (SandboxConfig.clock) that stands still until a test advances it.

    Whether a batch is still processing or a token has expired then follows from what the test did, never from
    how long the machine took between two requests.
    """

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


# The shared sandbox's clock (tests/sandbox/conftest.py).
CLOCK = ManualClock()

# --- the request bodies exactly as Amili's documentation pages show them (see the shared amili-docs) ---

# arm-documents.txt, "POST (create) one document", request example.
DOCUMENT_EXAMPLE: dict[str, Any] = {
    "metadata": {"userId": "TestUser"},
    "document": {
        "documentType": "IN",
        "customerNo": "543210",
        "documentNo": "88776655",
        "documentDate": "2025-02-27",
        "dueDate": "2025-03-11",
        "currency": "NOK",
        "language": "en",
        "kid": "500221850000200350786",
        "marketingMessageCode": "0203",
        "customerMessage": "Happy holidays!",
        "salesOrderId": "B-0564311",
        "purchaseOrderId": "",
        "sellerReference": "C333",
        "buyerReference": "A1982",
        "additionalReference": "X99887",
        "subCustomerNo": "654655",
        "ledgerNote": "This is a note for the AR ledger",
        "currencyAmounts": {"exclVat": 5200, "vat": 1300, "inclVat": 6500},
        "distribution": {"type": "M", "einvoiceCode": 0},
        "einvoiceAddress": {"address": "test@armresttest.no", "addressScheme": "", "operator": ""},
        "emailAddress": ["test@armresttest.no"],
        "attachmentFiles": [],
        "attachmentCodes": [],
        "customCodes": [],
        "documentLines": [
            {
                "lineNo": 1,
                "lineType": "PLH",
                "articleNo": "1300",
                "articleName": "Comb",
                "lineText": "Red comb",
                "quantityUnit": "pcs",
                "quantity": 1,
                "volumeUnit": "",
                "volume": 0,
                "price": 200,
                "itemGroup1": "500",
                "itemGroup2": "",
                "itemGroup3": "",
                "currencyAmounts": {"exclVat": 200, "vat": 50, "inclVat": 250},
            },
            {
                "lineNo": 2,
                "lineType": "PLH",
                "articleNo": "1500",
                "articleName": "Pill",
                "lineText": "Purple pill",
                "quantityUnit": "dozen",
                "quantity": 1,
                "volumeUnit": "",
                "volume": 0,
                "price": 5000,
                "itemGroup1": "600",
                "itemGroup2": "",
                "itemGroup3": "",
                "currencyAmounts": {"exclVat": 5000, "vat": 150, "inclVat": 6250},
            },
            {
                "lineNo": 3,
                "lineType": "TXT",
                "articleNo": "",
                "articleName": "",
                "lineText": "This is a text line with no amounts",
                "quantityUnit": "",
                "quantity": 0,
                "volumeUnit": "",
                "volume": 0,
                "price": 0,
                "itemGroup1": "",
                "itemGroup2": "",
                "itemGroup3": "",
                "currencyAmounts": {"exclVat": 0, "vat": 0, "inclVat": 0},
            },
        ],
    },
}

# arm-paymentreservations.txt, request example, and the 200 response the page shows.
RESERVATION_EXAMPLE: dict[str, Any] = {
    "metadata": {"userId": "TestUser"},
    "paymentreservation": {
        "arItemId": "2218-500002-35078-0",
        "paymentId": "PM285000350786",
        "currency": "NOK",
        "currencyAmountPaid": 120.5,
        "transactionText": "Prepaid membership fee",
        "paidTime": "2025-04-27T06:08:37.227Z",
        "unstructuredData": [{"name": "SalesRep", "value": "John Doe"}],
    },
}
RESERVATION_RESPONSE_EXAMPLE: dict[str, Any] = {
    "status": "PROCESSED",
    "result": "VALIDATED",
    "message": "Payment reservation validated",
    "clientNo": 2218,
    "accountNo": 500002,
    "customerNo": "543210",
}

# arm-autopostings.txt, request example and the 200 response.
AUTOPOSTING_EXAMPLE: dict[str, Any] = {
    "metadata": {"userId": "TestUser", "suppressWarnings": False, "validateOnly": False},
    "postings": [
        {
            "arItemId": "2218-500002-35078-0",
            "dueDate": "2025-07-15",
            "currency": "NOK",
            "currencyAmount": 150,
            "voucherDate": "2025-07-16",
        }
    ],
}
AUTOPOSTING_RESPONSE_EXAMPLE: dict[str, Any] = {
    "status": "PROCESSED",
    "result": "CREATED",
    "message": "Posting(s) performed",
    "clientNo": 2218,
    "autoPostings": [{"arItemId": "2218-500002-35078-0", "result": "CREATED", "resultType": "OK", "message": "Posting performed"}],
}

# collection-payments.txt, request example: a schema placeholder ("string", amount 0).
COLLECTION_EXAMPLE: dict[str, Any] = {
    "organizationId": "7bc05553-4b68-44e8-b7bc-37be63c6d9e9",
    "payments": [
        {
            "invoiceId": "string",
            "invoiceNumber": "string",
            "uniqueSourcePaymentId": "string",
            "type": 0,
            "amount": 0,
            "currency": "string",
            "date": "2019-08-24T14:15:22Z",
            "description": "string",
        }
    ],
}

# ada-creditor-payments.txt, request example (note the read-only `account`).
ADA_EXAMPLE: dict[str, Any] = {
    "account": "674dbeaf08847b9501cc9132",
    "creditor": "674dbeb208847b9501cc9138",
    "case": "68678eda88b9226bb78d7169",
    "currency": "SEK",
    "amount": 100.0,
    "bank_transaction_date": "Fri, 04 Jul 2025 16:20:41 GMT",
    "creditor_payment_reference": "PAY-REF-001",
    "origin": "creditor_system",
}

# Seeds that make the examples above refer to things that exist.
ARM_EXAMPLE_SEED = {
    "clientNo": 2218,
    "documentNo": "88776655",
    "customerNo": "543210",
    "kid": "500221850000200350786",
    "currency": "NOK",
    "amount": 6500,
    # Optional seed fields, so the docs' arItemId 2218-500002-35078-0 is the seeded document's.
    "accountNo": 500002,
    "referenceNo": 35078,
}
ADA_EXAMPLE_SEED = {
    "case": "68678eda88b9226bb78d7169",
    "creditor": "674dbeb208847b9501cc9138",
    "invoice_number": "INV-1001",
    "amount": 250.0,
    "currency": "SEK",
}
ORG = COLLECTION_EXAMPLE["organizationId"]


def fresh(example: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of an example, safe to change in a test."""
    return copy.deepcopy(example)


# --- helpers ---------------------------------------------------------------------------------------


def bearer_token(c: httpx.Client) -> str:
    """A Norway access token from the sandbox."""
    r = c.post("/auth/token", data={"grant_type": "client_credentials", "client_id": "sandbox", "client_secret": "sandbox"})
    r.raise_for_status()
    return str(r.json()["access_token"])


def ada_token(c: httpx.Client) -> str:
    """An ADA access token from the sandbox."""
    r = c.post("/ada/authenticates/api-code", json={"api_code": "sandbox"})
    r.raise_for_status()
    return str(r.json()["access_token"])


def ledger(c: httpx.Client, api: str | None = None) -> dict[str, dict[str, Any]]:
    """The sandbox ledger as {key: item}, optionally for one API."""
    items = c.get("/_sandbox/ledger").json()["items"]
    return {i["key"]: i for i in items if api is None or i["api"] == api}


def seed(c: httpx.Client, **sections: Any) -> dict[str, Any]:
    """POST /_sandbox/seed and return what was stored."""
    r = c.post("/_sandbox/seed", json=sections)
    assert r.status_code == 200, r.text
    return dict(r.json())


def arm_login(c: httpx.Client) -> httpx.Client:
    """Log `c` in for ARM and Collection (bearer token header); returns it."""
    c.headers["Authorization"] = f"Bearer {bearer_token(c)}"
    return c


def ada_login(c: httpx.Client) -> httpx.Client:
    """Log `c` in for ADA (X-API-Key header); returns it."""
    c.headers["X-API-Key"] = ada_token(c)
    return c


# --- the sandbox's own OpenAPI document, to check answers against ----------------------------------


def schema_problems(openapi: dict[str, Any], method: str, template: str, status: int, body: Any) -> list[str]:
    """How `body` breaks the schema /openapi.json gives for (method, template, status); [] when it fits."""
    from jsonschema import Draft202012Validator

    responses = openapi["paths"][template][method.lower()]["responses"]
    if str(status) not in responses:
        return [f"status {status} is not documented for {method} {template}: {sorted(responses)}"]
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": openapi["components"]})
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]


# --- readings: the fair ways to read the pages where they are silent (etl/sandbox/readings.py) ------

READINGS: tuple[str, ...] = tuple(_READINGS)


def sandbox_per_reading(*, scope: str = "session", readings: tuple[str, ...] = READINGS, **config: Any) -> Any:
    """A pytest fixture, parametrised over `readings`, that yields an EmbeddedSandbox playing each one.

    Assign it to a name in a test module or conftest (`any_reading = sandbox_per_reading(seed_file=...)`);
    every test that asks for that name runs once per reading. `config` goes to SandboxConfig. To run a
    test under some readings only: `@pytest.mark.parametrize("any_reading", ["no-dedup"], indirect=True)`.
    """

    @pytest.fixture(scope=scope, params=readings, ids=readings)  # type: ignore[call-overload]
    def _sandbox(request: pytest.FixtureRequest) -> Any:
        with EmbeddedSandbox(SandboxConfig(reading=request.param, **config)) as sb:
            yield sb

    return _sandbox
