"""GET /openapi.json: an OpenAPI 3.1 description of every endpoint the sandbox serves, built from its routes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from etl.sandbox.envelopes import JsonResponse

__all__ = ["routes", "openapi_document", "OPERATIONS"]

# --- schemas --------------------------------------------------------------------------------------------

_STR = {"type": "string"}
_INT = {"type": "integer"}
_NUM = {"type": "number"}
_BOOL = {"type": "boolean"}
_DATE = {"type": "string", "format": "date"}
_DT = {"type": "string", "format": "date-time"}
_RFC1123 = {"type": "string", "description": "RFC 1123, e.g. 'Fri, 04 Jul 2025 16:20:41 GMT'"}
_CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$"}
_OBJ = {"type": "object"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict[str, Any], required: Sequence[str] = (), **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = list(required)
    return schema


def _list_of(item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "array", "items": item, **extra}


_METADATA = _obj({"userId": _STR, "suppressWarnings": _BOOL, "validateOnly": _BOOL})
_ARM_HEAD = {"status": _STR, "result": _STR, "message": _STR, "clientNo": _INT}
_COLLECTION_PAGE = _obj({"status": _STR, "nextPageToken": {"type": ["string", "null"]}})

SCHEMAS: dict[str, Any] = {
    # Error shapes, one per family (see envelopes.error_body).
    "ArmError": _obj({**_ARM_HEAD, "status": {"const": "ERROR"}}, ("status", "result", "message")),
    "CollectionError": _obj(
        {"summary": _obj({"status": {"const": "FAILED"}}), "errors": _list_of(_obj({"field": {"type": ["string", "null"]}, "message": _STR}))},
        ("summary", "errors"),
    ),
    "AdaError": _obj(
        {"_status": {"const": "ERR"}, "_error": _obj({"code": _INT, "message": _STR}, ("code", "message")), "_issues": _OBJ, "_items": _list_of(_OBJ)},
        ("_status", "_error"),
    ),
    "AuthError": _obj({"error": _STR, "error_description": _STR}, ("error", "error_description")),
    "SandboxError": _obj({"error": _STR}, ("error",)),
    # Logins.
    "TokenRequest": _obj(
        {"grant_type": {"const": "client_credentials"}, "client_id": _STR, "client_secret": _STR}, ("grant_type", "client_id", "client_secret")
    ),
    "Token": _obj(
        {"access_token": _STR, "token_type": {"const": "Bearer"}, "not_before": _INT, "expires_in": _INT, "expires_on": _INT, "resource": _STR},
        ("access_token", "token_type", "expires_in", "expires_on"),
    ),
    "AdaApiCode": _obj({"api_code": _STR}, ("api_code",)),
    "AdaToken": _obj({"access_token": _STR}, ("access_token",)),
    # ARM.
    "ArmDocument": _obj(
        {
            "documentType": _STR,
            "customerNo": _STR,
            "documentNo": _STR,
            "documentDate": _DATE,
            "dueDate": _DATE,
            "currency": _CURRENCY,
            "kid": _STR,
            "currencyAmounts": _obj({"exclVat": _NUM, "vat": _NUM, "inclVat": _NUM}, ("inclVat",)),
            "documentLines": _list_of(_OBJ),
        },
        ("documentType", "customerNo", "documentNo", "documentDate", "dueDate", "currency", "currencyAmounts"),
        description="Further document fields of the ARM page (language, distribution, documentLines, ...) are stored as sent.",
    ),
    "ArmDocumentRequest": _obj({"metadata": _METADATA, "document": _ref("ArmDocument")}, ("document",)),
    "ArmDocumentCreated": _obj(
        {
            **_ARM_HEAD,
            "accountNo": _INT,
            "referenceNo": _INT,
            "documentBundleId": _INT,
            "customerNo": _STR,
            "documentNo": _STR,
            "warnings": _list_of(_obj({"field": _STR, "message": _STR})),
        },
        ("status", "result", "message", "clientNo", "accountNo", "referenceNo", "documentBundleId", "customerNo", "documentNo", "warnings"),
    ),
    # Batch documents are validated when the batch is processed, so the request only needs a non-empty list.
    "ArmDocumentBatchRequest": _obj({"metadata": _METADATA, "documents": _list_of(_OBJ, minItems=1)}, ("documents",)),
    "ArmBatchAccepted": _obj({**_ARM_HEAD, "batchUuid": _STR}, ("status", "result", "clientNo", "batchUuid")),
    "ArmBatchStatus": _obj(
        {
            **_ARM_HEAD,
            "batchUuid": _STR,
            "items": _list_of(
                _obj(
                    {
                        "index": _INT,
                        "documentNo": {"type": ["string", "null"]},
                        "result": {"enum": ["CREATED", "EXISTS", "REJECTED", "CONFLICT", "DUPLICATE"]},
                        "message": _STR,
                        "referenceNo": {"type": ["integer", "null"]},
                        "accountNo": {"type": ["integer", "null"]},
                        "arItemId": {"type": ["string", "null"]},
                    }
                )
            ),
        },
        ("status", "result", "batchUuid", "items"),
    ),
    "ArmList": _obj(
        {
            **_ARM_HEAD,
            "totalCount": _INT,
            "pageNo": _INT,
            "pageSize": _INT,
            "pageCount": _INT,
            "documents": _list_of(_OBJ),
            "arItems": _list_of(_OBJ),
            "customers": _list_of(_OBJ),
        },
        ("status", "result", "totalCount", "pageNo", "pageSize", "pageCount"),
        description="Exactly one of documents, arItems, customers, by endpoint.",
    ),
    "PaymentReservation": _obj(
        {
            "paymentId": _STR,
            "currency": _CURRENCY,
            "currencyAmountPaid": {"type": "number", "exclusiveMinimum": 0},
            "paidTime": _DT,
            "transactionText": _STR,
            "arItemId": _STR,
            "documentNo": _STR,
            "documentUuid": _STR,
            "referenceNo": {"type": ["string", "integer"]},
            "kid": _STR,
            "accountNo": {"type": ["string", "integer"]},
            "customerNo": _STR,
            "unstructuredData": _list_of(_obj({"name": _STR, "value": _STR})),
        },
        ("paymentId", "currency", "currencyAmountPaid"),
        description="At least one of arItemId, documentNo, documentUuid, referenceNo, kid, accountNo, customerNo must resolve.",
    ),
    "PaymentReservationRequest": _obj({"metadata": _METADATA, "paymentreservation": _ref("PaymentReservation")}, ("paymentreservation",)),
    "PaymentReservationAnswer": _obj(
        {**_ARM_HEAD, "accountNo": _INT, "customerNo": _STR, "paymentId": _STR},
        ("status", "result", "message", "clientNo", "accountNo", "customerNo"),
    ),
    "AutoPosting": _obj(
        {
            "arItemId": _STR,
            "currency": _CURRENCY,
            "currencyAmount": _NUM,
            "dueDate": _DATE,
            "voucherDate": _DATE,
            "voucherNo": _STR,
            "suppressWarnings": _BOOL,
            "validateOnly": _BOOL,
        },
        ("arItemId", "currency", "currencyAmount"),
    ),
    "AutoPostingRequest": _obj({"metadata": _METADATA, "postings": _list_of(_ref("AutoPosting"), minItems=1)}, ("postings",)),
    "AutoPostingAnswer": _obj(
        {
            **_ARM_HEAD,
            "autoPostings": _list_of(
                _obj(
                    {
                        "arItemId": _STR,
                        "result": {"enum": ["CREATED", "VALIDATED", "FAILED"]},
                        "resultType": {"enum": ["OK", "ERROR", "WARNING", "BATCH-REJECTED"]},
                        "message": _STR,
                    }
                )
            ),
        },
        ("status", "result", "message", "clientNo", "autoPostings"),
        description="The 400 of a rejected batch has this shape too, with status ERROR and result REJECTED; under the "
        "as-documented reading a rejected batch is answered 200 with status PROCESSED and result FAILED.",
    ),
    # Collection.
    "CollectionPayment": _obj(
        {
            "invoiceId": _STR,
            "invoiceNumber": _STR,
            "uniqueSourcePaymentId": _STR,
            "type": {"type": ["string", "integer"]},
            "amount": {"type": "number", "exclusiveMinimum": 0},
            "currency": _CURRENCY,
            "date": _DT,
            "description": _STR,
        },
        ("uniqueSourcePaymentId", "amount", "currency", "date"),
        description="invoiceId or invoiceNumber is required.",
    ),
    "CollectionPaymentsRequest": _obj(
        {"organizationId": _STR, "payments": _list_of(_ref("CollectionPayment"), minItems=1, maxItems=1000)}, ("organizationId", "payments")
    ),
    "CollectionAccepted": _obj(
        {"summary": _obj({"status": _STR}), "data": _obj({"batchId": _STR, "batchUrl": _STR}, ("batchId", "batchUrl"))}, ("summary", "data")
    ),
    # as-documented: the page prints the 202 example as a quoted JSON string, so the body is that string.
    "CollectionAcceptedString": {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": _ref("CollectionAccepted"),
        "description": "as-documented reading: a JSON string whose content is the CollectionAccepted document",
    },
    "CollectionBatch": _obj(
        {
            "batchId": _STR,
            "type": _STR,
            "status": {"enum": ["QUEUED", "SUCCESS", "PARTIAL", "FAILED"]},
            "createdAt": _DT,
            "finishedAt": {"type": ["string", "null"], "format": "date-time"},
            "organizationId": _STR,
            "createdBy": _STR,
            "idempotencyKey": {"type": ["string", "null"]},
            "succeeded": _list_of(_obj({"uniqueSourcePaymentId": _STR, "invoiceId": _STR, "invoiceNumber": _STR, "caseId": _STR})),
            "failed": _list_of(
                _obj(
                    {"invoiceId": {"type": ["string", "null"]}, "invoiceNumber": {"type": ["string", "null"]}, "message": _STR},
                    description="The submitted payment plus message (as-documented reading: invoiceId, invoiceNumber, message only).",
                )
            ),
        },
        ("batchId", "type", "status", "createdAt", "finishedAt", "organizationId", "createdBy", "succeeded", "failed"),
        description="as-documented reading: no idempotencyKey, succeeded items without uniqueSourcePaymentId.",
    ),
    "CollectionBatchAnswer": _obj({"summary": _obj({"status": _STR}), "data": _ref("CollectionBatch")}, ("summary", "data")),
    "CollectionBatchList": _obj({"summary": _COLLECTION_PAGE, "data": _list_of(_ref("CollectionBatch"))}, ("summary", "data")),
    "CollectionSettlement": _obj(
        {
            "settlementId": _STR,
            "settlementDate": _DATE,
            "invoiceId": _STR,
            "invoiceNumber": _STR,
            "caseId": _STR,
            "caseNumber": {"type": ["string", "null"]},
            "collectionType": _STR,
            "customerReference": _STR,
            "uniqueSourcePaymentId": _STR,
            "batchId": _STR,
            "currency": _CURRENCY,
            "exchangeRate": _NUM,
            "amount": _NUM,
        },
        ("settlementId", "settlementDate", "invoiceId", "invoiceNumber", "currency", "amount"),
    ),
    "CollectionSettlementAnswer": _obj({"summary": _obj({"status": _STR}), "data": _ref("CollectionSettlement")}, ("summary", "data")),
    "CollectionSettlementList": _obj({"summary": _COLLECTION_PAGE, "data": _list_of(_ref("CollectionSettlement"))}, ("summary", "data")),
    # ADA.
    "AdaCreditorPayment": _obj(
        {
            "account": {**_STR, "readOnly": True},
            "creditor": _STR,
            "case": _STR,
            "invoice_number": _STR,
            "currency": {"const": "SEK"},
            "amount": {"type": "number", "minimum": 0.01},
            "bank_transaction_date": _RFC1123,
            "client_registration_date": _RFC1123,
            "creditor_payment_reference": _STR,
            "file_import_report": {**_STR, "readOnly": True},
            "origin": {"const": "creditor_system"},
        },
        ("creditor", "currency", "amount", "bank_transaction_date", "origin"),
        additionalProperties=False,
        description="Exactly one of case and invoice_number.",
    ),
    "AdaPostAnswer": _obj(
        {"_id": _STR, "_etag": _STR, "_created": _RFC1123, "_updated": _RFC1123, "_status": {"const": "OK"}, "_payment_status": _STR},
        ("_id", "_etag", "_created", "_updated", "_status", "_payment_status"),
    ),
    "AdaBulkAnswer": _obj({"_status": {"const": "OK"}, "_items": _list_of(_ref("AdaPostAnswer"))}, ("_status", "_items")),
    "AdaStoredPayment": _obj(
        {
            "_id": _STR,
            "_etag": {"type": "string", "pattern": "^[0-9a-f]{40}$"},
            "_created": _RFC1123,
            "_updated": _RFC1123,
            "status": {"enum": ["completed", "warning", "error"]},
            "settled_amount": _NUM,
            "status_reason_locale": {"type": ["string", "null"]},
            "case_invoice_number": _STR,
            "case_reference_number": _STR,
            "booking_date": _RFC1123,
        },
        ("_id", "_etag", "_created", "_updated", "status", "settled_amount"),
        description="The stored payment: the request fields plus these.",
    ),
    "AdaList": _obj(
        {
            "_items": _list_of(_OBJ),
            "_links": _OBJ,
            "_meta": _obj({"page": _INT, "max_results": _INT, "total": _INT}, ("page", "max_results", "total")),
        },
        ("_items", "_meta"),
    ),
    # Introspection.
    "Ledger": _obj(
        {
            "items": _list_of(
                _obj(
                    {
                        "api": _STR,
                        "scope": _STR,
                        "key": _STR,
                        "amount": {"type": "string", "pattern": r"^-?\d+\.\d\d$"},
                        "currency": _STR,
                        "accepted": _INT,
                        "duplicates_refused": _INT,
                    }
                )
            )
        },
        ("items",),
    ),
    "Seed": _obj({"ada_cases": _list_of(_OBJ), "collection_invoices": _list_of(_OBJ), "arm_documents": _list_of(_OBJ),
                  "collection_settlements": _list_of(_OBJ)}),
}

# --- operations -----------------------------------------------------------------------------------------

_ERR = {"arm": "ArmError", "collection": "CollectionError", "ada": "AdaError", "auth": "AuthError", "sandbox": "SandboxError"}
_ERROR_TEXT = {
    400: "Malformed request",
    401: "Missing, wrong or expired credentials (on /_sandbox: the admin token of a remote sandbox)",
    403: "The login has no access to this client, organisation or creditor",
    404: "Not found",
    409: "Conflict: the key was used with other data, or (strict-unique reading) was used before",
    422: "Invalid content",
    429: "Rate limited or injected fault (Retry-After)",
    500: "Injected fault",
    503: "Injected fault (Retry-After)",
    504: "Injected timeout fault",
}
_FAULTS = (429, 500, 503, 504)


def _json(schema: str | dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(schema) if isinstance(schema, str) else schema}}


def _op(
    family: str,
    summary: str,
    ok: dict[int, str],
    errors: Sequence[int],
    *,
    body: str | dict[str, Any] | None = None,
    query: Sequence[tuple[str, dict[str, Any]]] = (),
    security: str | None = None,
) -> dict[str, Any]:
    """One OpenAPI operation; API families add the fault and rate-limit answers they may give."""
    codes = [*errors, *((401, 403, *_FAULTS) if security else ())]
    responses: dict[str, Any] = {str(code): {"description": "OK", "content": _json(schema)} for code, schema in ok.items()}
    for code in sorted(set(codes)):
        responses[str(code)] = {"description": _ERROR_TEXT.get(code, "Error"), "content": _json(_ERR[family])}
    op: dict[str, Any] = {"tags": [family], "summary": summary, "responses": responses}
    if query:
        op["parameters"] = [{"name": name, "in": "query", "required": False, "schema": schema} for name, schema in query]
    if body is not None:
        content = {"application/x-www-form-urlencoded": {"schema": _ref(body)}} if body == "TokenRequest" else _json(body)
        op["requestBody"] = {"required": True, "content": content}
    if security:
        op["security"] = [{security: []}]
    return op


_ARM = "/arm/clients/{clientno}"
_COL = "/collection/v1"
_ARM_LIST_QUERY = [
    ("maximumcount", {"type": "integer", "default": 10000, "maximum": 10000}),
    ("pagesize", {"type": "integer", "default": 100, "maximum": 1000, "description": "below 5 becomes 10"}),
    ("pageno", {"type": "integer", "default": 1}),
    *((name, _STR) for name in ("documentno", "customerno", "accountno", "referenceno", "aritemid", "documentuuid", "kid")),
]
_ADA_LIST_QUERY = [
    ("where", {"type": "string", "description": 'JSON equality filter, e.g. {"creditor_payment_reference": "PAY-REF-001"}'}),
    ("sort", {"type": "string", "description": "comma list of fields, - for descending"}),
    ("page", {"type": "integer", "default": 1}),
    ("max_results", {"type": "integer", "default": 25, "maximum": 100}),
]
_PAGE_QUERY = [("PageToken", _STR), ("PageSize", {"type": "integer", "default": 50, "maximum": 100})]

# "METHOD path" -> operation. Every route the app serves must be here and vice versa (checked at start-up).
OPERATIONS: dict[str, dict[str, Any]] = {
    "POST /auth/token": _op("auth", "Norway token (client credentials, form body)", {200: "Token"}, (400, 401), body="TokenRequest"),
    "POST /ada/authenticates/api-code": _op("ada", "ADA access token from the api code", {200: "AdaToken"}, (400, 401), body="AdaApiCode"),
    "GET /ada/authenticates/api-code": _op(
        "ada",
        "ADA access token from a JWT {api_code, exp <= now + 10 min} in X-API-Key, signed ES256/384/512 or RS256/384/512 "
        "with the public key registered for the login",
        {200: "AdaToken"},
        (401,),
    ),
    f"POST {_ARM}/documents": _op(
        "arm", "Create one document (a repeat: 200 EXISTS; 201 EXISTS as-documented; 409 strict-unique; 201 no-dedup)",
        {201: "ArmDocumentCreated", 200: "ArmDocumentCreated"}, (400, 401, 404, 409, 422),
        body="ArmDocumentRequest", security="bearer",
    ),
    f"GET {_ARM}/documents": _op("arm", "List documents", {200: "ArmList"}, (400, 401, 404), query=_ARM_LIST_QUERY, security="bearer"),
    f"POST {_ARM}/documents/batches": _op(
        "arm", "Create a batch of documents (async)", {202: "ArmBatchAccepted"}, (400, 401, 404), body="ArmDocumentBatchRequest", security="bearer"
    ),
    f"GET {_ARM}/batches/{{batchuuid}}": _op(
        "arm", "Document batch status: 202 processing, 200 done, 206 some failed",
        {200: "ArmBatchStatus", 202: "ArmBatchStatus", 206: "ArmBatchStatus"}, (401, 404), security="bearer",
    ),
    f"GET {_ARM}/aritems": _op("arm", "List AR items", {200: "ArmList"}, (400, 401, 404), query=_ARM_LIST_QUERY, security="bearer"),
    f"GET {_ARM}/customers": _op("arm", "List customers", {200: "ArmList"}, (400, 401, 404), query=_ARM_LIST_QUERY, security="bearer"),
    f"POST {_ARM}/paymentreservations": _op(
        "arm", "Create a payment reservation (201 when created under the as-documented reading; a repeat 200 or 409)",
        {200: "PaymentReservationAnswer", 201: "PaymentReservationAnswer"}, (400, 401, 404, 409, 422),
        body="PaymentReservationRequest", security="bearer",
    ),
    f"POST {_ARM}/autopostings/{{autopostingmethod}}": _op(
        "arm", "Autopostings, all or nothing (a rejected batch: 400, or 200 under the as-documented reading)", {200: "AutoPostingAnswer"},
        (400, 401, 404), body="AutoPostingRequest", security="bearer"
    ),
    f"POST {_COL}/orgs/{{orgId}}/payments": _op(
        "collection", "Register payments (async batch; Idempotency-Key header; 409 for repeats under strict-unique)",
        {202: {"oneOf": [_ref("CollectionAccepted"), _ref("CollectionAcceptedString")]}}, (400, 401, 409, 422),
        body="CollectionPaymentsRequest", security="bearer",
    ),
    f"GET {_COL}/orgs/{{orgId}}/batches": _op(
        "collection", "Search batches", {200: "CollectionBatchList"}, (400, 401),
        query=[("IdempotencyKey", _STR), ("State", _STR), ("Type", _STR), ("SortDirection", {"enum": ["ASC", "DESC"]}), *_PAGE_QUERY],
        security="bearer",
    ),
    f"GET {_COL}/orgs/{{orgId}}/batches/{{batchId}}": _op(
        "collection", "One batch", {200: "CollectionBatchAnswer"}, (401, 404), security="bearer"
    ),
    f"GET {_COL}/batches/{{batchId}}": _op("collection", "One batch (legacy path)", {200: "CollectionBatchAnswer"}, (401, 404), security="bearer"),
    f"GET {_COL}/orgs/{{orgId}}/settlements": _op(
        "collection", "Settlements between fromDate and toDate (inclusive), cursor paging", {200: "CollectionSettlementList"}, (400, 401),
        query=[("fromDate", _DATE), ("toDate", _DATE), ("pageSize", {"type": "integer", "default": 50, "maximum": 100}), ("pageToken", _STR)],
        security="bearer",
    ),
    f"GET {_COL}/orgs/{{orgId}}/settlements/{{settlementId}}": _op(
        "collection", "One settlement", {200: "CollectionSettlementAnswer"}, (401, 404), security="bearer"
    ),
    "POST /ada/creditor--payments": _op(
        "ada", "Create one payment, or a list of them (all or nothing; 409 for a repeated reference under strict-unique)",
        {201: {"oneOf": [_ref("AdaPostAnswer"), _ref("AdaBulkAnswer")]}}, (400, 401, 409, 422),
        body={"oneOf": [_ref("AdaCreditorPayment"), _list_of(_ref("AdaCreditorPayment"), minItems=1)]}, security="apiKey",
    ),
    "GET /ada/creditor--payments": _op("ada", "List payments", {200: "AdaList"}, (400, 401), query=_ADA_LIST_QUERY, security="apiKey"),
    "GET /ada/creditor--payments/{id}": _op("ada", "One payment", {200: "AdaStoredPayment"}, (401, 404), security="apiKey"),
    "GET /ada/finance--payout-specifications": _op(
        "ada", "Payout specification rows (one per settled payment)", {200: "AdaList"}, (400, 401), query=_ADA_LIST_QUERY, security="apiKey"
    ),
    "GET /_sandbox/ledger": _op("sandbox", "Every accepted item and how often it came", {200: "Ledger"}, (401,), query=[("api", _STR)]),
    "POST /_sandbox/seed": _op("sandbox", "Store cases, invoices and documents that exist at Amili", {200: "Seed"}, (400, 401), body="Seed"),
    "POST /_sandbox/reset": _op("sandbox", "Forget all data, statistics, fault sequence and rate-limit buckets", {200: _OBJ}, (401,)),
    "GET /_sandbox/stats": _op("sandbox", "Requests by route template and status", {200: _OBJ}, (401,)),
    "GET /_sandbox/health": _op(
        "sandbox", "Liveness and the reading being played", {200: _obj({"status": _STR, "reading": _STR}, ("status", "reading"))}, (401,)
    ),
    "GET /openapi.json": _op("sandbox", "This document", {200: _OBJ}, ()),
}


def openapi_document(served: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI document for the served routes; ValueError if a route and OPERATIONS disagree."""
    paths: dict[str, dict[str, Any]] = {}
    seen = set()
    for route in served:
        if not isinstance(route, Route):
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            key = f"{method} {route.path}"
            if key not in OPERATIONS:
                raise ValueError(f"route {key} is served but not described in etl/sandbox/openapi.py")
            seen.add(key)
            op = dict(OPERATIONS[key])
            params = [{"name": name, "in": "path", "required": True, "schema": _STR} for name in route.param_convertors]
            if params:
                op["parameters"] = params + op.get("parameters", [])
            paths.setdefault(route.path, {})[method.lower()] = op
    missing = set(OPERATIONS) - seen
    if missing:
        raise ValueError(f"described but not served: {', '.join(sorted(missing))}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Amili sandbox (amili-etl)",
            "version": "1",
            "description": "Norway ARM under /arm, Collection under /collection/v1, Sweden ADA under /ada, logins, and /_sandbox. See docs/sandbox.md.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Token from POST /auth/token"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "Token from /ada/authenticates/api-code"},
            },
        },
    }


def routes(served: Sequence[BaseRoute]) -> list[Route]:
    """GET /openapi.json, describing `served` plus itself (rendered once, at start-up)."""
    holder: list[bytes] = []

    async def openapi(request: Request) -> Response:
        return Response(holder[0], media_type="application/json")

    route = Route("/openapi.json", openapi, methods=["GET"])
    holder.append(JsonResponse(openapi_document([*served, route])).body)
    return [route]
