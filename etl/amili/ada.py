"""Sweden ADA (Eve conventions): creditor payments, looked up by creditor_payment_reference before any resend."""

from __future__ import annotations

from typing import Any

import orjson

from etl.amili.auth import AdaAuth
from etl.amili.outcome import Outcome, error_message
from etl.amili.transport import Response, Transport
from etl.money import decimal_to_minor

__all__ = ["AdaClient"]


def _settled(doc: dict[str, Any]) -> int | None:
    value = doc.get("settled_amount")
    return None if value is None else decimal_to_minor(value)


class AdaClient:
    """ADA calls with one access token."""

    def __init__(self, transport: Transport, auth: AdaAuth, base_url: str) -> None:
        self.transport = transport
        self.auth = auth
        self.base = base_url

    async def _call(self, method: str, path: str, **kwargs: Any) -> Response:
        for attempt in range(2):
            resp = await self.transport.request(method, f"{self.base}/{path}", headers=await self.auth.headers(), **kwargs)
            if resp.status == 401 and attempt == 0:
                self.auth.invalidate()
                continue
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    async def find_payment(self, reference: str) -> dict[str, Any] | None:
        """The creditor payment Amili holds under our creditor_payment_reference, or None."""
        where = orjson.dumps({"creditor_payment_reference": reference}).decode()
        resp = await self._call("GET", "creditor--payments", params={"where": where, "max_results": "1"})
        if resp.status != 200 or not isinstance(resp.body, dict):
            return None
        items = resp.body.get("_items") or []
        return items[0] if items else None

    async def create_payment(self, payment: dict[str, Any]) -> Outcome:
        """POST one creditor payment and read back what Amili settled."""
        resp = await self._call("POST", "creditor--payments", json=payment)
        body = resp.body
        if resp.status == 201 and isinstance(body, dict):
            doc = await self._read(str(body.get("_id"))) if body.get("_id") else None
            return self.outcome_of(doc or body, resp.status)
        if resp.status == 422 and "creditor_payment_reference" in error_message(body) and "unique" in error_message(body):
            # Already there (an earlier attempt got through): read it back instead of calling it rejected.
            found = await self.find_payment(str(payment.get("creditor_payment_reference")))
            if found:
                return self.outcome_of(found, 200)
        return Outcome("rejected", resp.status, error_message(body), body=body)

    async def _read(self, payment_id: str) -> dict[str, Any] | None:
        resp = await self._call("GET", f"creditor--payments/{payment_id}")
        return resp.body if resp.status == 200 and isinstance(resp.body, dict) else None

    @staticmethod
    def outcome_of(doc: dict[str, Any], status: int) -> Outcome:
        """A stored creditor payment as an outcome: confirmed, with ADA's id, status and settled amount."""
        pay_status = doc.get("status") or doc.get("_payment_status") or ""
        if pay_status == "error":
            return Outcome("rejected", status, str(doc.get("status_reason_locale") or "error"), doc.get("_id"), body=doc)
        return Outcome("confirmed", status, str(pay_status), doc.get("_id"), _settled(doc), body=doc)
