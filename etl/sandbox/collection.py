"""Collection / AutoCollect (Norway): payments in asynchronous batches, batch status and search, settlements."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from etl.sandbox.auth import require_access, require_bearer
from etl.sandbox.config import SandboxConfig
from etl.sandbox.envelopes import ApiError, JsonResponse, int_param, read_json
from etl.sandbox.readings import as_documented, conflict_status, keeps_idempotency_keys, refuses_repeats, stores_repeats
from etl.sandbox.state import State
from etl.sandbox.values import is_currency, is_iso_date, is_iso_datetime, iso_utc, minor_number, seed_minor, sha1_of, to_minor

__all__ = ["routes", "run_due", "seed_invoice", "seed_settlement"]

PREFIX = "/collection/v1"
MAX_PAYMENTS = 1000
_MAX_ERRORS = 50
DUPLICATE_MESSAGE = "duplicate uniqueSourcePaymentId"


def routes(config: SandboxConfig, state: State) -> list[Route]:
    """The Collection endpoints under /collection/v1."""

    async def post_payments(request: Request) -> Response:
        token = require_bearer(request, state)
        run_due(state, state.clock())
        require_access(config, token, "collection", request.path_params.get("orgId"))
        org_id = request.path_params["orgId"]
        body = await read_json(request)
        require_access(config, token, "collection", body.get("organizationId") if isinstance(body, dict) else None)
        errors = _payment_errors(body, org_id, integer_type=as_documented(config))
        if errors:
            raise ApiError(422, errors[0]["message"], errors=errors[:_MAX_ERRORS])
        book = _org(state, org_id)
        # no-dedup: the header (not on Amili's page) is ignored entirely: not kept, not searchable.
        key = request.headers.get("idempotency-key") if keeps_idempotency_keys(config) else None
        digest = sha1_of(body)
        if key:
            prior_id = book["idempotency"].get(key)
            if prior_id is not None:
                prior = state.collection_batches[prior_id]
                if refuses_repeats(config):
                    for payment in body["payments"]:
                        minor, currency = to_minor(payment["amount"]), str(payment["currency"])
                        state.ledger_refuse("collection.payments", org_id, payment["uniqueSourcePaymentId"], minor, currency)
                    state.changed()
                    raise ApiError(409, f"Idempotency-Key {key!r} already exists (batch {prior_id})", field="Idempotency-Key")
                if prior["digest"] != digest:
                    status = conflict_status(config)
                    raise ApiError(status, f"Idempotency-Key {key!r} was already used with a different body", field="Idempotency-Key")
                for item in prior["succeeded"]:
                    state.ledger_refuse("collection.payments", org_id, item["uniqueSourcePaymentId"])
                state.changed()
                return _accepted(request, prior_id, config)
        if refuses_repeats(config):
            _refuse_repeats(state, book, org_id, body["payments"])
        batch_id = str(uuid.uuid4())
        now = state.clock()
        state.collection_batches[batch_id] = {
            "batchId": batch_id,
            "organizationId": org_id,
            "createdBy": token["client_id"],
            "idempotencyKey": key or None,
            "digest": digest,
            "created_at": now,
            "ready_at": now + config.batch_delay_s,
            "finished_at": None,
            "status": "QUEUED",
            # Decided now, applied when the batch is processed: no-dedup stores a repeated uniqueSourcePaymentId again.
            "dedup": not stores_repeats(config, "collection.payments"),
            "payments": body["payments"],
            "succeeded": [],
            "failed": [],
        }
        if key:
            book["idempotency"][key] = batch_id
        state.pending.setdefault("collection", []).append(batch_id)
        state.changed()
        return _accepted(request, batch_id, config)

    async def get_batch(request: Request) -> Response:
        token = require_bearer(request, state)
        run_due(state, state.clock())
        batch = state.collection_batches.get(request.path_params["batchId"])
        org_id = request.path_params.get("orgId")
        require_access(config, token, "collection", org_id if org_id is not None else batch and batch["organizationId"])
        if batch is None or (org_id is not None and batch["organizationId"] != org_id):
            raise ApiError(404, "Batch not found")
        return JsonResponse({"summary": {"status": "SUCCESS"}, "data": _batch_view(batch, as_documented(config))})

    async def list_batches(request: Request) -> Response:
        token = require_bearer(request, state)
        run_due(state, state.clock())
        require_access(config, token, "collection", request.path_params.get("orgId"))
        org_id = request.path_params["orgId"]
        # The docs spell these parameters in PascalCase; accept any case.
        query = {k.lower(): v for k, v in request.query_params.items()}
        rows = [b for b in state.collection_batches.values() if b["organizationId"] == org_id]
        if query.get("idempotencykey"):
            rows = [b for b in rows if b["idempotencyKey"] == query["idempotencykey"]]
        if query.get("state"):
            rows = [b for b in rows if b["status"].lower() == query["state"].lower()]
        if query.get("type") and query["type"].upper() != "PAYMENT":
            rows = []
        if query.get("sortdirection", "ASC").upper() == "DESC":
            rows.reverse()
        size = int_param(query, "pagesize", 50)
        size = min(max(size, 1), 100)
        offset = _decode_token(query.get("pagetoken"))
        page = rows[offset : offset + size]
        next_token = _encode_token(offset + size) if offset + size < len(rows) else None
        return JsonResponse({"summary": {"status": "SUCCESS", "nextPageToken": next_token}, "data": [_batch_view(b, as_documented(config)) for b in page]})

    async def list_settlements(request: Request) -> Response:
        token = require_bearer(request, state)
        run_due(state, state.clock())
        require_access(config, token, "collection", request.path_params.get("orgId"))
        query = {k.lower(): v for k, v in request.query_params.items()}
        bounds = []
        for name in ("fromdate", "todate"):
            value = query.get(name) or None
            if value is not None and not is_iso_date(value):
                raise ApiError(400, f"{'fromDate' if name == 'fromdate' else 'toDate'} must be a date YYYY-MM-DD", field=name)
            bounds.append(value)
        start, end = bounds
        if start and end and start > end:
            raise ApiError(400, "fromDate is after toDate", field="fromDate")
        rows = [
            row
            for row in _org(state, request.path_params["orgId"]).get("settlements", {}).values()
            if (start is None or row["settlementDate"] >= start) and (end is None or row["settlementDate"] <= end)
        ]
        size = min(max(int_param(query, "pagesize", 50), 1), 100)
        offset = _decode_token(query.get("pagetoken"))
        next_token = _encode_token(offset + size) if offset + size < len(rows) else None
        return JsonResponse({"summary": {"status": "SUCCESS", "nextPageToken": next_token}, "data": rows[offset : offset + size]})

    async def get_settlement(request: Request) -> Response:
        token = require_bearer(request, state)
        run_due(state, state.clock())
        require_access(config, token, "collection", request.path_params.get("orgId"))
        row = _org(state, request.path_params["orgId"]).get("settlements", {}).get(request.path_params["settlementId"])
        if row is None:
            raise ApiError(404, "Settlement not found")
        return JsonResponse({"summary": {"status": "SUCCESS"}, "data": row})

    return [
        Route(PREFIX + "/orgs/{orgId}/payments", post_payments, methods=["POST"]),
        Route(PREFIX + "/orgs/{orgId}/batches", list_batches, methods=["GET"]),
        Route(PREFIX + "/orgs/{orgId}/batches/{batchId}", get_batch, methods=["GET"]),
        Route(PREFIX + "/batches/{batchId}", get_batch, methods=["GET"]),
        Route(PREFIX + "/orgs/{orgId}/settlements", list_settlements, methods=["GET"]),
        Route(PREFIX + "/orgs/{orgId}/settlements/{settlementId}", get_settlement, methods=["GET"]),
    ]


def seed_invoice(state: State, item: dict[str, Any]) -> dict[str, Any]:
    """Store an invoice that payments can be registered against; ValueError on bad input. Returns its ids."""
    try:
        org_id, invoice_id, number = str(item["organizationId"]), str(item["invoiceId"]), str(item["invoiceNumber"])
        amount = seed_minor(item["amount"])
        currency = str(item["currency"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"collection_invoices item {item!r}: needs organizationId, invoiceId, invoiceNumber, amount, currency ({exc})") from exc
    book = _org(state, org_id)
    invoice = book["invoices"].get(invoice_id)
    if invoice is None:
        invoice = book["invoices"][invoice_id] = {
            "invoiceId": invoice_id,
            "invoiceNumber": number,
            "caseId": str(item.get("caseId") or uuid.uuid4()),
            "caseNumber": str(item.get("caseNumber") or state.next_number("collection_case", 1000001)),
            "amount_minor": amount,
            "outstanding_minor": amount,
            "currency": currency,
        }
        book["by_number"][number] = invoice_id
        state.changed()
    return {"organizationId": org_id, **{k: invoice.get(k) for k in ("invoiceId", "invoiceNumber", "caseId", "caseNumber")}}


_SETTLEMENT_TEXT = ("settlementDate", "invoiceId", "invoiceNumber", "caseId", "caseNumber", "collectionType",
                    "customerReference", "uniqueSourcePaymentId", "batchId", "currency")


def seed_settlement(state: State, item: dict[str, Any]) -> dict[str, Any]:
    """Plant a settlement, change one (same settlementId: the given fields replace its own) or remove one
    (`"remove": true`); how tests make a settlement of another amount, one that never came, or one we never sent.
    ValueError on bad input. Returns the settlement as the API shows it."""
    if "organizationId" not in item:
        raise ValueError(f"collection_settlements item {item!r}: needs organizationId")
    book = _org(state, str(item["organizationId"]))
    settlements = book.setdefault("settlements", {})
    sid = str(item.get("settlementId") or uuid.uuid4())
    if item.get("remove"):
        if settlements.pop(sid, None) is None:
            raise ValueError(f"collection_settlements: settlement {sid} not found, nothing to remove")
        state.changed()
        return {"organizationId": str(item["organizationId"]), "settlementId": sid, "removed": True}
    row = settlements.get(sid)
    if row is None:
        missing = [k for k in ("settlementDate", "amount", "currency") if item.get(k) is None]
        if missing:
            raise ValueError(f"collection_settlements item {item!r}: a new settlement needs {', '.join(missing)}")
        row = {"settlementId": sid, **{k: None for k in _SETTLEMENT_TEXT}, "collectionType": "REMINDER",
               "exchangeRate": 1, "amount": None}
    changed = {k: None if item[k] is None else str(item[k]) for k in _SETTLEMENT_TEXT if k in item}
    if not is_iso_date(changed.get("settlementDate", row["settlementDate"])):
        raise ValueError(f"collection_settlements item {item!r}: settlementDate must be a date YYYY-MM-DD")
    if not is_currency(changed.get("currency", row["currency"])):
        raise ValueError(f"collection_settlements item {item!r}: currency must be an ISO 4217 code")
    try:
        amount = minor_number(seed_minor(item["amount"])) if "amount" in item else row["amount"]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"collection_settlements item {item!r}: amount ({exc})") from exc
    settlements[sid] = {**row, **changed, "amount": amount}
    state.changed()
    return dict(settlements[sid])


def run_due(state: State, now: float) -> None:
    """Process every payment batch whose time has come, oldest first (lazily, so no timers are needed)."""
    queue = state.pending.get("collection")
    while queue and state.collection_batches[queue[0]]["ready_at"] <= now:
        batch = state.collection_batches[queue.pop(0)]
        book = _org(state, batch["organizationId"])
        for payment in batch["payments"]:
            _apply_payment(state, book, batch, payment, now)
        if not batch["failed"]:
            batch["status"] = "SUCCESS"
        else:
            batch["status"] = "PARTIAL" if batch["succeeded"] else "FAILED"
        batch["finished_at"] = now
        state.changed()


def _apply_payment(state: State, book: dict[str, Any], batch: dict[str, Any], payment: dict[str, Any], now: float) -> None:
    org_id = batch["organizationId"]
    source_id = payment["uniqueSourcePaymentId"]
    invoice, problem = _find_invoice(book, payment)
    if source_id in book["payments"] and batch.get("dedup", True):
        # Stored once only; the repeat fails its item so the sender can see it was recognised.
        state.ledger_refuse("collection.payments", org_id, source_id)
        problem = DUPLICATE_MESSAGE
    elif to_minor(payment["amount"]) <= 0:
        problem = "amount must be positive"
    elif not is_currency(payment["currency"]):
        problem = f"currency {payment['currency']!r} is not an ISO 4217 code"
    elif problem is None and invoice is not None and payment["currency"] != invoice["currency"]:
        problem = f"currency {payment['currency']} differs from the invoice's currency {invoice['currency']}"
    if problem or invoice is None:
        batch["failed"].append({**payment, "message": problem})
        return
    amount = to_minor(payment["amount"])
    invoice["outstanding_minor"] -= amount
    book["payments"][source_id] = {"batchId": batch["batchId"], "invoiceId": invoice["invoiceId"], "amount_minor": amount, "currency": payment["currency"], "at": now}
    batch["succeeded"].append(
        {
            "uniqueSourcePaymentId": source_id,
            "invoiceId": invoice["invoiceId"],
            "invoiceNumber": invoice["invoiceNumber"],
            "caseId": invoice["caseId"],
        }
    )
    state.ledger_accept("collection.payments", org_id, source_id, amount, payment["currency"])
    _settle(book, batch, invoice, payment, amount, now)


def _settle(book: dict[str, Any], batch: dict[str, Any], invoice: dict[str, Any], payment: dict[str, Any], amount: int, now: float) -> None:
    """Record the settlement a successful payment gives the creditor (settled the day the batch is processed)."""
    settlement_id = str(uuid.uuid4())
    book.setdefault("settlements", {})[settlement_id] = {
        "settlementId": settlement_id,
        "settlementDate": iso_utc(now)[:10],
        "invoiceId": invoice["invoiceId"],
        "invoiceNumber": invoice["invoiceNumber"],
        "caseId": invoice["caseId"],
        "caseNumber": invoice.get("caseNumber"),
        "collectionType": "REMINDER",
        "customerReference": payment["uniqueSourcePaymentId"],
        "uniqueSourcePaymentId": payment["uniqueSourcePaymentId"],
        "batchId": batch["batchId"],
        "currency": payment["currency"],
        "exchangeRate": 1,
        "amount": minor_number(amount),
    }


def _find_invoice(book: dict[str, Any], payment: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    invoice_id, number = payment.get("invoiceId"), payment.get("invoiceNumber")
    if invoice_id:
        invoice = book["invoices"].get(invoice_id)
        if invoice is None:
            return None, f"invoice {invoice_id} not found"
        if number and invoice["invoiceNumber"] != number:
            return None, f"invoiceId {invoice_id} and invoiceNumber {number} refer to different invoices"
        return invoice, None
    found = book["by_number"].get(number)
    return (book["invoices"][found], None) if found else (None, f"invoice number {number} not found")


def _refuse_repeats(state: State, book: dict[str, Any], org_id: str, payments: list[dict[str, Any]]) -> None:
    """strict-unique: 409 for a uniqueSourcePaymentId already stored, waiting in a queued batch, or repeated in the body."""
    taken = set(book["payments"])
    for batch in state.collection_batches.values():
        if batch["organizationId"] == org_id and batch["status"] == "QUEUED":
            taken.update(p["uniqueSourcePaymentId"] for p in batch["payments"])
    errors = []
    for i, payment in enumerate(payments):
        source_id = payment["uniqueSourcePaymentId"]
        if source_id in taken:
            state.ledger_refuse("collection.payments", org_id, source_id, to_minor(payment["amount"]), str(payment["currency"]))
            errors.append({"field": f"payments[{i}].uniqueSourcePaymentId", "message": f"duplicate uniqueSourcePaymentId {source_id}"})
        taken.add(source_id)
    if errors:
        state.changed()
        raise ApiError(409, errors[0]["message"], errors=errors[:_MAX_ERRORS])


def _payment_errors(body: Any, org_id: str, *, integer_type: bool = False) -> list[dict[str, Any]]:
    """Structural problems that refuse the whole request with 422 (semantic ones fail items later).

    `integer_type` (as-documented): `type` must be an integer, as in the page's example (`"type": 0`)."""
    if not isinstance(body, dict):
        return [{"field": None, "message": "Body must be a JSON object"}]
    errors = []
    if body.get("organizationId") != org_id:
        errors.append({"field": "organizationId", "message": "organizationId is required and must equal the orgId in the path"})
    payments = body.get("payments")
    if not isinstance(payments, list) or not payments:
        return [*errors, {"field": "payments", "message": "payments must be a non-empty list"}]
    if len(payments) > MAX_PAYMENTS:
        return [*errors, {"field": "payments", "message": f"at most {MAX_PAYMENTS} payments per request"}]
    for i, p in enumerate(payments):
        at = f"payments[{i}]"
        if not isinstance(p, dict):
            errors.append({"field": at, "message": "must be an object"})
            continue
        if not (_text(p.get("invoiceId")) or _text(p.get("invoiceNumber"))):
            errors.append({"field": f"{at}.invoiceId", "message": "invoiceId or invoiceNumber is required"})
        if not _text(p.get("uniqueSourcePaymentId")):
            errors.append({"field": f"{at}.uniqueSourcePaymentId", "message": "uniqueSourcePaymentId is required"})
        if p.get("type") is not None and (isinstance(p["type"], bool) or not isinstance(p["type"], (str, int))):
            errors.append({"field": f"{at}.type", "message": "type must be a string (e.g. DIRECT_PAYMENT)"})
        elif integer_type and p.get("type") is not None and not isinstance(p["type"], int):
            errors.append({"field": f"{at}.type", "message": "type must be an integer (as in the example, \"type\": 0)"})
        # Types are checked here; values (amount > 0, a real currency code) fail the item when the batch is
        # processed, so the docs' own placeholder example (amount 0, currency "string") is accepted with 202.
        try:
            to_minor(p.get("amount"))
        except ValueError:
            errors.append({"field": f"{at}.amount", "message": "amount is required and must be a number with at most two decimals"})
        if not _text(p.get("currency")):
            errors.append({"field": f"{at}.currency", "message": "currency is required (a currency code string)"})
        if not is_iso_datetime(p.get("date")):
            errors.append({"field": f"{at}.date", "message": "date is required (ISO 8601)"})
        if p.get("description") is not None and not isinstance(p["description"], str):
            errors.append({"field": f"{at}.description", "message": "description must be a string"})
    return errors


