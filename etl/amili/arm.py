"""Norway ARM: documents and payment reservations (paths per DESIGN.md, bodies per Amili's docs)."""

from __future__ import annotations

from typing import Any

from etl.amili.auth import NorwayAuth
from etl.amili.outcome import Outcome, error_message
from etl.amili.transport import Transport

__all__ = ["ArmClient"]

_USER = "amili-etl"


class ArmClient:
    """ARM calls for one client number."""

    def __init__(self, transport: Transport, auth: NorwayAuth, base_url: str, client_no: int) -> None:
        self.transport = transport
        self.auth = auth
        self.base = f"{base_url}/clients/{client_no}"

    async def _post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        for attempt in range(2):  # one renewal on 401: the token may have expired between check and use
            resp = await self.transport.request("POST", f"{self.base}/{path}", json=body, headers=await self.auth.headers())
            if resp.status == 401 and attempt == 0:
                self.auth.invalidate()
                continue
            return resp.status, resp.body
        raise AssertionError("unreachable")  # pragma: no cover

    async def create_document(self, document: dict[str, Any]) -> Outcome:
        """POST one document; a documentNo Amili already holds with the same data counts as delivered."""
        status, body = await self._post("documents", {"metadata": {"userId": _USER}, "document": document})
        if status in (200, 201) and isinstance(body, dict):
            ids = [body.get("clientNo"), body.get("accountNo"), body.get("referenceNo")]
            ar_item = "-".join(str(x) for x in ids) + "-0" if all(x is not None for x in ids) else None
            return Outcome("confirmed", status, str(body.get("message") or body.get("result") or ""), ar_item, body=body)
        return Outcome("rejected", status, error_message(body), body=body)

    async def create_reservation(self, reservation: dict[str, Any]) -> Outcome:
        """POST one payment reservation; a repeated paymentId with the same data is answered, not stored twice."""
        status, body = await self._post(
            "paymentreservations", {"metadata": {"userId": _USER}, "paymentreservation": reservation}
        )
        if status in (200, 201):
            msg = str(body.get("message", "")) if isinstance(body, dict) else ""
            return Outcome("confirmed", status, msg, reservation.get("paymentId"), body=body)
        return Outcome("rejected", status, error_message(body), body=body)
