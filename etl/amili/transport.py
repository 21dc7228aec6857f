"""One place where HTTP happens: an httpx.AsyncClient with explicit limits, retries, and error translation."""

from __future__ import annotations

import datetime as dt
import email.utils
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import stamina

from etl.config import HttpConfig
from etl.errors import AmiliUnavailableError

__all__ = ["Response", "Transport", "TransientError"]

_RETRY_STATUSES = {429, 500, 502, 503, 504}


class TransientError(Exception):
    """A failure worth retrying: 429, 5xx, a timeout, a reset or refused connection."""

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


@dataclass(frozen=True)
class Response:
    """An HTTP answer reduced to what the clients need."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None when absent or odd."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def _decode(resp: httpx.Response) -> Any:
    if not resp.content:
        return None
    try:
        return orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        return resp.text[:500]


def _backoff_hook(exc: Exception) -> bool | float:
    """stamina hook: retry transient errors, honouring Retry-After when the server gave one."""
    if isinstance(exc, TransientError):
        return exc.retry_after if exc.retry_after is not None else True
    return False


class Transport:
    """An async HTTP client with a sized connection pool, explicit timeouts and retries."""

    def __init__(self, http: HttpConfig) -> None:
        self.http = http
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(http.timeout_s, connect=min(10.0, http.timeout_s)),
            limits=httpx.Limits(max_connections=http.concurrency, max_keepalive_connections=http.concurrency),
            verify=http.verify_tls,
            headers={"User-Agent": "amili-etl"},
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()

    async def once(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Response:
        """One attempt. Raises TransientError for retryable failures; returns any other answer."""
        content = orjson.dumps(json) if json is not None else None
        hdrs = dict(headers or {})
        if content is not None:
            hdrs["Content-Type"] = "application/json"
        try:
            resp = await self.client.request(method, url, content=content, data=data, headers=hdrs, params=params)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{method} {url}: timed out ({type(exc).__name__})") from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise TransientError(f"{method} {url}: connection failed ({type(exc).__name__}: {exc})") from None
        except httpx.HTTPError as exc:
            raise TransientError(f"{method} {url}: {type(exc).__name__}: {exc}") from None
        if resp.status_code in _RETRY_STATUSES:
            raise TransientError(
                f"{method} {url}: HTTP {resp.status_code}",
                retry_after=_retry_after(resp.headers.get("Retry-After")),
                status=resp.status_code,
            )
        return Response(resp.status_code, _decode(resp), dict(resp.headers))

    async def request(self, method: str, url: str, **kwargs: Any) -> Response:
        """`once` with retries (backoff with jitter, Retry-After honoured, capped by attempts and total time).

        Raises AmiliUnavailableError when every attempt failed transiently.
        """
        try:
            async for attempt in stamina.retry_context(
                on=_backoff_hook,
                attempts=self.http.max_attempts,
                timeout=self.http.max_retry_time_s,
                wait_initial=0.05,
                wait_max=5.0,
                wait_jitter=0.2,
            ):
                with attempt:
                    return await self.once(method, url, **kwargs)
        except TransientError as exc:
            raise AmiliUnavailableError(f"Amili unavailable: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover
