"""The creditor registry an orchestrator runs: which creditors exist, their config file and inbox folder.

A registry is either a folder holding one amili-etl.toml per creditor (`<registry>/<any>/amili-etl.toml`; a file may
hold more than one [[creditor]]), or a single amili-etl.toml with many [[creditor]] blocks. Optional beside them:
orchestration.toml (the family limits, the inbox root and the month-end schedule). Plain Python: no dagster here.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from etl.config import CreditorConfig, load_config
from etl.errors import ConfigError, EtlError

__all__ = ["REGISTRY_ENV", "FAMILIES", "CreditorEntry", "Registry", "Settings", "load_registry", "registry_path_from_env",
           "load_settings", "families"]

REGISTRY_ENV = "AMILI_ETL_REGISTRY"
CONFIG_NAME = "amili-etl.toml"
SETTINGS_NAME = "orchestration.toml"
FAMILIES = ("arm", "collection", "ada")  # the Amili API families; each has its own rate limits at Amili
_DEFAULT_POOL = 4
_SETTINGS_KEYS = {"pools": set(FAMILIES), "inbox": {"root", "interval_s"}, "month_end": {"cron", "timezone"}}


@dataclass(frozen=True)
class CreditorEntry:
    """One creditor of the registry: its name (the partition key), config file, inbox folder and API families."""

    name: str
    config_path: Path
    inbox: Path
    families: tuple[str, ...]


@dataclass(frozen=True)
class Settings:
    """orchestration.toml: per family, how many creditors' runs may talk to Amili at once; inbox and month-end."""

    pools: dict[str, int] = field(default_factory=lambda: {f: _DEFAULT_POOL for f in FAMILIES})
    inbox_root: Path | None = None  # None: <the creditor's config folder>/inbox; each creditor's inbox is <root>/<name>
    inbox_interval_s: int = 30
    month_end_cron: str = "0 6 8 * *"  # the 8th: Collection settlements of the month's last days have come in by then
    month_end_timezone: str = "Europe/Oslo"


@dataclass(frozen=True)
class Registry:
    """The creditors found, and one line per config file that could not be read (those creditors are unknown)."""

    root: Path
    settings: Settings
    creditors: dict[str, CreditorEntry]
    problems: tuple[str, ...] = ()

    def entry(self, name: str) -> CreditorEntry:
        """The creditor called `name`; ConfigError when the registry has none by that name (now)."""
        if name not in self.creditors:
            why = f" ({'; '.join(self.problems)})" if self.problems else ""
            raise ConfigError(f"{self.root}: no creditor {name!r} in the registry{why}")
        return self.creditors[name]


def registry_path_from_env(env: dict[str, str] | None = None) -> Path:
    """The registry named by AMILI_ETL_REGISTRY; ConfigError (one line, what to set) when unset or missing."""
    value = (os.environ if env is None else env).get(REGISTRY_ENV, "").strip()
    if not value:
        raise ConfigError(f"{REGISTRY_ENV} is not set: point it at the creditor registry, a folder with one "
                          f"{CONFIG_NAME} per creditor or one {CONFIG_NAME} with many [[creditor]] blocks "
                          "(docs/orchestration.md)")
    path = Path(value).expanduser()
    if not path.exists():
        raise ConfigError(f"{REGISTRY_ENV}={value}: no such file or folder")
    return path


def families(c: CreditorConfig) -> tuple[str, ...]:
    """The Amili API families a creditor's runs talk to (invoices to ARM, payments to ARM, Collection or ADA)."""
    used = {c.payments_to} | ({"arm"} if c.invoices_to == "arm" else set())
    return tuple(f for f in FAMILIES if f in used)


def _config_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.glob(f"*/{CONFIG_NAME}") if p.is_file())


def load_settings(root: Path) -> Settings:
    """orchestration.toml in the registry folder (or beside the registry file); defaults when there is none."""
    path = (root if root.is_dir() else root.parent) / SETTINGS_NAME
    if not path.is_file():
        return Settings()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for table, value in raw.items():
        if table not in _SETTINGS_KEYS or not isinstance(value, dict) or set(value) - _SETTINGS_KEYS[table]:
            raise ConfigError(f"{path}: [{table}]: unknown table or key(s) (allowed: "
                              + "; ".join(f"[{t}] {', '.join(sorted(k))}" for t, k in _SETTINGS_KEYS.items()) + ")")
    pools = {f: _DEFAULT_POOL for f in FAMILIES}
    for family, n in raw.get("pools", {}).items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"{path}: [pools] {family} must be a whole number of runs, at least 1, not {n!r}")
        pools[family] = n
    inbox, month_end = raw.get("inbox", {}), raw.get("month_end", {})
    root_value = inbox.get("root")
    interval = inbox.get("interval_s", 30)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise ConfigError(f"{path}: [inbox] interval_s must be a whole number of seconds, at least 1")
    cron = month_end.get("cron", Settings.month_end_cron)
    if not isinstance(cron, str) or len(cron.split()) != 5:
        raise ConfigError(f"{path}: [month_end] cron must be a five-field cron expression, not {cron!r}")
    return Settings(pools=pools, inbox_root=(path.parent / str(root_value)).resolve() if root_value else None,
                    inbox_interval_s=interval, month_end_cron=cron,
                    month_end_timezone=str(month_end.get("timezone", Settings.month_end_timezone)))


def load_registry(root: Path, env: dict[str, str] | None = None) -> Registry:
    """Every creditor of the registry at `root`. A config file that cannot be read is a problem line, not an
    exception: one broken file must not hide (or, to the partition sensor, remove) every other creditor."""
    settings = load_settings(root)
    creditors: dict[str, CreditorEntry] = {}
    problems: list[str] = []
    for path in _config_files(root):
        try:
            config = load_config(path, env=os.environ if env is None else env)
        except EtlError as exc:
            problems.append(str(exc))
            continue
        for c in config.creditors:
            if c.name in creditors:
                problems.append(f"{path}: creditor {c.name!r} is also in {creditors[c.name].config_path}; "
                                "the first one is used")
                continue
            inbox_root = settings.inbox_root or path.parent / "inbox"
            creditors[c.name] = CreditorEntry(c.name, path, inbox_root / c.name, families(c))
    if not creditors and not problems:
        problems.append(f"{root}: no {CONFIG_NAME} found" + ("" if root.is_file() else f" in {root}/*/"))
    return Registry(root, settings, creditors, tuple(problems))

