"""ARM payment reservations: one per request, `concurrency` at a time under the rate limit."""

from __future__ import annotations

from typing import Any

import polars as pl

from etl.amili.arm import ArmClient
from etl.amili.delivery.engine import Run, singles
from etl.amili.outcome import Outcome
from etl.config import CreditorConfig


async def deliver_reservations(run: Run, c: CreditorConfig, rows: pl.DataFrame) -> None:
    """Deliver one creditor's ARM payment reservations, one request each."""
    arm = run.clients.arm(c)

    async def send(row: dict[str, Any]) -> tuple[Outcome, bool]:
        # ARM answers a repeated paymentId with the first answer and stores nothing: a resend is the lookup.
        return await arm.create_reservation(ArmClient.reservation_body(row["payload"])), True

    await singles(run, "arm.paymentreservations", rows, send)
