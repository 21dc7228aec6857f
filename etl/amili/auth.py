"""Credentials to headers: the Norway client-credentials token and the ADA access token, each cached."""

from __future__ import annotations

import asyncio
import time

from etl.amili.transport import Transport
from etl.config import CreditorConfig, missing_norway_secrets, set_the_variables
from etl.errors import AmiliUnavailableError, ConfigError

__all__ = ["NorwayAuth", "AdaAuth", "renew_at", "signed_api_code"]

_RENEW_MARGIN_S = 60.0  # renew this long before expiry (at most a fifth of the lifetime for short-lived tokens)
_JWT_LIFETIME_S = 600  # the docs: the signed api-code JWT carries exp = now + 10 minutes


def renew_at(now: float, expires_in: float | None, expires_on: float | None) -> float:
    """When to fetch the next token: before `expires_on` (or now + expires_in), by a margin."""
    candidates = [t for t in (expires_on, now + expires_in if expires_in else None) if t]
    expiry = min(candidates) if candidates else now + 300.0
    margin = min(_RENEW_MARGIN_S, max(0.0, expiry - now) / 5)
    return expiry - margin


class NorwayAuth:
    """Client-credentials bearer token for ARM and Collection, cached until shortly before `expires_on`."""

    def __init__(self, transport: Transport, creditor: CreditorConfig) -> None:
        self.transport = transport
        self.creditor = creditor
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()  # one fetch at a time: concurrent requests wait for it instead of piling on
        self.fetches = 0

    async def headers(self) -> dict[str, str]:
        """The Authorization header, fetching a token when there is none or it is about to expire."""
        if self._token is None or time.time() >= self._renew_at:
            async with self._lock:
                if self._token is None or time.time() >= self._renew_at:
                    await self._fetch()
        return {"Authorization": f"Bearer {self._token}"}

    def invalidate(self, used: dict[str, str] | None = None) -> None:
        """Forget the token after a 401 (unless another request already renewed it)."""
        if used is None or used.get("Authorization") == f"Bearer {self._token}":
            self._token = None

    async def _fetch(self) -> None:
        c = self.creditor
        if not c.token_url:
            raise ConfigError(f"creditor {c.name!r}: auth.token_url is not configured")
        if (missing := missing_norway_secrets(c)):  # only the ones not set, by name
            raise ConfigError(set_the_variables(c.name, missing))
        resp = await self.transport.request(
            "POST",
            c.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": c.secrets.client_id,
                "client_secret": c.secrets.client_secret,
            },
        )
        body = resp.body if isinstance(resp.body, dict) else {}
        if resp.status != 200 or "access_token" not in body:
            raise ConfigError(f"creditor {c.name!r}: token request refused (HTTP {resp.status}): check the credentials")
        now = time.time()
        self._token = str(body["access_token"])
        self._renew_at = renew_at(now, _num(body.get("expires_in")), _num(body.get("expires_on")))
        self.fetches += 1


def _num(value: object) -> float | None:
    try:
        return float(value) if value not in (None, "") else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def signed_api_code(api_code: str, private_key_pem: str, now: float) -> str:
    """The ADA login JWT: {"api_code", "exp": now + 10 min} signed ES256 (EC key) or RS256 (RSA key)."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(private_key_pem.encode(), password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = {256: "ES256", 384: "ES384", 521: "ES512"}.get(key.curve.key_size, "ES256")
    elif isinstance(key, rsa.RSAPrivateKey):
        alg = "RS256"
    else:
        raise ConfigError("the ADA private key must be an EC (ES256/384/512) or RSA (RS256) key")
    return jwt.encode({"api_code": api_code, "exp": int(now) + _JWT_LIFETIME_S}, key, algorithm=alg)


class AdaAuth:
    """ADA access token from the api code (static POST) or a signed api-code JWT (GET), sent as X-API-Key."""

    def __init__(self, transport: Transport, creditor: CreditorConfig) -> None:
        self.transport = transport
        self.creditor = creditor
        self._token: str | None = None
        self._lock = asyncio.Lock()

    async def headers(self) -> dict[str, str]:
        """The X-API-Key header, authenticating first when needed."""
        if self._token is None:
            async with self._lock:
                if self._token is None:
                    await self._fetch()
        return {"X-API-Key": str(self._token)}

    def invalidate(self, used: dict[str, str] | None = None) -> None:
        """Forget the token after a 401 (unless another request already renewed it)."""
        if used is None or used.get("X-API-Key") == self._token:
            self._token = None

    async def _fetch(self) -> None:
        c = self.creditor
        if not c.secrets.ada_api_code:
            raise ConfigError(f"creditor {c.name!r}: set the environment variable {c.ada_api_code_env}")
        if not c.ada_base_url:
            raise ConfigError(f"creditor {c.name!r}: ada.base_url is not configured")
        url = f"{c.ada_base_url}/authenticates/api-code"
        if c.secrets.ada_private_key:
            jwt_code = signed_api_code(c.secrets.ada_api_code, c.secrets.ada_private_key, time.time())
            resp = await self.transport.request("GET", url, headers={"X-API-Key": jwt_code})
        else:
            resp = await self.transport.request("POST", url, json={"api_code": c.secrets.ada_api_code})
        body = resp.body if isinstance(resp.body, dict) else {}
        token = body.get("access_token") or body.get("token")
        if resp.status not in (200, 201) or not token:
            if resp.status >= 500:
                raise AmiliUnavailableError(f"ADA authentication failed (HTTP {resp.status})")
            raise ConfigError(f"creditor {c.name!r}: ADA api code refused (HTTP {resp.status}): check {c.ada_api_code_env}")
        self._token = str(token)
