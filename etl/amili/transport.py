"""One place where HTTP happens: an httpx.AsyncClient with explicit limits, retries, and error translation.

Every lower-level failure (httpx exceptions, 429, 5xx) becomes a TransientError here and, once the retries are
spent, an AmiliUnavailableError: no other module catches an httpx exception.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import functools
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import stamina

from etl.amili.ratelimit import TokenBucket
from etl.config import HttpConfig, plain_http_problem
from etl.errors import AmiliUnavailableError, ConfigError

__all__ = ["AnswerLostError", "Response", "Transport", "TransientError", "full_jitter"]

# stamina logs every scheduled retry on the root logger by default; our retries are counted in Transport.stats and
# summarised per run instead of one stderr line each.
stamina.instrumentation.set_on_retry_hooks([])

_RETRY_STATUSES = {429, 500, 502, 503, 504}
# Answers that prove the request was not processed: safe to repeat even when a repeat would not be idempotent.
# Only 429 (and a refused connection, below): a 503 or 502 may come from a proxy after the service stored the
# item, so after one the item's fate is unknown and it is looked up, not repeated (docs/delivery.md).
_NOT_PROCESSED = {429}
_WAIT_INITIAL_S = 0.05
_WAIT_MAX_S = 5.0


class AnswerLostError(AmiliUnavailableError):
    """A non-idempotent request may have been applied, but its answer was lost (5xx, timeout, reset)."""


class TransientError(Exception):
    """A failure worth retrying: 429, 5xx, a timeout, a reset or refused connection."""

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None,
                 processed_maybe: bool = True) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status
        # False when the request certainly did not reach the application (429, 503, connection refused).
        self.processed_maybe = processed_maybe
        self.wait: float = 0.0


@dataclass(frozen=True)
class Response:
    """An HTTP answer reduced to what the clients need; `parsed` is False when a body was there but not JSON."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    parsed: bool = True


def full_jitter(attempt: int, initial: float = _WAIT_INITIAL_S, cap: float = _WAIT_MAX_S) -> float:
    """AWS-style full jitter: uniform in [0, min(cap, initial * 2**(attempt-1))]."""
    return random.uniform(0.0, min(cap, initial * 2 ** max(0, attempt - 1)))


