"""SandboxConfig: every knob of the simulator in one frozen value; Login and the --logins file reader."""

from __future__ import annotations

import ipaddress
import json
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl.sandbox.readings import DEFAULT_READING, check_reading

__all__ = ["Credentials", "Login", "SandboxConfig", "FAMILIES", "load_logins", "is_loopback"]

# The three tenant kinds: ARM clientNo, Collection orgId, ADA creditor (keyed by the API family's name).
FAMILIES: tuple[str, ...] = ("arm", "collection", "ada")


@dataclass(frozen=True)
class Credentials:
    """The default login: the Norway client credentials, the ADA api code and (optional) ADA public key.

    The default login owns every tenant that no configured Login claims (see docs/sandbox.md).
    """

    client_id: str = "sandbox"
    client_secret: str = field(default="sandbox", repr=False)
    ada_api_code: str = field(default="sandbox", repr=False)
    # PEM public key for the signed (JWT) ADA login; without one the signed login is refused.
    ada_public_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Login:
    """A further login that owns exactly its listed ARM clientNos, Collection orgIds and ADA creditors."""

    client_id: str
    client_secret: str = field(repr=False)
    ada_api_code: str | None = field(default=None, repr=False)
    ada_public_key: str | None = field(default=None, repr=False)
    arm_clients: tuple[str, ...] = ()
    collection_orgs: tuple[str, ...] = ()
    ada_creditors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # clientNos may come as integers (ARM's own type); tenants are compared as strings.
        for name in ("arm_clients", "collection_orgs", "ada_creditors"):
            object.__setattr__(self, name, tuple(str(t) for t in getattr(self, name)))

    def tenants(self) -> dict[str, frozenset[str]]:
        """The tenants this login owns, by family."""
        return {"arm": frozenset(self.arm_clients), "collection": frozenset(self.collection_orgs), "ada": frozenset(self.ada_creditors)}


