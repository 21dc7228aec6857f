"""`amili-etl config check`: every problem of an amili-etl.toml with its key path, then a login per endpoint."""

from __future__ import annotations

import asyncio
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from etl.config import Config, CreditorConfig, known_keys, load_config, plain_http_problem, unknown_keys_message
from etl.errors import EXIT_CLEAN, EXIT_TEMPFAIL, EXIT_USAGE, AmiliUnavailableError, ConfigError

__all__ = ["check_config", "unknown_key_problems", "url_problems", "secret_problems"]

_URL_KEYS = ("base_url", "token_url")
_NORWAY_TARGETS = ("arm", "autopostings", "collection")


def _creditor_label(i: int, raw: Mapping[str, Any]) -> str:
    name = raw.get("name")
    return f"creditor[{i + 1}]" + (f" ({name})" if isinstance(name, str) and name else "")


def unknown_key_problems(raw: Mapping[str, Any]) -> list[str]:
    """Every unknown key at any level, as 'key.path: unknown key(s) x (did you mean y?)'."""
    known = known_keys()
    problems: list[str] = []

    def check(where: str, table: Any, allowed: set[str]) -> None:
        if not isinstance(table, dict):
            return
        extra = sorted(set(table) - allowed)
        if extra:
            problems.append(f"{where or 'top level'}: {unknown_keys_message(extra, allowed)}")

    check("", raw, known[""])
    for section in ("state", "output", "log", "inbox", "http"):
        check(f"[{section}]", raw.get(section, {}), known[section])
    creditors = raw.get("creditor", [])
    for i, c in enumerate(creditors if isinstance(creditors, list) else []):
        if not isinstance(c, dict):
            continue
        label = _creditor_label(i, c)
        check(label, c, known["creditor"])
        for sub in ("arm", "collection", "ada", "auth", "matching"):
            if f"creditor.{sub}" in known:
                check(f"{label}.{sub}", c.get(sub, {}), known[f"creditor.{sub}"])
    return problems


def _url_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"{value!r} is not a URL (a string like \"https://host/path\")"
    try:
        parts = urlsplit(value)
        scheme, host = parts.scheme, parts.hostname
    except ValueError:
        scheme, host = "", None
    if scheme not in ("http", "https") or not host or any(ch.isspace() for ch in value):
        return f"{value!r} is not an http(s) URL with a host"
    return plain_http_problem(value)  # the same rule `run` and every command that talks to Amili applies


def url_problems(raw: Mapping[str, Any]) -> list[str]:
    """Every endpoint URL that is not a usable http(s) URL, with its key path."""
    problems: list[str] = []
    creditors = raw.get("creditor", [])
    for i, c in enumerate(creditors if isinstance(creditors, list) else []):
        if not isinstance(c, dict):
            continue
        for sub in ("arm", "collection", "ada", "auth"):
            table = c.get(sub, {})
            for key in _URL_KEYS:
                if isinstance(table, dict) and key in table and (why := _url_problem(table[key])):
                    problems.append(f"{_creditor_label(i, c)}.{sub}.{key}: {why}")
    return problems


def _needs_norway(c: CreditorConfig) -> bool:
    return c.invoices_to == "arm" or c.payments_to in _NORWAY_TARGETS


def secret_problems(config: Config) -> list[str]:
    """Every secret a creditor needs whose environment variable is not set (names only, never values)."""
    problems: list[str] = []
    for c in config.creditors:
        if _needs_norway(c):
            for key, env_name, value in (("client_id_env", c.client_id_env, c.secrets.client_id),
                                         ("client_secret_env", c.client_secret_env, c.secrets.client_secret)):
                if not value:
                    problems.append(f"creditor {c.name!r}.auth.{key}: environment variable {env_name} is not set")
        if c.payments_to == "ada" and not (c.secrets.ada_api_code or getattr(c.secrets, "ada_private_key", None)):
            problems.append(f"creditor {c.name!r}.auth.ada_api_code_env: environment variable {c.ada_api_code_env} "
                            "is not set")
    return problems


async def _logins(config: Config) -> tuple[list[str], list[str], bool]:
    """Log in once per creditor and endpoint family: (report lines, problems, any endpoint unreachable)."""
    from etl.amili.auth import AdaAuth, NorwayAuth
    from etl.amili.transport import Transport

    lines: list[str] = []
    problems: list[str] = []
    unreachable = False
    transport = Transport(config.http)
    try:
        for c in config.creditors:
            checks: list[tuple[str, str | None, Any]] = []
            if _needs_norway(c):
                checks.append(("ARM/Collection token", c.token_url, NorwayAuth(transport, c)))
            if c.payments_to == "ada":
                checks.append(("ADA login", c.ada_base_url, AdaAuth(transport, c)))
            for what, url, auth in checks:
                try:
                    await auth.headers()
                except AmiliUnavailableError as exc:
                    unreachable = True
                    lines.append(f"login: creditor {c.name!r} {what} ({url}): unreachable: {exc}")
                except ConfigError as exc:
                    problems.append(f"login: {exc}")
                    lines.append(f"login: creditor {c.name!r} {what} ({url}): refused")
                else:
                    lines.append(f"login: creditor {c.name!r} {what} ({url}): ok")
    finally:
        await transport.aclose()
    return lines, problems, unreachable


def check_config(path: Path, *, auth: bool = True, env: Mapping[str, str] | None = None) -> tuple[list[str], list[str], int]:
    """(problems, login report lines, exit code): 0 all well, 2 a configuration problem, 75 an endpoint unreachable."""
    from etl.bundled import bundled_dir

    env = os.environ if env is None else env
    if not path.is_file():
        return [f"{path}: configuration file not found"], [], EXIT_USAGE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return [f"{path}: not valid TOML: {exc}"], [], EXIT_USAGE
    problems = unknown_key_problems(raw) + url_problems(raw)
    config: Config | None = None
    try:
        config = load_config(path, env=env, default_mapping_dirs=(bundled_dir("mappings"),))
    except ConfigError as exc:
        text = str(exc)
        # Unknown keys and bad URLs are already listed, each with its full key path.
        if "unknown" not in text and "URL" not in text:
            problems.append(text)
    if config is not None:
        problems += secret_problems(config)
    lines: list[str] = []
    unreachable = False
    if auth and config is not None and not problems:
        lines, login_problems, unreachable = asyncio.run(_logins(config))
        problems += login_problems
    if problems:
        return problems, lines, EXIT_USAGE
    return problems, lines, EXIT_TEMPFAIL if unreachable else EXIT_CLEAN
