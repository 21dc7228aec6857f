"""Logins: the Norway client-credentials token, the ADA api-code tokens, and checking both and their tenants on requests."""

from __future__ import annotations

import base64
import binascii
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import jwt
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from etl.sandbox.config import SandboxConfig
from etl.sandbox.envelopes import ApiError, JsonResponse, read_json
from etl.sandbox.state import State

__all__ = ["routes", "require_bearer", "require_ada_key", "require_access", "owns", "own_items", "issue_token", "admin_allowed"]

# The `resource` a real token names (an app registration id); any fixed uuid will do.
_RESOURCE = "5a0dbe5e-0b3c-4d2e-9a53-53a1b0c0ffee"
_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
# What Amili's notes allow for the signed api code; never `none` and never HS* (a shared-secret algorithm
# would let anyone who has the public key sign).
_SIGNED_ALGS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512")
# The docs: exp = now + 10 minutes. A little clock difference either way is allowed.
_SIGNED_MAX_LIFETIME_S = 600
_CLOCK_LEEWAY_S = 30

# A token's tenants: family -> ids it may use, or None for the default login (every tenant no other login claims).
Tenants = Mapping[str, frozenset[str]] | None


@dataclass(frozen=True)
class _Account:
    """One login as the auth endpoints see it: secrets, loaded public key and tenants."""

    client_id: str
    client_secret: str
    ada_api_code: str | None
    public_key: Any  # a loaded cryptography public key, or None
    tenants: Tenants


def issue_token(state: State, family: str, client_id: str, lifetime_s: float, now: float, tenants: Tenants = None) -> str:
    """A new random access token of `family` ("bearer" or "ada") valid for `lifetime_s`, bound to `tenants`."""
    # Drop expired tokens here, on the rare login, rather than on every request.
    for token in [t for t, rec in state.tokens.items() if rec["expires_at"] <= now]:
        del state.tokens[token]
    token = secrets.token_urlsafe(32)
    # Tokens live in memory only (never in the state file): after a restart clients log in again on the 401.
    state.tokens[token] = {"family": family, "client_id": client_id, "expires_at": now + lifetime_s, "tenants": tenants}
    return token


def _check(state: State, token: str | None, family: str, what: str) -> dict[str, Any]:
    if not token:
        raise ApiError(401, f"Missing {what}")
    record = state.tokens.get(token)
    if record is None or record["family"] != family:
        raise ApiError(401, f"Invalid {what}")
    if record["expires_at"] <= state.clock():
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


def owns(config: SandboxConfig, token: Mapping[str, Any], family: str, tenant: object) -> bool:
    """Whether the login behind `token` may use the clientNo / orgId / creditor `tenant` of `family`."""
    owner = str(tenant)
    if owner in config.forbidden:
        return False
    tenants = token.get("tenants")
    if tenants is None:  # the default login: everything no configured login claims
        return owner not in config.claimed.get(family, ())
    return owner in tenants.get(family, ())


def require_access(config: SandboxConfig, token: Mapping[str, Any], family: str, tenant: object) -> None:
    """ApiError 403 when the login behind `token` may not use `tenant` of `family`.

    Only a string or integer names a tenant: None (nothing named) or a value of another type (left to the
    handler's own 400/422) is not checked here.
    """
    if isinstance(tenant, (str, int)) and not owns(config, token, family, tenant):
        raise ApiError(403, f"This login has no access to {tenant}")


def own_items(config: SandboxConfig, token: Mapping[str, Any], items: Mapping[str, Any]) -> list[Any]:
    """The stored ADA items (payments, payout rows) of the creditors the login behind `token` owns."""
    if token.get("tenants") is None and not config.claimed.get("ada") and not config.forbidden:
        return list(items.values())  # the default login alone: everything, without a check per item
    return [item for item in items.values() if owns(config, token, "ada", item["creditor"])]


def admin_allowed(admin_token: str | None, authorization: str) -> bool:
    """Whether an `Authorization` header may use /_sandbox: always without an admin token, else only its bearer."""
    if not admin_token:
        return True
    scheme, _, value = authorization.partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(value.strip().encode(), admin_token.encode())


