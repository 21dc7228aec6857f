"""ADA (Sweden, Python Eve style): creditor payments (single and all-or-nothing bulk), lists, payout specifications."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from etl.sandbox.auth import own_items, owns, require_access, require_ada_key
from etl.sandbox.config import SandboxConfig
from etl.sandbox.envelopes import ApiError, JsonResponse, error_body, int_param, read_json
from etl.sandbox.readings import refuses_repeats, stores_repeats
from etl.sandbox.state import State
from etl.sandbox.values import minor_number, parse_rfc1123, rfc1123, seed_minor, sha1_of, to_minor

__all__ = ["routes", "seed_case"]

_FIELDS = {
    "account",
    "creditor",
    "case",
    "invoice_number",
    "currency",
    "amount",
    "bank_transaction_date",
    "client_registration_date",
    "creditor_payment_reference",
    "file_import_report",
    "origin",
}
_REQUIRED = ("creditor", "currency", "amount", "bank_transaction_date", "origin")
_STRINGS = ("creditor", "case", "invoice_number", "currency", "origin", "creditor_payment_reference", "account", "file_import_report")
_DATES = ("bank_transaction_date", "client_registration_date")
_DATE_HINT = "must be of datetime type (RFC 1123, e.g. 'Fri, 04 Jul 2025 16:20:41 GMT')"
_SORTABLE_DATES = {"_created", "_updated", "booking_date", *_DATES}
MAX_RESULTS = 100
_REASONS = {"completed": None, "warning": "creditor_payment.amount_exceeds_outstanding", "error": "creditor_payment.case_closed"}
DEFAULT_RESULTS = 25


def routes(config: SandboxConfig, state: State) -> list[Route]:
    """The ADA endpoints under /ada."""

    async def post_payments(request: Request) -> Response:
        token = require_ada_key(request, state)
        body = await read_json(request)
        for doc in body if isinstance(body, list) else [body]:
            if isinstance(doc, dict) and isinstance(doc.get("creditor"), str):
                require_access(config, token, "ada", doc["creditor"])
        if refuses_repeats(config) and (isinstance(body, dict) or (isinstance(body, list) and body)):
            _refuse_repeats(state, body)
        unique = not stores_repeats(config, "ada.creditor-payments")
        if isinstance(body, list):
            return _post_bulk(state, body, unique)
        if not isinstance(body, dict):
            raise ApiError(400, "Body must be a JSON object or a list of objects")
        issues, case = _issues(state, body, set(), unique)
        if issues:
            _refuse_duplicate(state, body, issues)
            raise ApiError(422, "Insertion failure: 1 document(s) contain(s) error(s)", _issues=issues)
        stored = _store(state, body, case)
        return JsonResponse(_post_answer(stored), status_code=201)

    async def list_payments(request: Request) -> Response:
        token = require_ada_key(request, state)
        return _list(request, own_items(config, token, state.ada_payments), "creditor--payments")

    async def get_payment(request: Request) -> Response:
        token = require_ada_key(request, state)
        doc = state.ada_payments.get(request.path_params["id"])
        if doc is None or not owns(config, token, "ada", doc["creditor"]):  # another creditor's: as if it did not exist
            raise ApiError(404, "The requested URL was not found on the server.")
        return JsonResponse(doc, headers={"ETag": f'"{doc["_etag"]}"'})

    async def list_payouts(request: Request) -> Response:
        token = require_ada_key(request, state)
        return _list(request, own_items(config, token, state.ada_payouts), "finance--payout-specifications")

    return [
        Route("/ada/creditor--payments", post_payments, methods=["POST"]),
        Route("/ada/creditor--payments", list_payments, methods=["GET"]),
        Route("/ada/creditor--payments/{id}", get_payment, methods=["GET"]),
        Route("/ada/finance--payout-specifications", list_payouts, methods=["GET"]),
    ]


def seed_case(state: State, item: dict[str, Any]) -> dict[str, Any]:
    """Store a case that creditor payments can be registered against; ValueError on bad input. Returns it."""
    try:
        case_id, creditor, invoice = str(item["case"]), str(item["creditor"]), str(item["invoice_number"])
        amount = seed_minor(item["amount"])
        currency = str(item.get("currency", "SEK"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"ada_cases item {item!r}: needs case, creditor, invoice_number, amount, currency ({exc})") from exc
    case = state.ada_cases.get(case_id)
    if case is None:
        case = state.ada_cases[case_id] = {
            "case": case_id,
            "creditor": creditor,
            # Read-only in the API; derived from the creditor unless the seed names one.
            "account": str(item.get("account") or hashlib.sha1(creditor.encode()).hexdigest()[:24]),
            "invoice_number": invoice,
            "reference_number": str(item.get("reference_number") or state.next_number("ada_reference", 7000001)),
            "amount_minor": amount,
            "outstanding_minor": amount,
            "currency": currency,
            # A closed case (seed "closed": true) takes payments but settles nothing: status "error".
            "closed": bool(item.get("closed", False)),
        }
        state.ada_index.setdefault("invoice", {})[_pair(creditor, invoice)] = case_id
        state.changed()
    return {k: case[k] for k in ("case", "creditor", "account", "invoice_number", "reference_number")}


# --- creating -----------------------------------------------------------------------------------------


def _refuse_repeats(state: State, body: dict[str, Any] | list[Any]) -> None:
    """strict-unique: 409 when a creditor_payment_reference is already stored, or repeats inside one bulk list."""
    docs = body if isinstance(body, list) else [body]
    seen: set[str] = set()
    repeats = []
    for index, doc in enumerate(docs):
        reference = doc.get("creditor_payment_reference") if isinstance(doc, dict) else None
        if not (isinstance(reference, str) and isinstance(doc.get("creditor"), str)):
            continue
        pair = _pair(doc["creditor"], reference)
        if pair in state.ada_index.get("reference", {}) or pair in seen:
            minor, currency = _minor_or_zero(doc.get("amount")), str(doc.get("currency") or "")
            state.ledger_refuse("ada.creditor-payments", doc["creditor"], reference, minor, currency)
            repeats.append(f"{reference!r} at index {index}" if isinstance(body, list) else repr(reference))
        seen.add(pair)
    if repeats:
        state.changed()
        raise ApiError(409, f"duplicate creditor_payment_reference {'; '.join(repeats)}")


def _minor_or_zero(amount: Any) -> int:
    # The repeat is refused before the document is validated, so its amount may be anything.
    try:
        return to_minor(amount)
    except ValueError:
        return 0


def _post_bulk(state: State, docs: list[Any], unique: bool = True) -> Response:
    """Eve's bulk insert: every document valid, or none stored."""
    if not docs:
        raise ApiError(400, "Empty bulk insert")
    seen: set[str] = set()
    checked = []
    for doc in docs:
        if not isinstance(doc, dict):
            checked.append(({"_schema": "must be of dict type"}, None))
            continue
        checked.append(_issues(state, doc, seen, unique))
    failures = sum(1 for issues, _ in checked if issues)
    if failures:
        for doc, (issues, _) in zip(docs, checked, strict=True):
            if issues and isinstance(doc, dict):
                _refuse_duplicate(state, doc, issues)
        items = [{"_status": "ERR", "_issues": issues} if issues else {"_status": "OK"} for issues, _ in checked]
        body = error_body("ada", 422, f"Insertion failure: {failures} document(s) contain(s) error(s)", {"_items": items})
        return JsonResponse(body, status_code=422)
    stored = [_store(state, doc, case) for doc, (_, case) in zip(docs, checked, strict=True)]
    return JsonResponse({"_status": "OK", "_items": [_post_answer(s) for s in stored]}, status_code=201)


