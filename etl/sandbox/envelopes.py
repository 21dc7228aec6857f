"""Response bodies: orjson JSON responses, and each API family's error shape chosen by URL prefix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["ApiError", "JsonResponse", "family_of", "error_body", "error_response", "read_json", "int_param", "api_error_handler"]

# ARM's `result` word for each status (the docs show REJECTED for validation errors; the rest are guesses).
_ARM_RESULT = {
    400: "REJECTED",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "NOT_ALLOWED",
    409: "CONFLICT",
    422: "REJECTED",
    429: "TOO_MANY_REQUESTS",
    500: "ERROR",
    503: "UNAVAILABLE",
    504: "TIMEOUT",
}


class JsonResponse(Response):
    """A JSON response rendered with orjson (several times faster than the stdlib json Starlette uses)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Serialise with orjson."""
        return orjson.dumps(content)


class ApiError(Exception):
    """A refusal a handler raises; rendered in the error shape of the family its URL belongs to."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers
        self.extra = extra


def family_of(path: str) -> str:
    """The API family a path belongs to: arm, collection, ada, auth, sandbox or other."""
    for prefix, family in (("/arm/", "arm"), ("/collection/", "collection"), ("/ada/", "ada"), ("/auth/", "auth"), ("/_sandbox/", "sandbox")):
        if path.startswith(prefix):
            return family
    return "other"


def error_body(family: str, status: int, message: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The error body an Amili API family answers with, `extra` merged in (e.g. ADA `_issues`)."""
    extra = extra or {}
    if family == "arm":
        return {"status": "ERROR", "result": _ARM_RESULT.get(status, "ERROR"), "message": message, **extra}
    if family == "collection":
        errors = extra.get("errors") or [{"field": extra.get("field"), "message": message}]
        return {"summary": {"status": "FAILED"}, "errors": errors}
    if family == "ada":
        # Eve: `_status`, `_error` first; `_issues` / `_items` beside them.
        return {"_status": "ERR", **extra, "_error": {"code": status, "message": message}}
    if family == "auth":
        return {"error": extra.get("error", "invalid_request"), "error_description": message}
    return {"error": message, **extra}


def error_response(path: str, status: int, message: str, *, headers: dict[str, str] | None = None, **extra: Any) -> JsonResponse:
    """An error response shaped for the family of `path`."""
    return JsonResponse(error_body(family_of(path), status, message, extra), status_code=status, headers=headers)


async def read_json(request: Request) -> Any:
    """The request body parsed by orjson; ApiError 400 when it is empty or not JSON."""
    raw = await request.body()
    if not raw:
        raise ApiError(400, "Request body is empty; a JSON body is required")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"Request body is not valid JSON: {exc}") from exc


def int_param(params: Mapping[str, str], name: str, default: int) -> int:
    """An integer query parameter (`default` when absent); ApiError 400 when it is not an integer."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ApiError(400, f"Query parameter {name} must be an integer, got {raw!r}") from exc


async def api_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette exception handler: ApiError and HTTPException (404/405) in the family's shape."""
    status = getattr(exc, "status", None) or getattr(exc, "status_code", 500)
    message = getattr(exc, "message", None) or getattr(exc, "detail", None) or "Error"
    extra = getattr(exc, "extra", None) or {}
    headers = getattr(exc, "headers", None)
    return error_response(request.url.path, status, str(message), headers=headers, **extra)