@dataclass(frozen=True)
class SandboxConfig:
    """How the simulated Amili behaves: faults, limits, timings, persistence, logins and remote access."""

    # "500=0.05,503=0.02,429=0.05,timeout=0.01,reset=0.01"; None or "" means no faults.
    faults: str | None = None
    fault_seed: int = 0
    # Requests per second per client (token or IP); None means unlimited.
    rate_limit: float | None = None
    # Extra delay added to every API request (not to /_sandbox or /auth).
    latency_ms: float = 0.0
    token_lifetime_s: float = 3600.0
    # How long ARM document batches and Collection payment batches stay "processing".
    batch_delay_s: float = 0.2
    autoposting_methods: tuple[str, ...] = ("payment", "creditnote", "writeoff")
    # Check document KIDs (MOD10 or MOD11); off by default because Amili's own examples fail both.
    kid_check: bool = False
    # ARM clientNos, Collection orgIds and ADA creditors that every login is refused (403), to test that answer.
    forbidden: tuple[str, ...] = ()
    state_file: Path | None = None
    seed_file: Path | None = None
    credentials: Credentials = field(default_factory=Credentials)
    # Further logins, each bound to its own tenants; the default login (`credentials`) owns all the others.
    logins: tuple[Login, ...] = ()
    # Serving on a non-loopback host must be asked for, and then /_sandbox/* needs this bearer token.
    allow_remote: bool = False
    admin_token: str | None = field(default=None, repr=False)
    # A "timeout" fault sleeps this long: longer than any sane client timeout.
    timeout_sleep_s: float = 30.0
    # Share of 500 faults that strike after the request was processed and stored.
    post_store_500_share: float = 0.5
    # State file writes are debounced: at most one write per this many seconds.
    state_flush_s: float = 0.5
    # How to read Amili's pages where they are silent (etl/sandbox/readings.py): lenient, strict-unique,
    # no-dedup or as-documented. The client must be right under every one.
    reading: str = DEFAULT_READING
    # Tenants claimed by configured logins, by family: derived, so the default login's check is one lookup.
    claimed: Mapping[str, frozenset[str]] = field(init=False, repr=False, compare=False, default_factory=dict)
    # Epoch seconds now: token expiry, batch due times, stamps and the rate limiter's refills all read it
    # (tests pass a clock they advance, so what they see never depends on how fast the machine is). A signed
    # api code's exp is the exception: PyJWT checks it on the real clock.
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Callers (the CLI) may hand over plain strings and lists; normalise once here.
        for name in ("state_file", "seed_file"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        object.__setattr__(self, "autoposting_methods", tuple(self.autoposting_methods))
        object.__setattr__(self, "forbidden", tuple(str(f) for f in self.forbidden))
        check_reading(self.reading)
        object.__setattr__(self, "logins", tuple(self.logins))
        object.__setattr__(self, "claimed", _check_logins(self.credentials, self.logins))
        if self.allow_remote and not self.admin_token:
            raise ValueError("a remote sandbox needs an admin token for /_sandbox (AMILI_SANDBOX_ADMIN_TOKEN)")

    def check_host(self, host: str) -> None:
        """ValueError when `host` is not loopback and remote serving was not allowed."""
        if not is_loopback(host) and not self.allow_remote:
            raise ValueError(f"host {host} is not loopback; serving it needs --allow-remote (and AMILI_SANDBOX_ADMIN_TOKEN)")


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def _check_logins(default: Credentials, logins: tuple[Login, ...]) -> dict[str, frozenset[str]]:
    """The tenants the logins claim, by family; ValueError for shared ids, api codes, tenants or a bad key."""
    client_ids, codes = {default.client_id}, {default.ada_api_code}
    claimed: dict[str, set[str]] = {family: set() for family in FAMILIES}
    for keyed in (default, *logins):
        if keyed.ada_public_key is not None:
            _public_key(keyed.ada_public_key, keyed.client_id)
    for login in logins:
        # Two logins with one client_id or api code could not be told apart; one tenant in two could be crossed.
        if login.client_id in client_ids:
            raise ValueError(f"login {login.client_id!r}: client_id used by another login")
        client_ids.add(login.client_id)
        if login.ada_api_code is not None:
            if login.ada_api_code in codes:
                raise ValueError(f"login {login.client_id!r}: ada api code used by another login")
            codes.add(login.ada_api_code)
        for family, tenants in login.tenants().items():
            shared = tenants & claimed[family]
            if shared:
                raise ValueError(f"login {login.client_id!r}: {family} tenant(s) {', '.join(sorted(shared))} belong to another login")
            claimed[family] |= tenants
    return {family: frozenset(ids) for family, ids in claimed.items()}


def _public_key(pem: str, who: str) -> Any:
    """The loaded PEM public key; ValueError naming the login (never the key) when it is not one."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        return load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise ValueError(f"login {who!r}: ada public key is not a PEM public key") from exc


# --- the --logins file -----------------------------------------------------------------------------------

_LOGIN_KEYS = {
    "client_id", "client_secret", "client_secret_env", "ada_api_code", "ada_api_code_env",
    "ada_public_key", "ada_public_key_env", "ada_public_key_file", "arm_clients", "collection_orgs", "ada_creditors",
}
_DEFAULT_KEYS = {"ada_public_key", "ada_public_key_env", "ada_public_key_file"}


def load_logins(path: Path, env: Mapping[str, str]) -> tuple[str | None, tuple[Login, ...]]:
    """The default login's public key (or None) and the further logins of a TOML or JSON file; ValueError when bad.

    Secrets come from the file or, better, from environment variables it names (`client_secret_env`, ...).
    """
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise ValueError(f"{path}: cannot read the logins file ({type(exc).__name__})") from exc
    if not isinstance(raw, dict) or set(raw) - {"default", "login"}:
        raise ValueError(f"{path}: expected only a [default] table and [[login]] tables")
    default = raw.get("default") or {}
    items = raw.get("login") or []
    if not isinstance(default, dict) or not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError(f"{path}: [default] must be a table and [[login]] a list of tables")
    _unknown(path, "default", default, _DEFAULT_KEYS)
    default_key = _secret(path, "default", default, "ada_public_key", env)
    return default_key, tuple(_login(path, i, item, env) for i, item in enumerate(items))


def _login(path: Path, i: int, item: dict[str, Any], env: Mapping[str, str]) -> Login:
    where = f"login #{i + 1}"
    _unknown(path, where, item, _LOGIN_KEYS)
    client_id = item.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise ValueError(f"{path}: {where}: client_id is required")
    where = f"login {client_id!r}"
    secret = _secret(path, where, item, "client_secret", env)
    if secret is None:
        raise ValueError(f"{path}: {where}: client_secret or client_secret_env is required")
    tenants = {}
    for name in ("arm_clients", "collection_orgs", "ada_creditors"):
        value = item.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
            raise ValueError(f"{path}: {where}: {name} must be a list of strings or numbers")
        tenants[name] = tuple(str(v) for v in value)
    return Login(
        client_id=client_id,
        client_secret=secret,
        ada_api_code=_secret(path, where, item, "ada_api_code", env),
        ada_public_key=_secret(path, where, item, "ada_public_key", env),
        **tenants,
    )


def _secret(path: Path, where: str, item: Mapping[str, Any], name: str, env: Mapping[str, str]) -> str | None:
    """`name` given inline, as `name_env` (a variable's name) or, for keys, `name_file`; messages never hold values."""
    given = [k for k in (name, f"{name}_env", f"{name}_file") if k in item]
    if len(given) > 1:
        raise ValueError(f"{path}: {where}: give only one of {', '.join(given)}")
    if not given:
        return None
    key, value = given[0], item[given[0]]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{path}: {where}: {key} must be a non-empty string")
    if key.endswith("_env"):
        if not env.get(value):
            raise ValueError(f"{path}: {where}: environment variable {value} ({key}) is not set")
        return env[value]
    if key.endswith("_file"):
        file = Path(value) if Path(value).is_absolute() else path.parent / value
        try:
            return file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"{path}: {where}: cannot read {key} {file}") from exc
    return value


def _unknown(path: Path, where: str, item: Mapping[str, Any], known: set[str]) -> None:
    unknown = set(item) - known
    if unknown:
        raise ValueError(f"{path}: {where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