def _issues(state: State, doc: dict[str, Any], seen: set[str], unique: bool = True) -> tuple[dict[str, str], dict[str, Any] | None]:
    """Eve/Cerberus-style issues for one document ({} when valid) and the case it pays.

    `unique` False (no-dedup): creditor_payment_reference has no unique rule, a repeat is another payment."""
    issues: dict[str, str] = {}
    for field in doc:
        if field not in _FIELDS:
            issues[field] = "unknown field"
    for field in _REQUIRED:
        if doc.get(field) is None:
            issues[field] = "required field"
    for field in _STRINGS:
        if doc.get(field) is not None and not isinstance(doc[field], str):
            issues[field] = "must be of string type"
    if doc.get("case") is not None and doc.get("invoice_number") is not None:
        issues["case"] = "'case' must not be present with 'invoice_number'"
    elif doc.get("case") is None and doc.get("invoice_number") is None:
        issues["case"] = "required field (or 'invoice_number')"
    if isinstance(doc.get("currency"), str) and doc["currency"] != "SEK":
        issues["currency"] = f"unallowed value {doc['currency']}"
    if isinstance(doc.get("origin"), str) and doc["origin"] != "creditor_system":
        issues["origin"] = f"unallowed value {doc['origin']}"
    if doc.get("amount") is not None:
        try:
            if to_minor(doc["amount"]) <= 0:
                issues["amount"] = "min value is 0.01"
        except ValueError:
            issues["amount"] = "must be of number type with at most two decimals"
    for field in _DATES:
        if doc.get(field) is not None and parse_rfc1123(doc[field]) is None:
            issues[field] = _DATE_HINT
    case = None if issues.keys() & {"creditor", "case", "invoice_number"} else _find_case(state, doc, issues)
    reference = doc.get("creditor_payment_reference")
    if unique and isinstance(reference, str) and isinstance(doc.get("creditor"), str):
        pair = _pair(doc["creditor"], reference)
        # Eve's `unique` rule; a repeat inside one bulk request is refused too (Eve itself would let it in).
        if pair in state.ada_index.get("reference", {}) or pair in seen:
            issues["creditor_payment_reference"] = f"value '{reference}' is not unique"
        seen.add(pair)
    return issues, case


