"""Logins: the Norway client-credentials token, the ADA api-code token, and checking both on requests."""

from __future__ import annotations

import base64
import binascii
import math
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from etl.sandbox.config import SandboxConfig
from etl.sandbox.envelopes import ApiError, JsonResponse, read_json
from etl.sandbox.state import State

__all__ = ["routes", "require_bearer", "require_ada_key", "require_access", "issue_token"]

# The `resource` a real token names (an app registration id); any fixed uuid will do.
_RESOURCE = "5a0dbe5e-0b3c-4d2e-9a53-53a1b0c0ffee"
_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def issue_token(state: State, family: str, client_id: str, lifetime_s: float, now: float) -> str:
    """A new random access token of `family` ("bearer" or "ada") valid for `lifetime_s`."""
    # Drop expired tokens here, on the rare login, rather than on every request.
    for token in [t for t, rec in state.tokens.items() if rec["expires_at"] <= now]:
        del state.tokens[token]
    token = secrets.token_urlsafe(32)
    state.tokens[token] = {"family": family, "client_id": client_id, "expires_at": now + lifetime_s}
    state.changed()
    return token


def _check(state: State, token: str | None, family: str, what: str) -> dict[str, Any]:
    if not token:
        raise ApiError(401, f"Missing {what}")
    record = state.tokens.get(token)
    if record is None or record["family"] != family:
        raise ApiError(401, f"Invalid {what}")
    if record["expires_at"] <= time.time():
        raise ApiError(401, f"Expired {what}; fetch a new token")
    return record


def require_bearer(request: Request, state: State) -> dict[str, Any]:
    """The token record behind `Authorization: Bearer ...`; ApiError 401 when missing, unknown or expired."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    try:
        return _check(state, token.strip() if scheme.lower() == "bearer" else None, "bearer", "bearer token")
    except ApiError as exc:
        exc.headers = _BEARER_CHALLENGE
        raise


def require_ada_key(request: Request, state: State) -> dict[str, Any]:
    """The token record behind `X-API-Key`; ApiError 401 when missing, unknown or expired."""
    return _check(state, request.headers.get("x-api-key"), "ada", "X-API-Key access token")


def require_access(config: SandboxConfig, owner: object) -> None:
    """ApiError 403 when the clientNo, orgId or creditor `owner` is one the configuration forbids every login."""
    if config.forbidden and str(owner) in config.forbidden:
        raise ApiError(403, f"This login has no access to {owner}")


def routes(config: SandboxConfig, state: State) -> list[Route]:
    """The login endpoints: POST /auth/token and POST|GET /ada/authenticates/api-code."""
    creds = config.credentials

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("grant_type") != "client_credentials":
            raise ApiError(400, "grant_type must be client_credentials", error="unsupported_grant_type")
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = _basic_credentials(request.headers.get("authorization", ""))
        if basic is not None:  # client_secret_basic, the other standard way to send them
            client_id, client_secret = basic
        if client_id != creds.client_id or client_secret != creds.client_secret:
            raise ApiError(401, "Unknown client or wrong secret", error="invalid_client")
        now = time.time()
        access = issue_token(state, "bearer", client_id, config.token_lifetime_s, now)
        return JsonResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "not_before": int(now),
                "expires_in": math.ceil(config.token_lifetime_s),
                "expires_on": int(now + config.token_lifetime_s),
                "resource": _RESOURCE,
            }
        )

    async def ada_api_code(request: Request) -> Response:
        body = await read_json(request)
        code = body.get("api_code") if isinstance(body, dict) else None
        if code != creds.ada_api_code:
            raise ApiError(401, "Invalid api code")
        return _ada_token(state, config)

    async def ada_signed_api_code(request: Request) -> Response:
        # The signed-JWT login: the sandbox has no creditor public key, so it reads the claims unverified.
        claims = _jwt_claims(request.headers.get("x-api-key", ""))
        if claims is None or claims.get("api_code") != creds.ada_api_code:
            raise ApiError(401, "Invalid signed api code")
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or exp <= time.time():
            raise ApiError(401, "Signed api code expired")
        return _ada_token(state, config)

    return [
        Route("/auth/token", token, methods=["POST"]),
        Route("/ada/authenticates/api-code", ada_api_code, methods=["POST"]),
        Route("/ada/authenticates/api-code", ada_signed_api_code, methods=["GET"]),
    ]


def _ada_token(state: State, config: SandboxConfig) -> Response:
    access = issue_token(state, "ada", "ada", config.token_lifetime_s, time.time())
    return JsonResponse({"access_token": access})


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _jwt_claims(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None
