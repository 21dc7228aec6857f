"""Per-client rate limiting: one token bucket per access token (or client IP when there is none)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """Token buckets of `rate` requests per second with a burst of `rate` (at least one request)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate limit must be positive")
        self.rate = rate
        self.clock = clock
        self.capacity = max(rate, 1.0)
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last refill time)

    def reset(self) -> None:
        """Forget all buckets."""
        self._buckets.clear()

    def take(self, client: str, now: float | None = None) -> float:
        """Spend one request for `client`: 0.0 when allowed, else the seconds until one is available."""
        now = self.clock() if now is None else now
        tokens, last = self._buckets.get(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + max(0.0, now - last) * self.rate)  # a clock set back earns nothing
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1.0 - tokens) / self.rate

    @staticmethod
    def retry_after(wait_s: float) -> str:
        """The Retry-After header value (whole seconds, at least 1) for a wait."""
        return str(max(1, math.ceil(wait_s)))
