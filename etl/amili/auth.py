"""Credentials to headers: the Norway client-credentials token and the ADA access token, each cached."""

from __future__ import annotations

import time

from etl.amili.transport import Transport
from etl.config import CreditorConfig
from etl.errors import AmiliUnavailableError, ConfigError

__all__ = ["NorwayAuth", "AdaAuth"]

_RENEW_MARGIN_S = 60  # renew a token this long before it expires, so no request goes out with a dying one


class NorwayAuth:
    """Client-credentials bearer token for ARM and Collection, cached until shortly before `expires_on`."""

    def __init__(self, transport: Transport, creditor: CreditorConfig) -> None:
        self.transport = transport
        self.creditor = creditor
        self._token: str | None = None
        self._expires_on = 0.0

    async def headers(self) -> dict[str, str]:
        """The Authorization header, fetching a token when there is none or it is about to expire."""
        if self._token is None or time.time() >= self._expires_on - _RENEW_MARGIN_S:
            await self._fetch()
        return {"Authorization": f"Bearer {self._token}"}

    def invalidate(self) -> None:
        """Forget the token (after a 401) so the next call fetches a new one."""
        self._token = None

    async def _fetch(self) -> None:
        c = self.creditor
        if not c.token_url:
            raise ConfigError(f"creditor {c.name!r}: auth.token_url is not configured")
        if not c.secrets.client_id or not c.secrets.client_secret:
            raise ConfigError(
                f"creditor {c.name!r}: set the environment variables {c.client_id_env} and {c.client_secret_env}"
            )
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
        self._token = str(body["access_token"])
        now = time.time()
        expires_on = body.get("expires_on")
        expires_in = body.get("expires_in")
        self._expires_on = float(expires_on) if expires_on else now + float(expires_in or 300)


class AdaAuth:
    """ADA access token obtained with the creditor's api code (static variant), sent as X-API-Key."""

    def __init__(self, transport: Transport, creditor: CreditorConfig) -> None:
        self.transport = transport
        self.creditor = creditor
        self._token: str | None = None

    async def headers(self) -> dict[str, str]:
        """The X-API-Key header, authenticating first when needed."""
        if self._token is None:
            await self._fetch()
        return {"X-API-Key": str(self._token)}

    def invalidate(self) -> None:
        """Forget the token (after a 401)."""
        self._token = None

    async def _fetch(self) -> None:
        c = self.creditor
        if not c.secrets.ada_api_code:
            raise ConfigError(f"creditor {c.name!r}: set the environment variable {c.ada_api_code_env}")
        if not c.ada_base_url:
            raise ConfigError(f"creditor {c.name!r}: ada.base_url is not configured")
        resp = await self.transport.request(
            "POST", f"{c.ada_base_url}/authenticates/api-code", json={"api_code": c.secrets.ada_api_code}
        )
        body = resp.body if isinstance(resp.body, dict) else {}
        token = body.get("access_token") or body.get("token")
        if resp.status not in (200, 201) or not token:
            if resp.status >= 500:
                raise AmiliUnavailableError(f"ADA authentication failed (HTTP {resp.status})")
            raise ConfigError(f"creditor {c.name!r}: ADA api code refused (HTTP {resp.status}): check {c.ada_api_code_env}")
        self._token = str(token)