def _find_case(state: State, doc: dict[str, Any], issues: dict[str, str]) -> dict[str, Any] | None:
    creditor = doc["creditor"]
    if doc.get("case") is not None:
        case = state.ada_cases.get(doc["case"])
        if case is None:
            issues["case"] = f"value '{doc['case']}' must exist in resource 'cases', field '_id'."
        elif case["creditor"] != creditor:
            issues["case"] = f"case '{doc['case']}' does not belong to creditor '{creditor}'"
            case = None
        return case
    case_id = state.ada_index.get("invoice", {}).get(_pair(creditor, doc["invoice_number"]))
    if case_id is None:
        issues["invoice_number"] = f"no case with invoice_number '{doc['invoice_number']}' for creditor '{creditor}'"
        return None
    return state.ada_cases[case_id]


def _refuse_duplicate(state: State, doc: dict[str, Any], issues: dict[str, str]) -> None:
    if "not unique" in issues.get("creditor_payment_reference", ""):
        state.ledger_refuse("ada.creditor-payments", doc["creditor"], doc["creditor_payment_reference"])
        state.changed()


def _store(state: State, doc: dict[str, Any], case: dict[str, Any] | None) -> dict[str, Any]:
    """Store a valid payment, settling at most what is outstanding on its case."""
    assert case is not None
    now = state.clock()
    stamp = rfc1123(now)
    amount = to_minor(doc["amount"])
    closed = case.get("closed", False)
    settled = 0 if closed else max(0, min(amount, case["outstanding_minor"]))
    case["outstanding_minor"] -= settled
    status = "error" if closed else "completed" if settled == amount else "warning"
    object_id = _object_id(state, now)
    stored: dict[str, Any] = {
        "_id": object_id,
        # `account` and `file_import_report` are read-only: whatever the client sent is replaced.
        "account": case["account"],
        "creditor": doc["creditor"],
        "case": case["case"],
        **({"invoice_number": doc["invoice_number"]} if doc.get("invoice_number") is not None else {}),
        "currency": doc["currency"],
        "amount": minor_number(amount),
        "bank_transaction_date": doc["bank_transaction_date"],
        "client_registration_date": doc.get("client_registration_date") or stamp,
        "creditor_payment_reference": doc.get("creditor_payment_reference"),
        "origin": doc["origin"],
        "status": status,
        "status_reason_locale": _REASONS[status],
        "settled_amount": minor_number(settled),
        "case_invoice_number": case["invoice_number"],
        "case_reference_number": case["reference_number"],
        "booking_date": stamp,
        "_created": stamp,
        "_updated": stamp,
    }
    stored["_etag"] = sha1_of(stored)
    state.ada_payments[object_id] = stored
    reference = stored["creditor_payment_reference"]
    if reference is not None:
        state.ada_index.setdefault("reference", {})[_pair(doc["creditor"], reference)] = object_id
        state.ledger_accept("ada.creditor-payments", doc["creditor"], reference, amount, doc["currency"])
    if settled:
        _store_payout_row(state, stored, case, settled, now)
    state.changed()
    return stored


