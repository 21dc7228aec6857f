"""/_sandbox: the ledger, seeding, reset, request statistics and health; no auth, never faulted."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from etl.sandbox import ada, arm, collection
from etl.sandbox.config import SandboxConfig
from etl.sandbox.envelopes import ApiError, JsonResponse, read_json
from etl.sandbox.faults import FaultPlan
from etl.sandbox.ratelimit import RateLimiter
from etl.sandbox.state import State

__all__ = ["routes", "apply_seed"]

_SEEDERS = {
    "ada_cases": ada.seed_case,
    "collection_invoices": collection.seed_invoice,
    "arm_documents": arm.seed_document,
    "collection_settlements": collection.seed_settlement,  # after the invoices: month-end tests plant settlements
}


def apply_seed(state: State, data: Any) -> dict[str, list[dict[str, Any]]]:
    """Store seed data (the sections of _SEEDERS); ValueError at the first bad item."""
    if not isinstance(data, dict):
        raise ValueError("seed must be a JSON object")
    unknown = set(data) - set(_SEEDERS)
    if unknown:
        raise ValueError(f"unknown seed section(s): {', '.join(sorted(unknown))}; known: {', '.join(_SEEDERS)}")
    stored: dict[str, list[dict[str, Any]]] = {}
    for section, seeder in _SEEDERS.items():
        items = data.get(section) or []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ValueError(f"{section} must be a list of objects")
        stored[section] = [seeder(state, item) for item in items]
    return stored


def routes(config: SandboxConfig, state: State, plan: FaultPlan, limiter: RateLimiter | None) -> list[Route]:
    """The /_sandbox endpoints."""

    async def ledger(request: Request) -> Response:
        # Batches still "processing" whose time has come are settled first, so the ledger is current.
        now = state.clock()
        arm.run_due(state, config, now)
        collection.run_due(state, now)
        return JsonResponse({"items": state.ledger_items(request.query_params.get("api"))})

    async def seed(request: Request) -> Response:
        data = await read_json(request)
        try:
            stored = apply_seed(state, data)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc
        return JsonResponse(stored)

    async def reset(request: Request) -> Response:
        state.reset()
        plan.reset()
        if limiter is not None:
            limiter.reset()
        return JsonResponse({"status": "reset"})

    async def stats(request: Request) -> Response:
        return JsonResponse({"requests": state.stats})

    async def health(request: Request) -> Response:
        return JsonResponse({"status": "ok", "reading": config.reading})

    return [
        Route("/_sandbox/ledger", ledger, methods=["GET"]),
        Route("/_sandbox/seed", seed, methods=["POST"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/stats", stats, methods=["GET"]),
        Route("/_sandbox/health", health, methods=["GET"]),
    ]
