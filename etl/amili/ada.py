"""Sweden ADA (Eve conventions): creditor payments, single or bulk, looked up by creditor_payment_reference."""

from __future__ import annotations

from typing import Any

import orjson

from etl.amili.client import ApiClient
from etl.amili.outcome import DUPLICATE, Outcome, error_message, names_duplicate
from etl.amili.transport import Response
from etl.money import decimal_to_minor

__all__ = ["AdaClient", "only_not_unique"]


def _settled(doc: dict[str, Any]) -> int | None:
    value = doc.get("settled_amount")
    return None if value is None else decimal_to_minor(value)


def only_not_unique(issues: Any) -> bool:
    """True when the one problem is that our creditor_payment_reference exists already (an earlier attempt got through)."""
    return isinstance(issues, dict) and set(issues) == {"creditor_payment_reference"} and \
        "unique" in str(issues["creditor_payment_reference"])


class AdaClient(ApiClient):
    """ADA calls with one access token."""

    async def find_payment(self, reference: str) -> dict[str, Any] | None:
        """The creditor payment Amili holds under our creditor_payment_reference, or None."""
        where = orjson.dumps({"creditor_payment_reference": reference}).decode()
        resp = await self.call("GET", "creditor--payments", params={"where": where, "max_results": "1"})
        if resp.status != 200 or not isinstance(resp.body, dict):
            return None
        items = resp.body.get("_items") or []
        return items[0] if items else None

    async def create_payment(self, payment: dict[str, Any]) -> Outcome:
        """POST one creditor payment and read back what Amili settled; a refusal of our reference as held is DUPLICATE."""
        resp = await self.call("POST", "creditor--payments", json=payment)
        body = resp.body
        if 200 <= resp.status < 300:
            return await self.answered(body, resp.status) if isinstance(body, dict) else \
                Outcome("confirmed", resp.status, "stored", body=body)
        if (resp.status == 422 and isinstance(body, dict) and only_not_unique(body.get("_issues"))) or \
                names_duplicate(resp.status, body):
            return Outcome(DUPLICATE, resp.status, error_message(body), body=body)
        return Outcome("rejected", resp.status, error_message(body), body=body)

    async def lookup(self, reference: str) -> Outcome | None:
        """The outcome of the payment Amili holds under our reference, or None when it holds none."""
        found = await self.find_payment(reference)
        return self.outcome_of(found, 200) if found is not None else None

    async def answered(self, answer: dict[str, Any], status: int) -> Outcome:
        """The outcome of a created payment. `completed` means settled in full; anything else (a `warning`: more
        than was outstanding) is read back for the settled amount, which reconciliation compares."""
        if answer.get("_payment_status") != "completed" and answer.get("_id"):
            doc = await self._read(str(answer["_id"]))
            if doc is not None:
                return self.outcome_of(doc, status)
        return self.outcome_of(answer, status)

    async def create_bulk(self, payments: list[dict[str, Any] | orjson.Fragment]) -> Response:
        """POST a JSON list: all stored (201, `_items` in order) or none (422, `_items` with each one's issues)."""
        return await self.call("POST", "creditor--payments", json=payments)

    async def _read(self, payment_id: str) -> dict[str, Any] | None:
        resp = await self.call("GET", f"creditor--payments/{payment_id}")
        return resp.body if resp.status == 200 and isinstance(resp.body, dict) else None

    @staticmethod
    def outcome_of(doc: dict[str, Any], status: int) -> Outcome:
        """A stored creditor payment as an outcome: confirmed, with ADA's id, status and settled amount."""
        pay_status = doc.get("status") or doc.get("_payment_status") or ""
        if pay_status == "error":
            return Outcome("rejected", status, str(doc.get("status_reason_locale") or "error"), doc.get("_id"), body=doc)
        return Outcome("confirmed", status, str(pay_status), doc.get("_id"), _settled(doc), body=doc)