def _retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date, counted from `now`, default the
    current time); None when absent or odd."""
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
    return max(0.0, (when - (now or dt.datetime.now(dt.timezone.utc))).total_seconds())


def _decode(resp: httpx.Response) -> tuple[Any, bool]:
    """The body as JSON, or its first 500 characters and False when it is not JSON."""
    if not resp.content:
        return None, True
    try:
        return orjson.loads(resp.content), True
    except orjson.JSONDecodeError:
        return resp.text[:500], False


def _backoff_hook(exc: Exception) -> bool | float:
    """stamina hook: retry transient errors, waiting Retry-After when given, else the full-jitter wait."""
    if isinstance(exc, TransientError):
        return exc.retry_after if exc.retry_after is not None else max(exc.wait, 0.001)
    return False


class _NotRetryable(Exception):
    """Wraps a TransientError that must not be repeated (the request may have been applied)."""

    def __init__(self, inner: TransientError) -> None:
        super().__init__(str(inner))
        self.inner = inner


class Transport:
    """Async requests with a sized connection pool, explicit timeouts, retries and request counters.

    The API is async (delivery runs as asyncio tasks under semaphores and a token bucket); the wire is, by
    default (`[http] io = "threads"`), httpx's sync client in a pool of `concurrency` threads, because on this
    machine it does 2-3x the requests per second of httpx's async client (docs/performance.md, "Delivery").
    `io = "async"` uses httpx.AsyncClient instead. Both raise the same httpx exceptions, translated below.
    """

    def __init__(self, http: HttpConfig) -> None:
        self.http = http
        timeout = httpx.Timeout(http.timeout_s, connect=min(10.0, http.timeout_s))
        limits = httpx.Limits(max_connections=http.concurrency, max_keepalive_connections=http.concurrency,
                              keepalive_expiry=30.0)
        headers = {"User-Agent": "amili-etl"}
        self._threads = getattr(http, "io", "threads") != "async"
        self.client: httpx.AsyncClient | None = None
        self._sync: httpx.Client | None = None
        self._pool: ThreadPoolExecutor | None = None
        if self._threads:
            self._sync = httpx.Client(timeout=timeout, limits=limits, verify=http.verify_tls, headers=headers)
            self._pool = ThreadPoolExecutor(max_workers=http.concurrency, thread_name_prefix="amili-http")
        else:
            self.client = httpx.AsyncClient(timeout=timeout, limits=limits, verify=http.verify_tls, headers=headers)
        self.stats: Counter[str] = Counter()  # "POST 200", "POST 429", "GET timeout", ...

    async def aclose(self) -> None:
        """Close the connection pool (and its threads)."""
        if self.client is not None:
            await self.client.aclose()
        if self._sync is not None and self._pool is not None:
            self._pool.shutdown(wait=True)
            self._sync.close()

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if self._sync is not None:
            call = functools.partial(self._sync.request, method, url, **kwargs)
            return await asyncio.get_running_loop().run_in_executor(self._pool, call)
        assert self.client is not None
        return await self.client.request(method, url, **kwargs)

    async def once(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Response:
        """One attempt. Raises TransientError for retryable failures; returns any other answer."""
        if url.startswith(("http:", "HTTP:", "Http:")) and (why := plain_http_problem(url)):
            # The last guard (commands refuse such a config before they start): nothing leaves in clear text.
            raise ConfigError(f"{method} {url}: refused: {why}")
        if json is not None:
            content = orjson.dumps(json)
        hdrs = dict(headers or {})
        if content is not None:
            hdrs["Content-Type"] = "application/json"
        try:
            resp = await self._send(method, url, content=content, data=data, headers=hdrs, params=params)
        except httpx.ConnectError as exc:
            self.stats[f"{method} refused"] += 1
            raise TransientError(f"{method} {url}: cannot connect ({exc})", processed_maybe=False) from None
        except httpx.TimeoutException as exc:
            self.stats[f"{method} timeout"] += 1
            raise TransientError(f"{method} {url}: timed out ({type(exc).__name__})") from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            self.stats[f"{method} reset"] += 1
            raise TransientError(f"{method} {url}: connection failed ({type(exc).__name__}: {exc})") from None
        except httpx.HTTPError as exc:
            self.stats[f"{method} error"] += 1
            raise TransientError(f"{method} {url}: {type(exc).__name__}: {exc}") from None
        self.stats[f"{method} {resp.status_code}"] += 1
        if resp.status_code in _RETRY_STATUSES:
            raise TransientError(
                f"{method} {url}: HTTP {resp.status_code}",
                retry_after=_retry_after(resp.headers.get("Retry-After")),
                status=resp.status_code,
                processed_maybe=resp.status_code not in _NOT_PROCESSED,
            )
        body, parsed = _decode(resp)
        return Response(resp.status_code, body, dict(resp.headers), parsed)

    async def _attempt(self, n: int, method: str, url: str, limiter: TokenBucket | None, idempotent: bool,
                       kwargs: dict[str, Any]) -> Response:
        """Attempt number `n`: wait for the rate limit, send; a transient failure carries its backoff wait."""
        if limiter is not None:
            await limiter.acquire()
        try:
            return await self.once(method, url, **kwargs)
        except TransientError as exc:
            if not idempotent and exc.processed_maybe:
                raise _NotRetryable(exc) from None
            exc.wait = full_jitter(n)
            raise

    async def request(self, method: str, url: str, *, limiter: TokenBucket | None = None, idempotent: bool = True,
                      **kwargs: Any) -> Response:
        """`once` with retries: full-jitter exponential backoff, Retry-After honoured, capped by attempts and time.

        `idempotent=False` (every POST that delivers an item) repeats only failures that prove the request was
        not processed (429, a refused connection); any other failure raises AnswerLostError at once.
        Raises AmiliUnavailableError when the retries are spent.
        """
        started = time.monotonic()
        try:
            try:
                # The common case, one attempt that works, skips stamina's bookkeeping (cheap at 500 requests/s).
                return await self._attempt(1, method, url, limiter, idempotent, kwargs)
            except TransientError as exc:
                if self.http.max_attempts <= 1:
                    raise
                await asyncio.sleep(exc.retry_after if exc.retry_after is not None else exc.wait)
            async for attempt in stamina.retry_context(
                on=_backoff_hook,
                attempts=self.http.max_attempts - 1,
                timeout=max(0.1, self.http.max_retry_time_s - (time.monotonic() - started)),
            ):
                with attempt:
                    return await self._attempt(attempt.num + 1, method, url, limiter, idempotent, kwargs)
        except _NotRetryable as exc:
            raise AnswerLostError(f"Amili's answer was lost: {exc.inner}") from None
        except TransientError as exc:
            raise AmiliUnavailableError(f"Amili unavailable: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover
