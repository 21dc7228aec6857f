"""The ASGI gate in front of the routes: the admin token for /_sandbox, request statistics, then rate limit, latency
and faults for API calls."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from etl.sandbox.auth import admin_allowed
from etl.sandbox.envelopes import error_response, family_of
from etl.sandbox.faults import ConnectionDropped, Fault, FaultPlan, drop_connection
from etl.sandbox.ratelimit import RateLimiter
from etl.sandbox.state import State

__all__ = ["ApiGate", "RequestHook"]

# Called with ("received" | "processed", method, path) for every API request (not logins, not /_sandbox):
# "received" before the handler runs, "processed" after it stored its work and before the answer is sent.
# Tests use it to act on an observed event (kill a client at its n-th request) instead of at a moment in time.
RequestHook = Callable[[str, str, str], None]

# Only the three API families are limited and faulted; logins (/auth, ADA's api-code) and /_sandbox never are.
_GATED = frozenset({"arm", "collection", "ada"})
_ADA_LOGIN = "/ada/authenticates/"


class ApiGate:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it would cost a task and a queue per request)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        state: State,
        routes: Sequence[BaseRoute],
        plan: FaultPlan,
        limiter: RateLimiter | None,
        latency_s: float,
        timeout_sleep_s: float,
        hook: RequestHook | None = None,
        admin_token: str | None = None,
    ) -> None:
        self.app = app
        self.state = state
        self.routes = routes
        self.plan = plan
        self.limiter = limiter
        self.latency_s = latency_s
        self.timeout_sleep_s = timeout_sleep_s
        self.hook = hook
        self.admin_token = admin_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count the request by route template and status; gate API requests; /_sandbox needs the admin token if set."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith("/_sandbox/"):
            if admin_allowed(self.admin_token, _header(scope, b"authorization")):
                await self.app(scope, receive, send)
            else:
                # A remote sandbox: seeding, reset and the ledger would let anyone rewrite or read every tenant.
                headers = {"WWW-Authenticate": 'Bearer realm="sandbox admin"'}
                await error_response(scope["path"], 401, "The sandbox admin token is required", headers=headers)(scope, receive, send)
            return
        status = "error"

        async def counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
            await send(message)

        try:
            label = await self._serve(scope, receive, counted)
            status = label or status
        except ConnectionDropped:
            status = "reset"
            raise
        except Exception:
            status = "500"  # a bug in a handler: ServerErrorMiddleware answers 500
            raise
        finally:
            self._count(scope, status)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> str | None:
        """Answer the request; returns a stats label that overrides the status ("timeout") or None."""
        if family_of(scope["path"]) not in _GATED or scope["path"].startswith(_ADA_LOGIN):
            await self.app(scope, receive, send)
            return None
        if self.limiter is not None:
            wait = self.limiter.take(_client_key(scope))
            if wait:
                headers = {"Retry-After": RateLimiter.retry_after(wait)}
                await error_response(scope["path"], 429, "Too many requests: rate limit exceeded", headers=headers)(scope, receive, send)
                return None
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self.hook is not None:
            self.hook("received", scope["method"], scope["path"])
        fault = self.plan.draw() if self.plan else None
        if fault is not None:
            return await self._faulted(fault, scope, receive, send)
        if self.hook is None:
            await self.app(scope, receive, send)
            return None
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        self.hook("processed", scope["method"], scope["path"])
        for message in held:
            await send(message)
        return None

    async def _faulted(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> str | None:
        held: list[Message] = []
        if fault.after_store:
            # Process and store, but keep the answer back: the client never learns it succeeded.
            async def hold(message: Message) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
        when = "after the request was processed" if fault.after_store else "before processing"
        if fault.kind == "reset":
            await drop_connection(send)
        if fault.kind == "timeout":
            await asyncio.sleep(self.timeout_sleep_s)
            if held:
                for message in held:
                    await send(message)
            else:
                await error_response(scope["path"], 504, f"Gateway timeout ({when})")(scope, receive, send)
            return "timeout"
        status = int(fault.kind)
        headers = {"Retry-After": "1"} if status in (429, 503) else None
        message = f"Sandbox fault {status} ({when})"
        await error_response(scope["path"], status, message, headers=headers)(scope, receive, send)
        return None

    def _count(self, scope: Scope, status: str) -> None:
        route = scope.get("route")
        path = route.path if route is not None else self._template(scope)
        per_status = self.state.stats.setdefault(f"{scope['method']} {path}", {})
        per_status[status] = per_status.get(status, 0) + 1

    def _template(self, scope: Scope) -> str:
        """The route template of a request the router never saw (answered here)."""
        partial = None
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return getattr(route, "path", "(unmatched)")
            if match is Match.PARTIAL and partial is None:
                partial = getattr(route, "path", None)
        return partial or "(unmatched)"


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _client_key(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name in (b"authorization", b"x-api-key"):
            return value.decode("latin-1")
    client = scope.get("client")
    return client[0] if client else "unknown"
