"""The shared shape of the three family clients: base URL, auth headers (renewed once on a 401), rate limit."""

from __future__ import annotations

from typing import Any, Protocol

from etl.amili.ratelimit import TokenBucket
from etl.amili.transport import AnswerLostError, Response, Transport

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

    async def call(self, method: str, path: str, *, idempotent: bool | None = None,
                   headers: dict[str, str] | None = None, **kwargs: Any) -> Response:
        """One request (with the transport's retries); on a 401 the token is renewed and the request sent once more.

        A POST is not idempotent unless the caller says so: it is repeated only after an answer that proves it was
        not processed (429, a refused connection, 401). When its fate is unknown (5xx, timeout, reset, or a 2xx
        whose body is not JSON) AnswerLostError is raised and the caller looks the item up before any resend.
        """
        if idempotent is None:
            idempotent = method != "POST"
        for attempt in range(2):
            auth = await self.auth.headers()
            resp = await self.transport.request(method, f"{self.base}/{path}", limiter=self.limiter,
                                                idempotent=idempotent, headers={**auth, **(headers or {})}, **kwargs)
            if resp.status == 401 and attempt == 0:
                # The token expired between our check and Amili's: a 401 means nothing was processed.
                self.auth.invalidate(auth)
                continue
            if not idempotent and 200 <= resp.status < 300 and not resp.parsed:
                raise AnswerLostError(f"{method} {path}: HTTP {resp.status} with a body that is not JSON: "
                                      f"{str(resp.body)[:200]!r}")
            return resp
        raise AssertionError("unreachable")  # pragma: no cover
