"""ARM (Norway accounts receivable): documents, document batches, lists, payment reservations, autopostings."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from etl.sandbox.auth import require_access, require_bearer
from etl.sandbox.config import SandboxConfig
from etl.sandbox.envelopes import ApiError, JsonResponse, error_body, int_param, read_json
from etl.sandbox.readings import as_documented, conflict_status, refuses_repeats, stores_repeats
from etl.sandbox.state import State
from etl.sandbox.values import is_currency, is_iso_date, is_iso_datetime, kid_ok, minor_number, seed_minor, sha1_of, to_minor

__all__ = ["routes", "run_due", "seed_document"]

ACCOUNT_START = 500001
REFERENCE_START = 35001
BUNDLE_START = 430001
_REQUIRED = ("documentType", "customerNo", "documentNo", "documentDate", "dueDate", "currency")
_DOC_IDS = ("arItemId", "documentNo", "documentUuid", "referenceNo", "kid")
_CUSTOMER_IDS = ("accountNo", "customerNo")
# ARM list filters: query parameter (lower case, as ARM spells them) -> record field.
_FILTERS = {
    "documentno": "documentNo",
    "customerno": "customerNo",
    "accountno": "accountNo",
    "referenceno": "referenceNo",
    "aritemid": "arItemId",
    "documentuuid": "documentUuid",
    "kid": "kid",
}


def routes(config: SandboxConfig, state: State) -> list[Route]:
    """The ARM endpoints under /arm/clients/{clientno}/."""

    def begin(request: Request) -> int:
        token = require_bearer(request, state)
        run_due(state, config, state.clock())
        clientno = _clientno(request)
        require_access(config, token, "arm", clientno)
        return clientno

    async def post_document(request: Request) -> Response:
        clientno = begin(request)
        body = await read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("document"), dict):
            raise ApiError(400, 'Body must be {"metadata": {...}, "document": {...}}')
        status, answer, _ = create_document(state, config, clientno, body["document"])
        return JsonResponse(answer, status_code=status)

    async def post_batch(request: Request) -> Response:
        clientno = begin(request)
        body = await read_json(request)
        docs = body.get("documents") if isinstance(body, dict) else None
        if not isinstance(docs, list) or not docs or not all(isinstance(doc, dict) for doc in docs):
            raise ApiError(400, 'Body must be {"metadata": {...}, "documents": [{...}, ...]} with at least one document')
        batch_uuid = str(uuid.uuid4())
        now = state.clock()
        state.arm_batches[batch_uuid] = {
            "batchUuid": batch_uuid,
            "clientNo": clientno,
            "documents": docs,
            "created_at": now,
            "ready_at": now + config.batch_delay_s,
            "done": False,
            "items": [],
        }
        state.pending.setdefault("arm", []).append(batch_uuid)
        state.changed()
        answer = {
            "status": "RECEIVED",
            "result": "ACCEPTED",
            "message": f"Batch of {len(docs)} document(s) received; processing asynchronously",
            "clientNo": clientno,
            "batchUuid": batch_uuid,
        }
        return JsonResponse(answer, status_code=202)

    async def get_batch(request: Request) -> Response:
        clientno = begin(request)
        batch = state.arm_batches.get(request.path_params["batchuuid"])
        if batch is None or batch["clientNo"] != clientno:
            raise ApiError(404, "Batch not found")
        head = {"clientNo": clientno, "batchUuid": batch["batchUuid"]}
        if not batch["done"]:
            return JsonResponse(
                {"status": "PROCESSING", "result": "PENDING", "message": "Batch is being processed", **head, "items": []},
                status_code=202,
            )
        items = batch["items"]
        failed = sum(1 for item in items if item["result"] not in ("CREATED", "EXISTS"))
        result = "COMPLETED" if not failed else ("FAILED" if failed == len(items) else "PARTIAL")
        answer = {
            "status": "PROCESSED",
            "result": result,
            "message": f"{len(items) - failed} of {len(items)} document(s) processed, {failed} failed",
            **head,
            "items": items,
        }
        return JsonResponse(answer, status_code=206 if failed else 200)

    async def list_documents(request: Request) -> Response:
        clientno = begin(request)
        book = _book(state, clientno)
        rows = [_document_view(doc) for doc in book["documents"].values()]
        return _list_response(request, clientno, "documents", rows)

    async def list_aritems(request: Request) -> Response:
        clientno = begin(request)
        book = _book(state, clientno)
        rows = [_aritem_view(doc) for doc in book["documents"].values()]
        return _list_response(request, clientno, "arItems", rows)

    async def list_customers(request: Request) -> Response:
        clientno = begin(request)
        book = _book(state, clientno)
        rows = [{"customerNo": c, "accountNo": a} for c, a in book["customers"].items()]
        return _list_response(request, clientno, "customers", rows)

    async def post_reservation(request: Request) -> Response:
        clientno = begin(request)
        body = await read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("paymentreservation"), dict):
            raise ApiError(400, 'Body must be {"metadata": {...}, "paymentreservation": {...}}')
        status, answer = reserve_payment(state, clientno, body["paymentreservation"], config)
        return JsonResponse(answer, status_code=status)

    async def post_autopostings(request: Request) -> Response:
        clientno = begin(request)
        method = request.path_params["autopostingmethod"]
        if method.lower() not in {m.lower() for m in config.autoposting_methods}:
            raise ApiError(404, f"Unknown autoposting method {method!r}; known: {', '.join(config.autoposting_methods)}")
        body = await read_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, 'Body must be {"metadata": {...}, "postings": [...]}')
        postings, metadata = body.get("postings"), body.get("metadata") or {}
        if not isinstance(postings, list) or not postings or not all(isinstance(p, dict) for p in postings):
            raise ApiError(400, 'Body must be {"metadata": {...}, "postings": [{...}, ...]} with at least one posting')
        if not isinstance(metadata, dict):
            raise ApiError(400, "metadata must be an object")
        status, answer = autopost(state, clientno, method, metadata, postings, config)
        return JsonResponse(answer, status_code=status)

    base = "/arm/clients/{clientno}"
    return [
        Route(f"{base}/paymentreservations", post_reservation, methods=["POST"]),
        Route(f"{base}/documents", post_document, methods=["POST"]),
        Route(f"{base}/documents", list_documents, methods=["GET"]),
        Route(f"{base}/documents/batches", post_batch, methods=["POST"]),
        Route(f"{base}/batches/{{batchuuid}}", get_batch, methods=["GET"]),
        Route(f"{base}/aritems", list_aritems, methods=["GET"]),
        Route(f"{base}/customers", list_customers, methods=["GET"]),
        Route(f"{base}/autopostings/{{autopostingmethod}}", post_autopostings, methods=["POST"]),
    ]


# --- documents ---------------------------------------------------------------------------------------


def create_document(state: State, config: SandboxConfig, clientno: int, doc: Any) -> tuple[int, dict[str, Any], dict[str, Any] | None]:
    """Create one document: (HTTP status, ARM answer, stored record or None); shared by single and batch."""
    problems = _document_problems(doc, config.kid_check)
    document_no = doc.get("documentNo") if isinstance(doc, dict) else None
    if problems:
        return 422, error_body("arm", 422, "; ".join(problems), {"clientNo": clientno, "documentNo": document_no}), None
    book = _book(state, clientno)
    digest = sha1_of(doc)
    existing = book["documents"].get(document_no)
    # no-dedup: a repeated documentNo is simply another document (stored under a copy slot, see _store_document).
    if existing is not None and not stores_repeats(config, "arm.documents"):
        state.ledger_refuse("arm.documents", str(clientno), document_no)
        state.changed()
        if refuses_repeats(config):
            message = f"documentNo {document_no} already exists"
            return 409, error_body("arm", 409, message, {"result": "DUPLICATE", "clientNo": clientno, "documentNo": document_no}), None
        if existing["digest"] == digest:
            # The page lists 201 as the only success of this endpoint; as-documented keeps to it.
            status = 201 if as_documented(config) else 200
            return status, _created_answer(clientno, existing, "EXISTS", "Document already exists; not created again"), existing
        differs = sorted(k for k in set(doc) | set(existing["payload"]) if doc.get(k) != existing["payload"].get(k))
        message = f"documentNo {document_no} already exists with different data (differs in: {', '.join(differs)})"
        status = conflict_status(config)
        return status, error_body("arm", status, message, {"clientNo": clientno, "documentNo": document_no}), None
    record = _store_document(
        state,
        book,
        clientno,
        document_no=document_no,
        customer_no=doc["customerNo"],
        kid=doc.get("kid") or None,
        currency=doc["currency"],
        amount_minor=to_minor(doc["currencyAmounts"]["inclVat"]),
        payload=doc,
        digest=digest,
    )
    state.ledger_accept("arm.documents", str(clientno), document_no, record["amount_minor"], record["currency"])
    return 201, _created_answer(clientno, record, "CREATED", "CREATED"), record


def seed_document(state: State, item: dict[str, Any]) -> dict[str, Any]:
    """Store a document as if it had been created earlier; ValueError on bad input. Returns its ids."""
    try:
        clientno = int(item["clientNo"])
        document_no, customer_no = str(item["documentNo"]), str(item["customerNo"])
        currency = str(item["currency"])
        amount_minor = seed_minor(item["amount"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"arm_documents item {item!r}: needs clientNo, documentNo, customerNo, currency, amount ({exc})") from exc
    book = _book(state, clientno)
    record = book["documents"].get(document_no)
    if record is None:
        payload = {
            "documentType": item.get("documentType", "IN"),
            "customerNo": customer_no,
            "documentNo": document_no,
            "documentDate": item.get("documentDate", "2025-01-01"),
            "dueDate": item.get("dueDate", "2025-01-31"),
            "currency": currency,
            "kid": item.get("kid") or "",
            "currencyAmounts": {"inclVat": minor_number(amount_minor)},
        }
        record = _store_document(
            state,
            book,
            clientno,
            document_no=document_no,
            customer_no=customer_no,
            kid=item.get("kid") or None,
            currency=currency,
            amount_minor=amount_minor,
            payload=payload,
            digest=sha1_of(payload),
            account_no=item.get("accountNo"),
            reference_no=item.get("referenceNo"),
        )
    return {k: record[k] for k in ("clientNo", "documentNo", "customerNo", "accountNo", "referenceNo", "arItemId", "documentUuid")}


def _document_problems(doc: Any, kid_check: bool) -> list[str]:
    if not isinstance(doc, dict):
        return ["document must be an object"]
    missing = [f for f in _REQUIRED if doc.get(f) in (None, "")]
    amounts = doc.get("currencyAmounts")
    if not isinstance(amounts, dict) or amounts.get("inclVat") is None:
        missing.append("currencyAmounts.inclVat")
    problems = [f"Missing required field(s): {', '.join(missing)}"] if missing else []
    for f in ("documentType", "customerNo", "documentNo", "currency", "kid"):
        if doc.get(f) is not None and not isinstance(doc[f], str):
            problems.append(f"{f} must be a string")
    for f in ("documentDate", "dueDate"):
        if doc.get(f) not in (None, "") and not is_iso_date(doc[f]):
            problems.append(f"{f} must be a date YYYY-MM-DD, got {doc[f]!r}")
    currency = doc.get("currency")
    if isinstance(currency, str) and currency and not is_currency(currency):
        problems.append(f"currency must be an ISO 4217 code, got {currency!r}")
    if isinstance(amounts, dict):
        for f in ("exclVat", "vat", "inclVat"):
            if amounts.get(f) is not None:
                try:
                    to_minor(amounts[f])
                except ValueError:
                    problems.append(f"currencyAmounts.{f} must be a number with at most two decimals")
    lines = doc.get("documentLines")
    for i, line in enumerate(lines if isinstance(lines, list) else []):
        line_amounts = line.get("currencyAmounts") if isinstance(line, dict) else None
        for f in ("exclVat", "vat", "inclVat"):
            if isinstance(line_amounts, dict) and line_amounts.get(f) is not None:
                try:
                    to_minor(line_amounts[f])
                except ValueError:
                    problems.append(f"documentLines[{i}].currencyAmounts.{f} must be a number with at most two decimals")
    kid = doc.get("kid")
    if kid_check and isinstance(kid, str) and kid and not kid_ok(kid):
        problems.append(f"kid {kid} fails both the MOD10 and the MOD11 check")
    return problems


def _store_document(
    state: State,
    book: dict[str, Any],
    clientno: int,
    *,
    document_no: str,
    customer_no: str,
    kid: str | None,
    currency: str,
    amount_minor: int,
    payload: dict[str, Any],
    digest: str,
    account_no: Any = None,
    reference_no: Any = None,
) -> dict[str, Any]:
    account = book["customers"].get(customer_no)
    if account is None:
        account = int(account_no) if account_no is not None else book["next_account"]
        if str(account) in book["accounts"]:
            raise ValueError(f"accountNo {account} already belongs to customer {book['accounts'][str(account)]}")
        book["customers"][customer_no] = account
        book["accounts"][str(account)] = customer_no
        book["next_account"] = max(book["next_account"], account + 1)
    elif account_no is not None and int(account_no) != account:
        raise ValueError(f"customer {customer_no} already has accountNo {account}")
    reference = int(reference_no) if reference_no is not None else book["next_reference"]
    if str(reference) in book["by_reference"]:
        raise ValueError(f"referenceNo {reference} is already used")
    # Documents are kept by documentNo; another document with the same number (no-dedup) gets a copy slot.
    slot = document_no if document_no not in book["documents"] else f"{document_no}\x1f{reference}"
    book["next_reference"] = max(book["next_reference"], reference + 1)
    record = {
        "clientNo": clientno,
        "documentNo": document_no,
        "customerNo": customer_no,
        "accountNo": account,
        "referenceNo": reference,
        "arItemId": f"{clientno}-{account}-{reference}-0",
        "documentUuid": str(uuid.uuid4()),
        "documentBundleId": state.next_number("arm_bundle", BUNDLE_START),
        "kid": kid,
        "currency": currency,
        "amount_minor": amount_minor,
        "open_minor": amount_minor,
        "digest": digest,
        "payload": payload,
    }
    book["documents"][slot] = record
    book["by_reference"][str(reference)] = slot
    book["by_aritem"][record["arItemId"]] = slot
    book["by_uuid"][record["documentUuid"]] = slot
    if kid:
        book["by_kid"][kid] = slot
    state.changed()
    return record


def _created_answer(clientno: int, record: dict[str, Any], result: str, message: str) -> dict[str, Any]:
    return {
        "status": "PROCESSED",
        "result": result,
        "message": message,
        "clientNo": clientno,
        "accountNo": record["accountNo"],
        "referenceNo": record["referenceNo"],
        "documentBundleId": record["documentBundleId"],
        "customerNo": record["customerNo"],
        "documentNo": record["documentNo"],
        "warnings": [],
    }


def run_due(state: State, config: SandboxConfig, now: float) -> None:
    """Process every document batch whose processing time has come (lazily, so no timers are needed)."""
    queue = state.pending.get("arm")
    while queue and state.arm_batches[queue[0]]["ready_at"] <= now:
        batch = state.arm_batches[queue.pop(0)]
        for index, doc in enumerate(batch["documents"]):
            _, answer, record = create_document(state, config, batch["clientNo"], doc)
            batch["items"].append(
                {
                    "index": index,
                    "documentNo": doc.get("documentNo") if isinstance(doc, dict) else None,
                    "result": answer["result"],
                    "message": answer["message"],
                    "referenceNo": record["referenceNo"] if record else None,
                    "accountNo": record["accountNo"] if record else None,
                    "arItemId": record["arItemId"] if record else None,
                }
            )
        batch["done"] = True
        state.changed()


# --- lists -------------------------------------------------------------------------------------------


def _document_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        **doc["payload"],
        "documentUuid": doc["documentUuid"],
        "accountNo": doc["accountNo"],
        "referenceNo": doc["referenceNo"],
        "arItemId": doc["arItemId"],
        "documentBundleId": doc["documentBundleId"],
    }


def _aritem_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "arItemId": doc["arItemId"],
        "accountNo": doc["accountNo"],
        "customerNo": doc["customerNo"],
        "referenceNo": doc["referenceNo"],
        "documentNo": doc["documentNo"],
        "documentUuid": doc["documentUuid"],
        "kid": doc["kid"],
        "currency": doc["currency"],
        "dueDate": doc["payload"].get("dueDate"),
        "currencyAmount": minor_number(doc["amount_minor"]),
        "currencyAmountOpen": minor_number(doc["open_minor"]),
    }


def _list_response(request: Request, clientno: int, name: str, rows: list[dict[str, Any]]) -> Response:
    for param, field in _FILTERS.items():
        wanted = request.query_params.get(param)
        if wanted:
            # ARM values are case-insensitive.
            rows = [r for r in rows if field in r and str(r[field]).casefold() == wanted.casefold()]
    maximum = min(max(int_param(request.query_params, "maximumcount", 10000), 1), 10000)
    page_size = int_param(request.query_params, "pagesize", 100)
    page_size = 10 if page_size < 5 else min(page_size, 1000)
    page_no = max(int_param(request.query_params, "pageno", 1), 1)
    rows = rows[:maximum]
    page = rows[(page_no - 1) * page_size : page_no * page_size]
    answer = {
        "status": "PROCESSED",
        "result": "OK",
        "message": f"{len(page)} {name} returned",
        "clientNo": clientno,
        "totalCount": len(rows),
        "pageNo": page_no,
        "pageSize": page_size,
        "pageCount": -(-len(rows) // page_size),
        name: page,
    }
    return JsonResponse(answer)


# --- payment reservations -----------------------------------------------------------------------------


def reserve_payment(state: State, clientno: int, pr: dict[str, Any], config: SandboxConfig) -> tuple[int, dict[str, Any]]:
    """Validate and store one payment reservation; a repeated paymentId is answered (or refused), not stored again."""
    payment_id = pr.get("paymentId")
    if not isinstance(payment_id, str) or not payment_id.strip():
        raise ApiError(422, "paymentId is required and must be a non-empty string", clientNo=clientno)
    book = _book(state, clientno)
    digest = sha1_of(pr)
    prior = book["reservations"].get(payment_id)
    if prior is not None:
        state.ledger_refuse("arm.paymentreservations", str(clientno), payment_id)
        state.changed()
        # paymentId "must be unique" (the page), so no reading stores it twice.
        if refuses_repeats(config):
            raise ApiError(409, f"paymentId {payment_id} already exists", clientNo=clientno, paymentId=payment_id)
        if prior["digest"] == digest:
            return 200, prior["answer"]
        message = f"paymentId {payment_id} is already used by a different payment reservation"
        raise ApiError(conflict_status(config), message, clientNo=clientno, paymentId=payment_id)
    problems = []
    currency = pr.get("currency")
    if not is_currency(currency):
        problems.append("currency is required (ISO 4217 code)")
    amount = None
    if pr.get("currencyAmountPaid") is None:
        problems.append("currencyAmountPaid is required")
    else:
        try:
            amount = to_minor(pr["currencyAmountPaid"])
        except ValueError:
            problems.append("currencyAmountPaid must be a number with at most two decimals")
        else:
            if amount <= 0:
                problems.append("currencyAmountPaid must be a positive amount")
    if pr.get("paidTime") is not None and not is_iso_datetime(pr["paidTime"]):
        problems.append("paidTime must be an ISO 8601 date-time")
    if problems:
        raise ApiError(422, "; ".join(problems), clientNo=clientno, paymentId=payment_id)
    doc, customer_no = _resolve_target(book, pr)
    if doc is not None and doc["currency"] != currency:
        raise ApiError(422, f"currency {currency} differs from the document's currency {doc['currency']}", clientNo=clientno, paymentId=payment_id)
    answer = {
        "status": "PROCESSED",
        "result": "VALIDATED",
        "message": "Payment reservation validated",
        "clientNo": clientno,
        "accountNo": book["customers"][customer_no],
        "customerNo": customer_no,
        "paymentId": payment_id,
    }
    if as_documented(config):
        del answer["paymentId"]  # the page's body has no paymentId
    assert amount is not None and isinstance(currency, str)
    book["reservations"][payment_id] = {
        "digest": digest,
        "answer": answer,
        "arItemId": doc["arItemId"] if doc else None,
        "amount_minor": amount,
        "currency": currency,
        "created_at": state.clock(),
    }
    state.ledger_accept("arm.paymentreservations", str(clientno), payment_id, amount, currency)
    state.changed()
    return (201 if as_documented(config) else 200), answer


def _resolve_target(book: dict[str, Any], pr: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    given = {k: str(pr[k]) for k in (*_DOC_IDS, *_CUSTOMER_IDS) if pr.get(k) not in (None, "")}
    if not given:
        raise ApiError(
            422,
            "Identify a document (arItemId, documentNo, documentUuid, referenceNo, kid) or a customer (accountNo, customerNo, kid)",
        )
    docs = {}
    for key in _DOC_IDS:
        if key in given:
            doc = _find_document(book, key, given[key])
            if doc is not None:
                docs[doc["documentNo"]] = doc
    if len(docs) > 1:
        raise ApiError(422, f"The identifiers point to different documents: {', '.join(sorted(docs))}")
    doc = next(iter(docs.values()), None)
    customers = {doc["customerNo"]} if doc else set()
    if "customerNo" in given and given["customerNo"] in book["customers"]:
        customers.add(given["customerNo"])
    if "accountNo" in given and given["accountNo"] in book["accounts"]:
        customers.add(book["accounts"][given["accountNo"]])
    if len(customers) > 1:
        raise ApiError(422, f"The identifiers point to different customers: {', '.join(sorted(customers))}")
    if not customers:
        shown = ", ".join(f"{k}={v}" for k, v in given.items())
        raise ApiError(422, f"No document or customer found for {shown}")
    return doc, customers.pop()


def _find_document(book: dict[str, Any], key: str, value: str) -> dict[str, Any] | None:
    index = {"arItemId": "by_aritem", "documentUuid": "by_uuid", "referenceNo": "by_reference", "kid": "by_kid"}.get(key)
    document_no = book[index].get(value) if index else value
    return book["documents"].get(document_no) if document_no is not None else None


# --- autopostings -------------------------------------------------------------------------------------


def autopost(
    state: State, clientno: int, method: str, metadata: dict[str, Any], postings: list[dict[str, Any]], config: SandboxConfig
) -> tuple[int, dict[str, Any]]:
    """Apply an all-or-nothing batch of autopostings (or only validate it) as ARM documents it."""
    book = _book(state, clientno)
    validate_only = bool(metadata.get("validateOnly")) or any(p.get("validateOnly") for p in postings)
    suppress_all = bool(metadata.get("suppressWarnings"))
    open_now: dict[str, int] = {}  # running open amount per AR item, so two postings on one item add up
    results: list[dict[str, Any]] = []
    checked: list[tuple[dict[str, Any], int]] = []
    for posting in postings:
        error, warning, doc, amount = _check_posting(book, posting, open_now)
        item_id = posting.get("arItemId")
        if error or (warning and not (suppress_all or posting.get("suppressWarnings"))):
            kind = "ERROR" if error else "WARNING"
            results.append({"arItemId": item_id, "result": "FAILED", "resultType": kind, "message": error or warning})
            continue
        assert doc is not None
        open_now[doc["arItemId"]] = open_now.get(doc["arItemId"], doc["open_minor"]) - amount
        message = ("Posting validated" if validate_only else "Posting performed") + (f" (warning suppressed: {warning})" if warning else "")
        results.append({"arItemId": item_id, "result": "VALIDATED" if validate_only else "CREATED", "resultType": "OK", "message": message})
        checked.append((posting, amount))
    failed = sum(1 for r in results if r["result"] == "FAILED")
    if failed:
        for r in results:
            if r["result"] != "FAILED":
                r.update(result="FAILED", resultType="BATCH-REJECTED", message="Valid, but rejected because another posting in the batch failed")
        message = f"Batch rejected: {failed} of {len(postings)} posting(s) failed"
        if as_documented(config):
            # The page lists 200 for postings processed (rejected ones marked per posting), 400 for a bad request.
            return 200, {"status": "PROCESSED", "result": "FAILED", "message": message, "clientNo": clientno, "autoPostings": results}
        return 400, error_body("arm", 400, message, {"clientNo": clientno, "autoPostings": results})
    if validate_only:
        return 200, {"status": "PROCESSED", "result": "VALIDATED", "message": "Posting(s) validated, nothing stored", "clientNo": clientno, "autoPostings": results}
    for posting, amount in checked:
        doc = book["documents"][book["by_aritem"][posting["arItemId"]]]
        doc["open_minor"] -= amount
        key = f"{posting['arItemId']}/{posting.get('voucherNo') or posting.get('voucherDate') or ''}"
        book["postings"].append({"method": method, "key": key, "arItemId": posting["arItemId"], "amount_minor": amount, "posting": posting})
        state.ledger_accept("arm.autopostings", str(clientno), key, amount, posting["currency"])
    state.changed()
    return 200, {"status": "PROCESSED", "result": "CREATED", "message": "Posting(s) performed", "clientNo": clientno, "autoPostings": results}


def _check_posting(book: dict[str, Any], posting: dict[str, Any], open_now: dict[str, int]) -> tuple[str | None, str | None, dict[str, Any] | None, int]:
    """(error, warning, document, amount) for one posting, given the open amounts so far in the batch."""
    item_id = posting.get("arItemId")
    doc = _find_document(book, "arItemId", item_id) if isinstance(item_id, str) and item_id else None
    errors = []
    if doc is None:
        errors.append("arItemId is required" if not item_id else f"arItemId {item_id} not found")
    currency = posting.get("currency")
    if not currency:
        errors.append("currency is required")
    elif doc is not None and currency != doc["currency"]:
        errors.append(f"currency {currency} differs from the AR item's currency {doc['currency']}")
    amount = 0
    try:
        amount = to_minor(posting.get("currencyAmount"))
    except ValueError:
        errors.append("currencyAmount is required and must be a number with at most two decimals")
    else:
        if amount == 0:
            errors.append("currencyAmount must not be zero")
    for f in ("dueDate", "voucherDate"):
        if posting.get(f) not in (None, "") and not is_iso_date(posting[f]):
            errors.append(f"{f} must be a date YYYY-MM-DD")
    if errors:
        return "; ".join(errors), None, doc, amount
    assert doc is not None
    current = open_now.get(doc["arItemId"], doc["open_minor"])
    warning = None
    if amount > current:
        warning = f"currencyAmount {minor_number(amount)} exceeds the open amount {minor_number(current)} of the AR item"
    return None, warning, doc, amount


# --- helpers ------------------------------------------------------------------------------------------


def _clientno(request: Request) -> int:
    raw = request.path_params["clientno"]
    if not raw.isdigit():
        raise ApiError(404, f"Client {raw!r} not found")
    return int(raw)


def _book(state: State, clientno: int) -> dict[str, Any]:
    """The client's ARM book, created on first use (the sandbox serves any client number)."""
    book = state.arm.get(str(clientno))
    if book is None:
        book = state.arm[str(clientno)] = {
            "customers": {},  # customerNo -> accountNo
            "accounts": {},  # str(accountNo) -> customerNo
            "documents": {},  # documentNo -> record
            "by_reference": {},  # str(referenceNo) -> documentNo
            "by_aritem": {},  # arItemId -> documentNo
            "by_uuid": {},  # documentUuid -> documentNo
            "by_kid": {},  # kid -> documentNo
            "reservations": {},  # paymentId -> record
            "postings": [],
            "next_account": ACCOUNT_START,
            "next_reference": REFERENCE_START,
        }
    return book
