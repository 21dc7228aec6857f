"""Norway Collection (AutoCollect): payments in asynchronous batches under an idempotency key, batch status, search.

Results are mapped back to our payments without relying on fields the page does not show: by
`uniqueSourcePaymentId` when an item carries it, else by the invoice it names (a batch never holds two of our
payments for one invoice, see delivery/collection.py).
"""

from __future__ import annotations

from typing import Any

import orjson

from etl.amili.auth import NorwayAuth
from etl.amili.client import ApiClient
from etl.amili.outcome import Outcome, error_message
from etl.amili.ratelimit import TokenBucket
from etl.amili.transport import Response, Transport

__all__ = ["CollectionClient", "CollectionBatch", "TERMINAL", "json_body", "invoice_ref"]

TERMINAL = ("SUCCESS", "PARTIAL", "FAILED")
_SEARCH_PAGE = "100"


def json_body(body: Any) -> Any:
    """A body as JSON: the page prints the 202 answer as a JSON *string* holding the document, so unwrap one."""
    if isinstance(body, str):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            return body
    return body


def invoice_ref(item: dict[str, Any]) -> str | None:
    """The invoice a payment or batch item names: invoiceId, else invoiceNumber (as text)."""
    for name in ("invoiceId", "invoiceNumber"):
        if item.get(name) not in (None, ""):
            return f"{name}:{item[name]}"
    return None


def _is_duplicate(message: str) -> bool:
    # Our key was registered by an earlier batch (ours: the key is derived from our source): delivered.
    text = message.casefold()
    return "duplicate" in text or "already" in text


class CollectionBatch:
    """A payment batch as Amili reports it: id, status, our idempotency key if shown, and its raw items."""

    def __init__(self, data: dict[str, Any], http_status: int) -> None:
        self.batch_id = str(data.get("batchId") or "")
        self.status = str(data.get("status") or "")
        self.idempotency_key = data.get("idempotencyKey")
        self.succeeded = [i for i in data.get("succeeded") or [] if isinstance(i, dict)]
        self.failed = [i for i in data.get("failed") or [] if isinstance(i, dict)]
        self.http_status = http_status

    @property
    def done(self) -> bool:
        """True once the batch reached SUCCESS, PARTIAL or FAILED."""
        return self.status in TERMINAL

    def outcomes(self, keys: list[str], invoice_of: dict[str, str | None]) -> dict[str, Outcome]:
        """One outcome per our key found in the batch (`invoice_of`: our key -> the invoice its payment names)."""
        by_invoice = {inv: k for k, inv in invoice_of.items() if inv is not None and k in keys}
        wanted = set(keys)
        out: dict[str, Outcome] = {}
        for item, ok in [(i, True) for i in self.succeeded] + [(i, False) for i in self.failed]:
            source_id = item.get("uniqueSourcePaymentId")
            key = str(source_id) if source_id is not None and str(source_id) in wanted else \
                by_invoice.get(f"invoiceNumber:{item.get('invoiceNumber')}") or \
                by_invoice.get(f"invoiceId:{item.get('invoiceId')}")
            if key is None or key in out:
                continue
            if ok:
                out[key] = Outcome("confirmed", self.http_status, f"batch {self.status}",
                                   str(item.get("caseId") or item.get("invoiceId") or "") or None, body=item)
                continue
            msg = str(item["message"]) if item.get("message") else error_message(item)
            state = "confirmed" if _is_duplicate(msg) else "rejected"
            out[key] = Outcome(state, self.http_status, ("already registered: " + msg) if state == "confirmed" else msg,
                               body=item)
        return out

    def matches(self, keys: list[str], invoice_of: dict[str, str | None]) -> bool:
        """True when this finished batch holds exactly our payments: every item one of ours, all of ours there."""
        items = len(self.succeeded) + len(self.failed)
        return self.done and items == len(keys) and set(self.outcomes(keys, invoice_of)) == set(keys)


class CollectionClient(ApiClient):
    """Collection calls for one organisation."""

    def __init__(self, transport: Transport, auth: NorwayAuth, base_url: str, org_id: str,
                 limiter: TokenBucket | None = None, idempotency_header: str = "Idempotency-Key") -> None:
        super().__init__(transport, auth, f"{base_url}/orgs/{org_id}", limiter)
        self.org_id = org_id
        self.idempotency_header = idempotency_header

    async def post_payments(self, payments: list[dict[str, Any] | orjson.Fragment], idempotency_key: str) -> Response:
        """POST one chunk; 202 carries data.batchId. Not repeated when its fate is unknown (AnswerLostError)."""
        return await self.call("POST", "payments", json={"organizationId": self.org_id, "payments": payments},
                               headers={self.idempotency_header: idempotency_key})

    async def batch(self, batch_id: str) -> CollectionBatch | None:
        """GET one batch (None when Amili does not know it)."""
        resp = await self.call("GET", f"batches/{batch_id}")
        body = json_body(resp.body)
        data = body.get("data") if isinstance(body, dict) else None
        if resp.status != 200 or not isinstance(data, dict):
            return None
        return CollectionBatch(data, resp.status)

    async def search(self, **params: str) -> list[CollectionBatch]:
        """One page of GET batches (documented filters: IdempotencyKey, State, Type, SortDirection, PageSize)."""
        resp = await self.call("GET", "batches", params={"PageSize": _SEARCH_PAGE, **params})
        body = json_body(resp.body)
        data = body.get("data") if isinstance(body, dict) else None
        if resp.status != 200 or not isinstance(data, list):
            return []
        return [CollectionBatch(b, resp.status) for b in data if isinstance(b, dict) and b.get("batchId")]

    @staticmethod
    def refused_indexes(body: Any) -> dict[int, str]:
        """From a 4xx's errors (`field` like `payments[3].amount`): the message per refused payment index."""
        out: dict[int, str] = {}
        errors = body.get("errors") if isinstance(body, dict) else None
        for e in errors or []:
            if not isinstance(e, dict):
                continue
            field = str(e.get("field") or "")
            if field.startswith("payments[") and "]" in field:
                idx = field[len("payments["):field.index("]")]
                if idx.isdigit():
                    i = int(idx)
                    out[i] = (out[i] + "; " if i in out else "") + f"{field}: {e.get('message')}"
        return out
