"""The shared shape of the three family clients: base URL, auth headers (renewed once on a 401), rate limit."""

from __future__ import annotations

from typing import Any, Protocol

from etl.amili.ratelimit import TokenBucket
from etl.amili.transport import Response, Transport

__all__ = ["ApiClient", "Auth"]


class Auth(Protocol):
    """What a client needs from an auth: headers, and forgetting a token Amili refused."""

    async def headers(self) -> dict[str, str]: ...

    def invalidate(self, used: dict[str, str] | None = None) -> None: ...


class ApiClient:
    """Requests under one base URL with one auth and one client-side rate limit."""

    def __init__(self, transport: Transport, auth: Auth, base_url: str, limiter: TokenBucket | None = None) -> None:
        self.transport = transport
        self.auth = auth
        self.base = base_url
        self.limiter = limiter

    async def call(self, method: str, path: str, *, idempotent: bool = True, headers: dict[str, str] | None = None,
                   **kwargs: Any) -> Response:
        """One request (with the transport's retries); on a 401 the token is renewed and the request sent once more."""
        for attempt in range(2):
            auth = await self.auth.headers()
            resp = await self.transport.request(method, f"{self.base}/{path}", limiter=self.limiter,
                                                idempotent=idempotent, headers={**auth, **(headers or {})}, **kwargs)
            if resp.status == 401 and attempt == 0:
                # The token expired between our check and Amili's: a 401 means nothing was processed.
                self.auth.invalidate(auth)
                continue
            return resp
        raise AssertionError("unreachable")  # pragma: no cover