def _store_payout_row(state: State, payment: dict[str, Any], case: dict[str, Any], settled: int, now: float) -> None:
    row_id = _object_id(state, now)
    row = {
        "_id": row_id,
        "creditor": payment["creditor"],
        "case": case["case"],
        "creditor_payment": payment["_id"],
        "amount": minor_number(settled),
        "vat_amount": 0,
        "total_amount": minor_number(settled),
        "currency": payment["currency"],
        "booking_date": payment["booking_date"],
        "invoice_number": case["invoice_number"],
        "reference_number": case["reference_number"],
        "finance_category": "capital",
        "payout": None,
        "_created": payment["_created"],
        "_updated": payment["_updated"],
    }
    row["_etag"] = sha1_of(row)
    state.ada_payouts[row_id] = row


def _post_answer(stored: dict[str, Any]) -> dict[str, Any]:
    return {
        "_updated": stored["_updated"],
        "_created": stored["_created"],
        "_etag": stored["_etag"],
        "_id": stored["_id"],
        "_status": "OK",
        "_payment_status": stored["status"],
    }


# --- reading ------------------------------------------------------------------------------------------


def _list(request: Request, docs: list[dict[str, Any]], resource: str) -> Response:
    """Eve list semantics: where (JSON equality, dot notation), sort, page, max_results (clamped to 100)."""
    where = _where(request.query_params.get("where"))
    if where:
        docs = [d for d in docs if all(_lookup(d, k) == v for k, v in where.items())]
    for field, descending in reversed(_sort(request.query_params.get("sort"))):
        # Stable sorts applied last key first give a multi-key sort; _id keeps insertion order in ties.
        docs.sort(key=lambda d, f=field: _sort_key(f, _lookup(d, f)), reverse=descending)
    page = max(int_param(request.query_params, "page", 1), 1)
    size = min(max(int_param(request.query_params, "max_results", DEFAULT_RESULTS), 1), MAX_RESULTS)
    total = len(docs)
    items = docs[(page - 1) * size : page * size]
    links: dict[str, Any] = {"parent": {"title": "home", "href": "/"}, "self": {"title": resource, "href": resource}}
    last = max(-(-total // size), 1)
    if page < last:
        links["next"] = {"title": "next page", "href": f"{resource}?max_results={size}&page={page + 1}"}
        links["last"] = {"title": "last page", "href": f"{resource}?max_results={size}&page={last}"}
    if page > 1:
        links["prev"] = {"title": "previous page", "href": f"{resource}?max_results={size}&page={page - 1}"}
    return JsonResponse({"_items": items, "_links": links, "_meta": {"page": page, "max_results": size, "total": total}})


def _where(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        where = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"Unable to parse `where` clause: {exc}") from exc
    if not isinstance(where, dict):
        raise ApiError(400, "Unable to parse `where` clause: must be a JSON object")
    if any(k.startswith("$") or (isinstance(v, dict) and any(str(x).startswith("$") for x in v)) for k, v in where.items()):
        raise ApiError(400, "The sandbox supports equality filters only in `where`")
    return where


def _sort(raw: str | None) -> list[tuple[str, bool]]:
    if not raw:
        return []
    fields = []
    for part in raw.split(","):
        part = part.strip()
        name = part.lstrip("-")
        if not name or not all(c.isalnum() or c in "._" for c in name):
            raise ApiError(400, f"Unable to parse `sort` clause {raw!r}; use e.g. sort=-_created,amount")
        fields.append((name, part.startswith("-")))
    return fields


def _sort_key(field: str, value: Any) -> tuple[int, Any]:
    # RFC 1123 strings do not sort by time as text; compare them as datetimes. Mixed types never compare.
    if field in _SORTABLE_DATES and (moment := parse_rfc1123(value)) is not None:
        return (0, moment.timestamp())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, 0)


def _lookup(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _object_id(state: State, now: float) -> str:
    """A 24-hex id like a MongoDB ObjectId: 4 bytes of time, then a counter, so ids sort by creation."""
    return f"{int(now) & 0xFFFFFFFF:08x}{state.next_number('ada_object', 1):016x}"


def _pair(creditor: str, value: str) -> str:
    return f"{creditor}\x1f{value}"
