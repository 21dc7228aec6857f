"""Norway ARM: documents (single and batches), payment reservations and autopostings (bodies per Amili's docs)."""

from __future__ import annotations

from typing import Any

import orjson

from etl.amili.client import ApiClient
from etl.amili.outcome import DUPLICATE, Outcome, error_message, names_duplicate
from etl.amili.ratelimit import TokenBucket
from etl.amili.transport import Response, Transport
from etl.amili.auth import NorwayAuth

__all__ = ["ArmClient", "BatchStatus", "ar_item_id"]

_USER = "amili-etl"
_BATCH_OK = ("CREATED", "EXISTS")


def ar_item_id(body: dict[str, Any]) -> str | None:
    """`{clientNo}-{accountNo}-{referenceNo}-0` from an ARM answer, as the docs' examples build it."""
    if body.get("arItemId"):
        return str(body["arItemId"])
    ids = [body.get("clientNo"), body.get("accountNo"), body.get("referenceNo")]
    return "-".join(str(x) for x in ids) + "-0" if all(x is not None for x in ids) else None


class BatchStatus:
    """A document batch's status: done or not, and one outcome per documentNo when done."""

    def __init__(self, done: bool, outcomes: dict[str, Outcome]) -> None:
        self.done = done
        self.outcomes = outcomes


class ArmClient(ApiClient):
    """ARM calls for one client number."""

    def __init__(self, transport: Transport, auth: NorwayAuth, base_url: str, client_no: int,
                 limiter: TokenBucket | None = None) -> None:
        super().__init__(transport, auth, f"{base_url}/clients/{client_no}", limiter)
        self.client_no = client_no

    # --- documents ---------------------------------------------------------------------------------------

    async def create_document(self, document: dict[str, Any] | orjson.Fragment) -> Outcome:
        """POST one document; a documentNo Amili already holds with the same data counts as delivered."""
        resp = await self.call("POST", "documents", json={"metadata": {"userId": _USER}, "document": document})
        body = resp.body
        if 200 <= resp.status < 300:
            body = body if isinstance(body, dict) else {}
            return Outcome("confirmed", resp.status, str(body.get("message") or body.get("result") or ""),
                           ar_item_id({"clientNo": self.client_no, **body}), body=body)
        if names_duplicate(resp.status, body):
            return Outcome(DUPLICATE, resp.status, error_message(body), body=body)
        return Outcome("rejected", resp.status, error_message(body), body=body)

    async def find_document(self, document_no: str) -> Outcome | None:
        """The document Amili holds under `document_no` as a confirmed outcome, or None (GET list, filtered)."""
        resp = await self.call("GET", "documents", params={"documentno": document_no, "maximumcount": "5"})
        if resp.status != 200 or not isinstance(resp.body, dict):
            return None
        for doc in resp.body.get("documents") or []:
            if isinstance(doc, dict) and str(doc.get("documentNo", "")).casefold() == document_no.casefold():
                return Outcome("confirmed", 200, "found in ARM", ar_item_id({"clientNo": self.client_no, **doc}), body=doc)
        return None

    async def post_document_batch(self, documents: list[dict[str, Any] | orjson.Fragment]) -> Response:
        """POST a batch of documents; a 202 carries the batchUuid to poll."""
        return await self.call("POST", "documents/batches", json={"metadata": {"userId": _USER}, "documents": documents})

    async def batch_status(self, batch_uuid: str) -> BatchStatus:
        """GET the batch: not done while 202; on 200/206 one outcome per documentNo."""
        resp = await self.call("GET", f"batches/{batch_uuid}")
        body = resp.body if isinstance(resp.body, dict) else {}
        if resp.status == 202:
            return BatchStatus(False, {})
        if resp.status not in (200, 206):
            # 404 and friends: the batch is unknown; its items are left to a lookup by documentNo.
            return BatchStatus(True, {})
        outcomes: dict[str, Outcome] = {}
        for item in body.get("items") or []:
            if not isinstance(item, dict) or item.get("documentNo") is None:
                continue
            result = str(item.get("result") or "")
            state = "confirmed" if result in _BATCH_OK else "rejected"
            if state == "rejected" and names_duplicate(400, item):
                state = DUPLICATE  # held already (an earlier attempt of ours): the caller confirms it by a lookup
            outcomes[str(item["documentNo"])] = Outcome(
                state, resp.status, f"{result}: {item.get('message') or ''}".strip(": "),
                ar_item_id({"clientNo": self.client_no, **item}) if state == "confirmed" else None, body=item)
        return BatchStatus(True, outcomes)

    async def find_ar_item(self, document_no: str) -> str | None:
        """The arItemId of the document `document_no` (GET aritems, filtered), or None."""
        resp = await self.call("GET", "aritems", params={"documentno": document_no, "maximumcount": "5"})
        if resp.status != 200 or not isinstance(resp.body, dict):
            return None
        for item in resp.body.get("arItems") or []:
            if isinstance(item, dict) and str(item.get("documentNo", "")).casefold() == document_no.casefold():
                return ar_item_id({"clientNo": self.client_no, **item})
        return None

    # --- payment reservations ----------------------------------------------------------------------------

    async def create_reservation(self, reservation: dict[str, Any] | bytes) -> Outcome:
        """POST one payment reservation: confirmed on any 2xx; a refusal naming the paymentId as used is DUPLICATE.

        `reservation` may be the pre-encoded request body (bytes), so the hot path encodes nothing per item.
        """
        if isinstance(reservation, bytes):
            resp = await self.call("POST", "paymentreservations", content=reservation)
        else:
            resp = await self.call("POST", "paymentreservations",
                                   json={"metadata": {"userId": _USER}, "paymentreservation": reservation})
        body = resp.body
        if 200 <= resp.status < 300:
            msg = str(body.get("message", "")) if isinstance(body, dict) else ""
            pid = body.get("paymentId") if isinstance(body, dict) else None
            return Outcome("confirmed", resp.status, msg, str(pid) if pid else None, body=body)
        if names_duplicate(resp.status, body):
            # The docs say paymentId must be unique: a refusal that names it as used means "delivered before".
            return Outcome(DUPLICATE, resp.status, error_message(body), body=body)
        return Outcome("rejected", resp.status, error_message(body), body=body)

    @staticmethod
    def reservation_body(payload_json: str) -> bytes:
        """The request body around one stored reservation payload (canonical JSON), without re-encoding it."""
        return b'{"metadata":{"userId":"' + _USER.encode() + b'"},"paymentreservation":' + payload_json.encode() + b"}"

    # --- autopostings ------------------------------------------------------------------------------------

    async def autopost(self, method: str, postings: list[dict[str, Any]], *, validate_only: bool = False) -> Response:
        """POST one all-or-nothing batch of autopostings. Not idempotent: only unprocessed failures are repeated."""
        body = {"metadata": {"userId": _USER, "suppressWarnings": False, "validateOnly": validate_only},
                "postings": postings}
        return await self.call("POST", f"autopostings/{method}", json=body, idempotent=validate_only or None)
