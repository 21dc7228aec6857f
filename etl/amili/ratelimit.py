"""A client-side rate limit: an asyncio token bucket per API family, so we stay under Amili's limit."""

from __future__ import annotations

import asyncio
import time

__all__ = ["TokenBucket"]


class TokenBucket:
    """At most `rate` acquisitions per second on average, with a burst of `burst` (0 rate: unlimited).

    Each caller reserves the next free slot and sleeps until it, so waiters are served in order and the
    bucket never needs a background task.
    """

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self._next = 0.0  # monotonic time at which the next slot is free

    async def acquire(self) -> None:
        """Wait for a slot."""
        if self.rate <= 0:
            return
        now = time.monotonic()
        interval = 1.0 / self.rate
        # Idle time earns at most `burst` slots of credit.
        start = max(self._next, now - (self.burst - 1) * interval)
        self._next = start + interval
        if start > now:
            await asyncio.sleep(start - now)
