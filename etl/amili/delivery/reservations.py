"""ARM payment reservations: one per request, `concurrency` at a time under the rate limit."""

from __future__ import annotations

from typing import Any

import polars as pl

from etl.amili.arm import ArmClient
from etl.amili.delivery.engine import Run, deliver_one, singles
from etl.amili.outcome import Outcome
from etl.config import CreditorConfig


async def deliver_reservations(run: Run, c: CreditorConfig, rows: pl.DataFrame) -> None:
    """Deliver one creditor's ARM payment reservations, one request each."""
    arm = run.clients.arm(c)

    async def send(row: dict[str, Any]) -> tuple[Outcome, bool]:
        # ARM documents no lookup for reservations, but says paymentId must be unique: a resend after a lost
        # answer is allowed, and a refusal naming the paymentId as used means "delivered before".
        body = ArmClient.reservation_body(row["payload"])
        return await deliver_one(row, lambda: arm.create_reservation(body), None)

    await singles(run, "arm.paymentreservations", rows, send)
