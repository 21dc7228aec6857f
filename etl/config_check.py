"""`amili-etl config check`: every problem of an amili-etl.toml with its key path, then a login per endpoint."""

from __future__ import annotations

import asyncio
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from etl.config import Config, ConfigProblems, CreditorConfig, known_keys, load_config, plain_http_problem, unknown_keys_message
from etl.errors import EXIT_CLEAN, EXIT_TEMPFAIL, EXIT_USAGE, AmiliUnavailableError, ConfigError

__all__ = ["check_config", "unknown_key_problems", "url_problems", "secret_problems", "account_problems",
           "mapping_problems"]

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


def _creditors(raw: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, table) of every [[creditor]] block that is a table."""
    creditors = raw.get("creditor", [])
    return [(_creditor_label(i, c), c) for i, c in enumerate(creditors if isinstance(creditors, list) else [])
            if isinstance(c, dict)]


def _auth_env(c: Mapping[str, Any], key: str, default: str | None) -> Any:
    auth = c.get("auth", {})
    return auth.get(key, default) if isinstance(auth, dict) else default


def secret_problems(raw: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """Every secret a creditor needs whose environment variable is not set: each missing variable by name, never
    a value (read from the file itself, so they are listed with every other problem in one pass)."""
    problems: list[str] = []
    for label, c in _creditors(raw):
        norway = c.get("invoices_to") == "arm" or c.get("payments_to") in _NORWAY_TARGETS
        needed = [("client_id_env", "AMILI_CLIENT_ID"), ("client_secret_env", "AMILI_CLIENT_SECRET")] if norway else []
        if c.get("payments_to") == "ada":
            key_env = _auth_env(c, "ada_private_key_env", None)
            if not (isinstance(key_env, str) and env.get(key_env)):
                needed.append(("ada_api_code_env", "AMILI_ADA_API_CODE"))
        for key, default in needed:
            name = _auth_env(c, key, default)
            if isinstance(name, str) and not env.get(name):
                problems.append(f"{label}.auth.{key}: environment variable {name} is not set")
    return problems


def _account_problem(country: Any, account: str) -> str | None:
    """Why `account` cannot be one of a creditor's accounts (a typo the run would meet as 'belongs to no creditor')."""
    from etl.refs import mod10_check_digit, mod11_check_digit

    digits = "".join(ch for ch in account if ch not in " .-").upper()
    if digits[:2].isalpha():  # an IBAN: its own check (ISO 13616 mod 97), then a Norwegian one as its account
        moved = digits[4:] + digits[:4]
        if not moved.isalnum() or int("".join(str(int(ch, 36)) for ch in moved)) % 97 != 1:
            return f"{account!r} fails the IBAN check (mod 97: a character wrong or swapped?)"
        if not digits.startswith("NO"):
            return None
        digits = digits[4:]
    if not digits.isdigit():
        return f"{account!r} is not an account number (digits, with dots, spaces or dashes between)"
    if country == "NO":
        if len(digits) != 11:
            return f"{account!r} is not a Norwegian account number (11 digits, not {len(digits)})"
        if mod11_check_digit(digits[:10]) != digits[10]:
            return f"{account!r} fails the MOD11 check of Norwegian account numbers (a digit wrong or swapped?)"
    elif country == "SE" and len(digits) in (7, 8) and mod10_check_digit(digits[:-1]) != digits[-1]:
        # 7 or 8 digits is a bankgiro number (Luhn); a longer Swedish account (clearing + number) has per-bank rules.
        return f"{account!r} fails the check digit of bankgiro numbers (a digit wrong or swapped?)"
    return None


def account_problems(raw: Mapping[str, Any]) -> list[str]:
    """Every account or bankgiro number whose check digit fails, with its key path and the value quoted."""
    problems: list[str] = []
    for label, c in _creditors(raw):
        accounts = c.get("accounts", [])
        for a in accounts if isinstance(accounts, list) else []:
            if isinstance(a, str) and (why := _account_problem(c.get("country"), a)):
                problems.append(f"{label}.accounts: {why}")
    return problems


def mapping_problems(raw: Mapping[str, Any], mapping_dirs: list[Path]) -> list[str]:
    """Every invoice_mapping that names no invoice layout of the mapping folders (with the closest name)."""
    import difflib

    from etl.mapping import load_mappings

    try:
        names = [layout.name for layout in load_mappings(mapping_dirs).of_kind("invoices")]
    except ConfigError as exc:
        return [f"mappings: {exc}"]
    problems: list[str] = []
    for label, c in _creditors(raw):
        name = c.get("invoice_mapping")
        if name is not None and name not in names:
            close = difflib.get_close_matches(str(name), names, n=1, cutoff=0.6)
            problems.append(f"{label}.invoice_mapping: {name!r} is no invoice layout"
                            + (f" (did you mean {close[0]}?)" if close else f" (there are: {', '.join(names)})"))
    return problems


def _mapping_dirs(path: Path, raw: Mapping[str, Any]) -> list[Path]:
    from etl.bundled import bundled_dir

    extra = raw.get("mappings", [])
    base = path.resolve().parent
    return [base / m for m in (extra if isinstance(extra, list) else []) if isinstance(m, str)] + [bundled_dir("mappings")]


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


def _listed_elsewhere(problem: str) -> bool:
    """Unknown keys, bad URLs and missing secrets are listed by this module, each with its full key path."""
    return "unknown" in problem or "URL" in problem or "environment variable" in problem


def check_config(path: Path, *, auth: bool = True, env: Mapping[str, str] | None = None) -> tuple[list[str], list[str], int]:
    """(problems, login report lines, exit code): 0 all well, 2 a configuration problem, 75 an endpoint unreachable.

    Every problem of the file is found in one pass; the logins are tried only when there is none."""
    from etl.bundled import bundled_dir

    env = os.environ if env is None else env
    if not path.is_file():
        return [f"{path}: configuration file not found (looked at {path.absolute()})"], [], EXIT_USAGE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return [f"{path}: not valid TOML: {exc}"], [], EXIT_USAGE
    problems = unknown_key_problems(raw) + url_problems(raw)
    config: Config | None = None
    try:
        config = load_config(path, env=env, default_mapping_dirs=(bundled_dir("mappings"),))
    except ConfigProblems as exc:
        problems += [p for p in exc.problems if not _listed_elsewhere(p)]
    except ConfigError as exc:
        if not _listed_elsewhere(str(exc)):
            problems.append(str(exc))
    problems += account_problems(raw) + mapping_problems(raw, _mapping_dirs(path, raw)) + secret_problems(raw, env)
    lines: list[str] = []
    unreachable = False
    if auth and config is not None and not problems:
        lines, login_problems, unreachable = asyncio.run(_logins(config))
        problems += login_problems
    if problems:
        return problems, lines, EXIT_USAGE
    return problems, lines, EXIT_TEMPFAIL if unreachable else EXIT_CLEAN
