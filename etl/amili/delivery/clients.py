"""One HTTP transport and the per-creditor ARM, Collection and ADA clients of a delivery."""

from __future__ import annotations

from typing import Any

from etl.amili.ada import AdaClient
from etl.amili.arm import ArmClient
from etl.amili.auth import AdaAuth, NorwayAuth
from etl.amili.collection import CollectionClient
from etl.amili.ratelimit import TokenBucket
from etl.amili.transport import Transport
from etl.config import Config, CreditorConfig
from etl.errors import ConfigError


class Clients:
    """One transport and per-creditor API clients, built on first use, with one rate limit per family+creditor."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.transport = Transport(config.http)
        self._made: dict[tuple[str, str], Any] = {}
        self._norway: dict[str, NorwayAuth] = {}

    def _limiter(self, family: str) -> TokenBucket:
        http = self.config.http
        return TokenBucket(float(http.rate_limits.get(family, http.rate_limit)))

    def _norway_auth(self, c: CreditorConfig) -> NorwayAuth:
        # ARM and Collection share the creditor's token.
        if c.name not in self._norway:
            self._norway[c.name] = NorwayAuth(self.transport, c)
        return self._norway[c.name]

    def arm(self, c: CreditorConfig) -> ArmClient:
        """The creditor's ARM client; ConfigError when its ARM settings are missing."""
        if ("arm", c.name) not in self._made:
            if not c.arm_base_url or c.arm_client_no is None:
                raise ConfigError(f"creditor {c.name!r}: arm.base_url and arm.client_no are required")
            self._made["arm", c.name] = ArmClient(self.transport, self._norway_auth(c), c.arm_base_url, c.arm_client_no,
                                                  self._limiter("arm"))
        return self._made["arm", c.name]

    def collection(self, c: CreditorConfig) -> CollectionClient:
        """The creditor's Collection client; ConfigError when its Collection settings are missing."""
        if ("collection", c.name) not in self._made:
            if not c.collection_base_url or not c.collection_org_id:
                raise ConfigError(f"creditor {c.name!r}: collection.base_url and collection.org_id are required")
            self._made["collection", c.name] = CollectionClient(
                self.transport, self._norway_auth(c), c.collection_base_url, c.collection_org_id,
                self._limiter("collection"), c.collection_idempotency_header)
        return self._made["collection", c.name]

    def ada(self, c: CreditorConfig) -> AdaClient:
        """The creditor's ADA client; ConfigError when its ADA base URL is missing."""
        if ("ada", c.name) not in self._made:
            if not c.ada_base_url:
                raise ConfigError(f"creditor {c.name!r}: ada.base_url is required")
            self._made["ada", c.name] = AdaClient(self.transport, AdaAuth(self.transport, c), c.ada_base_url,
                                                  self._limiter("ada"))
        return self._made["ada", c.name]
