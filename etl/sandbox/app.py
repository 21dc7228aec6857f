"""create_app: wire state, routes, the API gate and error shapes into one Starlette app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from etl.sandbox import ada, arm, auth, collection, introspection, openapi
from etl.sandbox.config import SandboxConfig
from etl.sandbox.envelopes import ApiError, api_error_handler
from etl.sandbox.faults import FaultPlan, quiet_dropped_connections
from etl.sandbox.middleware import ApiGate, RequestHook
from etl.sandbox.ratelimit import RateLimiter
from etl.sandbox.state import State

__all__ = ["create_app", "sandbox_state"]


def create_app(config: SandboxConfig | None = None, hook: RequestHook | None = None) -> Starlette:
    """The sandbox as an ASGI app; ValueError for a bad fault spec, rate limit or seed file.

    `hook` (tests only) is told of every API request when it arrives and once it was processed.
    """
    config = config or SandboxConfig()
    plan = FaultPlan(config.faults, config.fault_seed, config.post_store_500_share)
    limiter = RateLimiter(config.rate_limit, config.clock) if config.rate_limit else None
    state = State.open(config.state_file, config.state_flush_s)
    state.clock = config.clock
    # A state file that already holds data wins over the seed: restarting must not re-seed over it.
    if config.seed_file is not None and state.is_empty():
        introspection.apply_seed(state, orjson.loads(config.seed_file.read_bytes()))
    if "reset" in plan.faults:
        quiet_dropped_connections()
    # The router tries routes in order: the busy API endpoints first, logins and /_sandbox last.
    routes = [
        *arm.routes(config, state),
        *collection.routes(config, state),
        *ada.routes(config, state),
        *auth.routes(config, state),
        *introspection.routes(config, state, plan, limiter),
    ]
    routes += openapi.routes(routes)
    gate = Middleware(
        ApiGate,
        state=state,
        routes=routes,
        plan=plan,
        limiter=limiter,
        latency_s=config.latency_ms / 1000.0,
        timeout_sleep_s=config.timeout_sleep_s,
        hook=hook,
        admin_token=config.admin_token,
    )
    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # With lifespan on (`serve`), the last state write happens before uvicorn re-raises SIGTERM/SIGINT.
        try:
            yield
        finally:
            state.flush()

    app = Starlette(
        routes=routes,
        middleware=[gate],
        exception_handlers={ApiError: api_error_handler, HTTPException: api_error_handler},
        lifespan=lifespan,
    )
    app.state.sandbox = state
    return app


def sandbox_state(app: Starlette) -> State:
    """The State behind an app made by create_app (to flush it on shutdown)."""
    state: State = app.state.sandbox
    return state