def routes(config: SandboxConfig, state: State) -> list[Route]:
    """The login endpoints: POST /auth/token and POST|GET /ada/authenticates/api-code."""
    accounts = _accounts(config)
    by_client = {a.client_id: a for a in accounts}
    by_code = {a.ada_api_code: a for a in accounts if a.ada_api_code is not None}

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("grant_type") != "client_credentials":
            raise ApiError(400, "grant_type must be client_credentials", error="unsupported_grant_type")
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = _basic_credentials(request.headers.get("authorization", ""))
        if basic is not None:  # client_secret_basic, the other standard way to send them
            client_id, client_secret = basic
        account = by_client.get(client_id or "")
        if account is None or not secrets.compare_digest((client_secret or "").encode(), account.client_secret.encode()):
            raise ApiError(401, "Unknown client or wrong secret", error="invalid_client")
        now = state.clock()
        access = issue_token(state, "bearer", account.client_id, config.token_lifetime_s, now, account.tenants)
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
        account = by_code.get(code) if isinstance(code, str) else None
        if account is None:
            raise ApiError(401, "Invalid api code")
        return _ada_token(state, config, account)

    async def ada_signed_api_code(request: Request) -> Response:
        account = _signed_login(request.headers.get("x-api-key", ""), by_code, state.clock())
        return _ada_token(state, config, account)

    return [
        Route("/auth/token", token, methods=["POST"]),
        Route("/ada/authenticates/api-code", ada_api_code, methods=["POST"]),
        Route("/ada/authenticates/api-code", ada_signed_api_code, methods=["GET"]),
    ]


def _accounts(config: SandboxConfig) -> list[_Account]:
    """The default login and the configured ones, public keys loaded once at start-up."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    def key(pem: str | None) -> Any:
        return None if pem is None else load_pem_public_key(pem.encode())  # config checked it is one

    creds = config.credentials
    default = _Account(creds.client_id, creds.client_secret, creds.ada_api_code, key(creds.ada_public_key), None)
    return [default, *(_Account(l.client_id, l.client_secret, l.ada_api_code, key(l.ada_public_key), l.tenants()) for l in config.logins)]


def _signed_login(token: str, by_code: Mapping[str, _Account], now: float) -> _Account:
    """The login whose registered public key signed the api-code JWT `token`; ApiError 401 otherwise."""
    try:
        alg = jwt.get_unverified_header(token).get("alg")
        # Unverified only to learn whose key to verify with; nothing is trusted before the signature checks.
        code = jwt.decode(token, options={"verify_signature": False}).get("api_code")
    except jwt.PyJWTError as exc:
        raise ApiError(401, "Invalid signed api code: not a JWT") from exc
    if alg not in _SIGNED_ALGS:
        raise ApiError(401, f"Invalid signed api code: algorithm {alg!r} is not allowed (use {', '.join(_SIGNED_ALGS)})")
    account = by_code.get(code) if isinstance(code, str) else None
    if account is None:
        raise ApiError(401, "Invalid signed api code")
    if account.public_key is None:
        raise ApiError(401, "This login has no registered public key; sign in with POST and the api code")
    try:
        claims = jwt.decode(token, account.public_key, algorithms=list(_SIGNED_ALGS), options={"require": ["exp"]}, leeway=_CLOCK_LEEWAY_S)
    except jwt.ExpiredSignatureError as exc:
        raise ApiError(401, "Signed api code expired") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise ApiError(401, "Signed api code has no exp") from exc
    except jwt.PyJWTError as exc:
        raise ApiError(401, "Invalid signed api code: the signature does not verify with the registered key") from exc
    # A far-future exp would make the signed code a long-lived password; the docs say now + 10 minutes.
    if claims["exp"] > now + _SIGNED_MAX_LIFETIME_S + _CLOCK_LEEWAY_S:
        raise ApiError(401, f"Signed api code exp is more than {_SIGNED_MAX_LIFETIME_S // 60} minutes ahead")
    return account


def _ada_token(state: State, config: SandboxConfig, account: _Account) -> Response:
    tenants = None if account.tenants is None else {"ada": account.tenants["ada"]}
    access = issue_token(state, "ada", account.client_id, config.token_lifetime_s, state.clock(), tenants)
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
