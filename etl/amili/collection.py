"""Norway Collection (AutoCollect): payments in asynchronous batches under an Idempotency-Key, batch status, search."""

from __future__ import annotations

from typing import Any

import orjson

from etl.amili.auth import NorwayAuth
from etl.amili.client import ApiClient
from etl.amili.outcome import Outcome, error_message
from etl.amili.ratelimit import TokenBucket
from etl.amili.transport import Response, Transport

__all__ = ["CollectionClient", "CollectionBatch", "TERMINAL"]

TERMINAL = ("SUCCESS", "PARTIAL", "FAILED")


class CollectionBatch:
    """A payment batch as Amili reports it: status and one outcome per uniqueSourcePaymentId once terminal."""

    def __init__(self, batch_id: str, status: str, outcomes: dict[str, Outcome]) -> None:
        self.batch_id = batch_id
        self.status = status
        self.outcomes = outcomes

    @property
    def done(self) -> bool:
        """True once the batch reached SUCCESS, PARTIAL or FAILED."""
        return self.status in TERMINAL


def _is_duplicate(message: str) -> bool:
    # Our key was registered by an earlier batch (ours: the key is derived from our source): delivered.
    text = message.casefold()
    return "duplicate" in text and "uniquesourcepaymentid" in text


def batch_of(data: dict[str, Any], http_status: int) -> CollectionBatch:
    """Read a batch body (`data` of GET batches/{id} or one element of the search) into outcomes."""
    outcomes: dict[str, Outcome] = {}
    for item in data.get("succeeded") or []:
        if isinstance(item, dict) and item.get("uniqueSourcePaymentId"):
            outcomes[str(item["uniqueSourcePaymentId"])] = Outcome(
                "confirmed", http_status, f"batch {data.get('status')}", str(item.get("caseId") or item.get("invoiceId") or "") or None,
                body=item)
    for item in data.get("failed") or []:
        if isinstance(item, dict) and item.get("uniqueSourcePaymentId"):
            msg = error_message(item) if not item.get("message") else str(item["message"])
            state = "confirmed" if _is_duplicate(msg) else "rejected"
            outcomes[str(item["uniqueSourcePaymentId"])] = Outcome(
                state, http_status, ("already registered: " + msg) if state == "confirmed" else msg, body=item)
    return CollectionBatch(str(data.get("batchId") or ""), str(data.get("status") or ""), outcomes)


class CollectionClient(ApiClient):
    """Collection calls for one organisation."""

    def __init__(self, transport: Transport, auth: NorwayAuth, base_url: str, org_id: str,
                 limiter: TokenBucket | None = None) -> None:
        super().__init__(transport, auth, f"{base_url}/orgs/{org_id}", limiter)
        self.org_id = org_id

    async def post_payments(self, payments: list[dict[str, Any] | orjson.Fragment], idempotency_key: str) -> Response:
        """POST one chunk; 202 carries data.batchId. A replay under the same key answers the first batch."""
        return await self.call("POST", "payments", json={"organizationId": self.org_id, "payments": payments},
                               headers={"Idempotency-Key": idempotency_key})

    async def batch(self, batch_id: str) -> CollectionBatch | None:
        """GET one batch (None when Amili does not know it)."""
        resp = await self.call("GET", f"batches/{batch_id}")
        data = resp.body.get("data") if isinstance(resp.body, dict) else None
        if resp.status != 200 or not isinstance(data, dict):
            return None
        return batch_of(data, resp.status)

    async def find_batch(self, idempotency_key: str) -> CollectionBatch | None:
        """The batch that carried our Idempotency-Key, searched with GET batches?IdempotencyKey= (None if none)."""
        resp = await self.call("GET", "batches", params={"IdempotencyKey": idempotency_key, "PageSize": "10"})
        data = resp.body.get("data") if isinstance(resp.body, dict) else None
        if resp.status != 200 or not isinstance(data, list):
            return None
        for b in data:
            if isinstance(b, dict) and b.get("idempotencyKey") in (None, idempotency_key):
                return batch_of(b, resp.status)
        return None

    @staticmethod
    def refused_indexes(body: Any) -> dict[int, str]:
        """From a 422's errors (`field` like `payments[3].amount`): the message per refused payment index."""
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