def _batch_view(batch: dict[str, Any], documented: bool = False) -> dict[str, Any]:
    view = {
        "batchId": batch["batchId"],
        "type": "PAYMENT",
        "status": batch["status"],
        "createdAt": iso_utc(batch["created_at"]),
        "finishedAt": iso_utc(batch["finished_at"]) if batch["finished_at"] is not None else None,
        "organizationId": batch["organizationId"],
        "createdBy": batch["createdBy"],
    }
    if documented:
        # as-documented: exactly the fields the pages name; items as bare as the pages show them.
        return {
            **view,
            "succeeded": [{k: item[k] for k in ("invoiceId", "invoiceNumber", "caseId")} for item in batch["succeeded"]],
            "failed": [{k: item.get(k) for k in ("invoiceId", "invoiceNumber", "message")} for item in batch["failed"]],
        }
    return {**view, "idempotencyKey": batch["idempotencyKey"], "succeeded": batch["succeeded"], "failed": batch["failed"]}


def _accepted(request: Request, batch_id: str, config: SandboxConfig) -> Response:
    # The docs' example points batchUrl at the legacy /batches/{id} path; so does the sandbox.
    base = str(request.base_url).rstrip("/")
    data = {"batchId": batch_id, "batchUrl": f"{base}{PREFIX}/batches/{batch_id}"}
    body: Any = {"summary": {"status": "SUCCESS"}, "data": data}
    if as_documented(config):
        # The page prints the 202 example as a quoted JSON string (indented by two): the body is that string.
        body = orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()
    return JsonResponse(body, status_code=202)


def _org(state: State, org_id: str) -> dict[str, Any]:
    book = state.collection.get(org_id)
    if book is None:
        book = state.collection[org_id] = {
            "invoices": {},  # invoiceId -> invoice
            "by_number": {},  # invoiceNumber -> invoiceId
            "payments": {},  # uniqueSourcePaymentId -> stored payment
            "idempotency": {},  # Idempotency-Key -> batchId
            "settlements": {},  # settlementId -> settlement row, in the order they were made
        }
    return book


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        kind, _, number = text.partition(":")
        if kind != "offset":
            raise ValueError(text)
        return max(int(number), 0)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "PageToken is not valid", field="PageToken") from exc
