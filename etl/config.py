"""One frozen Config from amili-etl.toml + environment + flags; nothing else in etl reads the environment."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from etl.errors import ConfigError
from etl.limits import ISOLATE_CHOICES, READING_KEYS, ReadLimits
from etl.refs import REFERENCE_CHECKS

__all__ = [
    "Config",
    "CreditorConfig",
    "HttpConfig",
    "InboxConfig",
    "known_keys",
    "unknown_keys_message",
    "MatchingConfig",
    "Secrets",
    "load_config",
    "with_sandbox",
    "SANDBOX_CREDENTIALS",
    "INSECURE_TLS_ENV",
    "plain_http_problem",
    "is_loopback_host",
    "check_transport",
    "insecure_tls_warning",
    "CREDITOR_PLACEHOLDER",
    "for_creditor",
]

COUNTRIES = ("NO", "SE")
INVOICE_TARGETS = ("arm", "none")
PAYMENT_TARGETS = ("arm", "collection", "ada", "none")
SANDBOX_CREDENTIALS = {"client_id": "sandbox", "client_secret": "sandbox", "ada_api_code": "sandbox"}

_TOP_KEYS = {"state", "output", "http", "mappings", "creditor", "log", "inbox", "reading"}
# Tables with a fixed set of keys ([http] is checked against HttpConfig's fields).
_SECTION_KEYS = {"state": {"path"}, "output": {"dir"}, "log": {"dir", "level"},
                 "inbox": {"lock_wait_s", "settle_s"}, "reading": set(READING_KEYS)}
_CREDITOR_SECTION_KEYS = {
    "arm": {"base_url", "client_no", "autoposting_method"},
    "collection": {"base_url", "org_id", "idempotency_header", "payment_type"},
    "ada": {"base_url", "creditor"},
    "auth": {"token_url", "client_id_env", "client_secret_env", "ada_api_code_env", "ada_private_key_env"},
}
_LOG_LEVELS = ("debug", "info", "warning", "error")
_CREDITOR_KEYS = {
    "name",
    "country",
    "accounts",
    "reference_check",
    "invoices_to",
    "payments_to",
    "invoice_mapping",
    "invoice_files",
    "currency",
    "arm",
    "collection",
    "ada",
    "auth",
    "matching",
    "autopostings",
    "kid_length",
}
_MATCHING_KEYS = {"invoice_number_pattern", "amount_tolerance", "amount_tolerance_percent", "date_window_days",
                  "name_similarity", "multi_invoice_max", "multi_invoice_open_max"}


@dataclass(frozen=True)
class Secrets:
    """Credentials read from the environment; `repr` never shows them."""

    client_id: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)
    ada_api_code: str | None = field(default=None, repr=False)
    ada_private_key: str | None = field(default=None, repr=False)  # PEM: sign the api-code JWT instead of POSTing the code


@dataclass(frozen=True)
class MatchingConfig:
    """Matching tolerances of one creditor (docs/matching.md): all optional, strict defaults."""

    invoice_number_pattern: str | None = None  # regex an invoice number in free text must match whole
    amount_tolerance_minor: int = 0  # absolute amount tolerance of the amount + name rule
    amount_tolerance_bp: int = 0  # relative tolerance in basis points of what is open (1 % = 100)
    date_window_days: int = 60  # a payment may come up to this many days after the due date
    name_similarity: float = 0.6  # payer name vs customer name, token Jaccard, 0..1
    multi_invoice_max: int = 4  # at most this many invoices in one payment (subset search bound)
    multi_invoice_open_max: int = 16  # the subset search runs only for customers with at most this many open


@dataclass(frozen=True)
class CreditorConfig:
    """One creditor profile: whose accounts, which checks, where invoices and payments go."""

    name: str
    country: str
    accounts: tuple[str, ...]
    reference_check: str
    invoices_to: str
    payments_to: str
    invoice_mapping: str
    invoice_files: tuple[str, ...]
    currency: str
    arm_base_url: str | None = None
    arm_client_no: int | None = None
    arm_autoposting_method: str = "payment"  # the {autopostingmethod} used when autopostings = true
    collection_base_url: str | None = None
    collection_org_id: str | None = None
    # Undocumented at Amili: the header that sets a batch's idempotency key (searchable as IdempotencyKey), and the
    # payment `type` (the page's example shows the integer 0; other Amili pages name "DIRECT_PAYMENT"). docs/delivery.md.
    collection_idempotency_header: str = "Idempotency-Key"
    collection_payment_type: int | str = 0
    ada_base_url: str | None = None
    ada_creditor: str | None = None
    token_url: str | None = None
    client_id_env: str = "AMILI_CLIENT_ID"
    client_secret_env: str = "AMILI_CLIENT_SECRET"
    ada_api_code_env: str = "AMILI_ADA_API_CODE"
    ada_private_key_env: str | None = None
    secrets: Secrets = field(default_factory=Secrets)
    matching: MatchingConfig = field(default_factory=MatchingConfig)
    autopostings: bool = False  # ARM creditors: matched payments go as ARM autopostings, not reservations
    # The fixed length of this creditor's KIDs, when it has one: a shorter all-digit KID in an invoice export (Excel
    # strips leading zeros) is padded back to it when the padded KID passes reference_check. None: never padded.
    kid_length: int | None = None


@dataclass(frozen=True)
class HttpConfig:
    """Transport limits: timeouts, concurrency, retries and polling."""

    timeout_s: float = 30.0
    concurrency: int = 8
    max_attempts: int = 6
    max_retry_time_s: float = 60.0
    poll_interval_s: float = 0.2
    poll_timeout_s: float = 60.0
    verify_tls: bool = True
    # Client-side requests per second per API family and creditor (0: unlimited); `rate_limits` overrides per
    # family ("arm", "collection", "ada"). Keep it at or just under Amili's limit so we never bounce off it.
    rate_limit: float = 0.0
    rate_limits: dict[str, float] = field(default_factory=dict)
    document_batch_min: int = 20       # ARM documents: single POSTs below this many, /documents/batches from it
    document_batch_size: int = 500
    collection_batch_size: int = 500   # Collection payments per POST (Amili takes at most 1000)
    autoposting_batch_size: int = 100  # ARM autopostings per all-or-nothing batch
    io: str = "threads"                # "threads": httpx's sync client in `concurrency` threads (faster here); "async"
    ada_batch_size: int = 50           # ADA creditor payments per bulk POST (faster under faults); 0: single POSTs
    # After an asynchronous batch POST (ARM documents, Collection payments) whose answer was lost, wait this long
    # for Amili to process what it may have taken before a lookup that finds nothing allows a resend.
    lookup_settle_s: float = 30.0


@dataclass(frozen=True)
class InboxConfig:
    """The nightly inbox: how long a second run waits for the lock, how long a file must keep its size."""

    lock_wait_s: float = 60.0
    settle_s: float = 2.0


@dataclass(frozen=True)
class Config:
    """Everything a run needs to know, resolved once."""

    path: Path | None
    state_path: Path
    output_dir: Path
    mapping_dirs: tuple[Path, ...]
    creditors: tuple[CreditorConfig, ...]
    http: HttpConfig = field(default_factory=HttpConfig)
    sandbox: bool = False
    log_dir: Path | None = None  # None: each run's log.jsonl goes into its run folder
    log_level: str = "info"
    inbox: InboxConfig = field(default_factory=lambda: InboxConfig())
    # [http] verify_tls = false AND AMILI_ETL_INSECURE_TLS=1 in the environment: every run warns loudly.
    insecure_tls: bool = False
    reading: ReadLimits = field(default_factory=ReadLimits)  # [reading]: bounds on reading one file (issue 14)

    def creditor(self, name: str) -> CreditorConfig:
        """The creditor profile called `name`."""
        for c in self.creditors:
            if c.name == name:
                return c
        raise ConfigError(f"{self.path}: no creditor called {name!r}")


def unknown_keys_message(unknown: list[str], allowed: set[str]) -> str:
    """'unknown key(s) a, b' with a 'did you mean' for each that is close to an allowed key."""
    import difflib

    parts = []
    for key in unknown:
        close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
        parts.append(f"{key} (did you mean {close[0]}?)" if close else key)
    return f"unknown key(s) {', '.join(parts)}"


def known_keys() -> dict[str, set[str]]:
    """Every table of amili-etl.toml and its allowed keys: '' is the top level, 'creditor.arm' a creditor's [arm]."""
    import dataclasses

    keys: dict[str, set[str]] = {"": set(_TOP_KEYS), "creditor": set(_CREDITOR_KEYS), "creditor.matching": set(_MATCHING_KEYS),
                                 "http": {f.name for f in dataclasses.fields(HttpConfig)}}
    keys.update({name: set(v) for name, v in _SECTION_KEYS.items()})
    keys.update({f"creditor.{name}": set(v) for name, v in _CREDITOR_SECTION_KEYS.items()})
    return keys


def _fail(path: Path, msg: str) -> ConfigError:
    return ConfigError(f"{path}: {msg}")


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p)


# The environment variable that must be "1" for `[http] verify_tls = false` to be accepted (docs/configuration.md).
INSECURE_TLS_ENV = "AMILI_ETL_INSECURE_TLS"


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1: the only hosts plain http may go to (a local sandbox)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def plain_http_problem(url: str) -> str | None:
    """Why `url` must not carry credentials (plain http to a host that is not loopback), or None when it may."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return f"{url!r} is not an http(s) URL with a host"
    if parts.scheme.lower() == "http" and not (host and is_loopback_host(host)):
        return f"{url!r} uses plain http to a remote host: use https (plain http only for a local sandbox)"
    return None


def check_transport(config: Config) -> None:
    """ConfigError (exit 2, one line) before anything talks to Amili when an endpoint is plain http to a host that
    is not loopback: credentials and payments never travel in clear text. Shared with `config check`."""
    for c in config.creditors:
        for key, url in (("arm.base_url", c.arm_base_url), ("collection.base_url", c.collection_base_url),
                         ("ada.base_url", c.ada_base_url), ("auth.token_url", c.token_url)):
            if url and (why := plain_http_problem(url)):
                raise ConfigError(f"{config.path}: creditor {c.name!r}: {key}: {why}; nothing was sent")


def insecure_tls_warning(config: Config) -> str | None:
    """The loud line every run logs when TLS certificates are not verified, else None."""
    if config.http.verify_tls:
        return None
    return (f"WARNING: TLS certificates are NOT verified ([http] verify_tls = false, {INSECURE_TLS_ENV}=1): "
            "anyone on the network path can read the credentials and payments; use only against a test system")


def _check_url(path: Path, where: str, url: Any) -> str | None:
    if url is None:
        return None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise _fail(path, f"{where}: {url!r} is not an http(s) URL")
    return url.rstrip("/")


def _text_setting(path: Path, where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or any(ch in value for ch in ":\r\n "):
        raise _fail(path, f"{where}: {value!r} is not a header name")
    return value.strip()


def _payment_type(path: Path, where: str, value: Any) -> int | str:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise _fail(path, f"{where}: {value!r} must be an integer (the docs' example: 0) or a name such as "
                          "\"DIRECT_PAYMENT\"")
    return value


def _creditor(path: Path, i: int, raw: Mapping[str, Any], env: Mapping[str, str]) -> CreditorConfig:
    where = f"creditor #{i + 1}"
    unknown = sorted(set(raw) - _CREDITOR_KEYS)
    if unknown:
        raise _fail(path, f"{where}: {unknown_keys_message(unknown, _CREDITOR_KEYS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(path, f"{where}: `name` is required")
    where = f"creditor {name!r}"
    country = raw.get("country")
    if country not in COUNTRIES:
        raise _fail(path, f"{where}: country must be one of {', '.join(COUNTRIES)}, not {country!r}")
    check = raw.get("reference_check", "mod10" if country == "NO" else "luhn")
    if check not in REFERENCE_CHECKS:
        raise _fail(path, f"{where}: reference_check must be one of {', '.join(REFERENCE_CHECKS)}, not {check!r}")
    invoices_to = raw.get("invoices_to", "none")
    if invoices_to not in INVOICE_TARGETS:
        raise _fail(path, f"{where}: invoices_to must be one of {', '.join(INVOICE_TARGETS)}")
    payments_to = raw.get("payments_to", "none")
    if payments_to not in PAYMENT_TARGETS:
        raise _fail(path, f"{where}: payments_to must be one of {', '.join(PAYMENT_TARGETS)}")
    accounts = raw.get("accounts", [])
    if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
        raise _fail(path, f"{where}: accounts must be a list of strings (account or bankgiro numbers)")
    arm = raw.get("arm", {})
    collection = raw.get("collection", {})
    ada = raw.get("ada", {})
    auth = raw.get("auth", {})
    for section, sub in (("arm", arm), ("collection", collection), ("ada", ada), ("auth", auth)):
        extra = sorted(set(sub) - _CREDITOR_SECTION_KEYS[section])
        if extra:
            raise _fail(path, f"{where}: {section}: {unknown_keys_message(extra, _CREDITOR_SECTION_KEYS[section])}")
    if (invoices_to == "arm" or payments_to == "arm") and not isinstance(arm.get("client_no"), int):
        raise _fail(path, f"{where}: arm.client_no (an integer) is required when sending to ARM")
    if payments_to == "ada" and not ada.get("creditor"):
        raise _fail(path, f"{where}: ada.creditor is required when payments_to = \"ada\"")
    if payments_to == "collection" and not collection.get("org_id"):
        raise _fail(path, f"{where}: collection.org_id is required when payments_to = \"collection\"")
    id_env = auth.get("client_id_env", "AMILI_CLIENT_ID")
    secret_env = auth.get("client_secret_env", "AMILI_CLIENT_SECRET")
    ada_env = auth.get("ada_api_code_env", "AMILI_ADA_API_CODE")
    key_env = auth.get("ada_private_key_env")
    matching = _matching(path, where, raw.get("matching", {}))
    autopostings = raw.get("autopostings", False)
    if not isinstance(autopostings, bool) or (autopostings and payments_to != "arm"):
        raise _fail(path, f"{where}: autopostings must be true or false, and true only with payments_to = \"arm\"")
    kid_length = raw.get("kid_length")
    if kid_length is not None and (isinstance(kid_length, bool) or not isinstance(kid_length, int)
                                   or not 2 <= kid_length <= 25):
        raise _fail(path, f"{where}: kid_length must be a whole number of digits from 2 to 25")
    files = raw.get("invoice_files", [])
    if not isinstance(files, list):
        raise _fail(path, f"{where}: invoice_files must be a list of file name patterns")
    return CreditorConfig(
        name=name,
        country=country,
        accounts=tuple(a.replace(".", "").replace(" ", "").replace("-", "").lstrip("0") for a in accounts),
        reference_check=check,
        invoices_to=invoices_to,
        payments_to=payments_to,
        invoice_mapping=raw.get("invoice_mapping", "invoices_generic"),
        invoice_files=tuple(files),
        currency=raw.get("currency", "NOK" if country == "NO" else "SEK"),
        arm_base_url=_check_url(path, f"{where}: arm.base_url", arm.get("base_url")),
        arm_client_no=arm.get("client_no"),
        arm_autoposting_method=str(arm.get("autoposting_method", "payment")),
        collection_base_url=_check_url(path, f"{where}: collection.base_url", collection.get("base_url")),
        collection_org_id=collection.get("org_id"),
        collection_idempotency_header=_text_setting(path, f"{where}: collection.idempotency_header",
                                                    collection.get("idempotency_header", "Idempotency-Key")),
        collection_payment_type=_payment_type(path, f"{where}: collection.payment_type", collection.get("payment_type", 0)),
        ada_base_url=_check_url(path, f"{where}: ada.base_url", ada.get("base_url")),
        ada_creditor=ada.get("creditor"),
        token_url=_check_url(path, f"{where}: auth.token_url", auth.get("token_url")),
        client_id_env=id_env,
        client_secret_env=secret_env,
        ada_api_code_env=ada_env,
        ada_private_key_env=key_env,
        secrets=Secrets(env.get(id_env), env.get(secret_env), env.get(ada_env), env.get(key_env) if key_env else None),
        matching=matching,
        autopostings=autopostings,
        kid_length=kid_length,
    )


def _matching(path: Path, where: str, raw: Any) -> MatchingConfig:
    """The creditor's [creditor.matching] table: tolerances as decimal strings or numbers, never floats for money."""
    import re
    from decimal import Decimal, InvalidOperation

    if not isinstance(raw, dict):
        raise _fail(path, f"{where}: matching must be a table")
    extra = sorted(set(raw) - _MATCHING_KEYS)
    if extra:
        raise _fail(path, f"{where}: unknown matching key(s) {', '.join(extra)}")
    try:
        pattern = raw.get("invoice_number_pattern")
        if pattern is not None:
            re.compile(pattern)
        amount = Decimal(str(raw.get("amount_tolerance", "0")))
        percent = Decimal(str(raw.get("amount_tolerance_percent", "0")))
        window = int(raw.get("date_window_days", 60))
        similarity = float(raw.get("name_similarity", 0.6))
        k_max = int(raw.get("multi_invoice_max", 4))
        open_max = int(raw.get("multi_invoice_open_max", 16))
    except (re.error, InvalidOperation, ValueError, TypeError) as exc:
        raise _fail(path, f"{where}: matching: {exc}") from None
    if amount < 0 or percent < 0 or window < 0 or not 0 < similarity <= 1 or not 1 <= k_max <= 8 or open_max > 64:
        raise _fail(path, f"{where}: matching: tolerances must be >= 0, name_similarity in (0, 1], "
                          "multi_invoice_max 1..8, multi_invoice_open_max <= 64")
    return MatchingConfig(pattern, int(amount * 100), int(percent * 100), window, similarity, k_max, open_max)


def load_config(
    path: Path | None,
    *,
    env: Mapping[str, str] | None = None,
    default_mapping_dirs: tuple[Path, ...] = (),
) -> Config:
    """Read and check amili-etl.toml; relative paths in it are relative to the file's folder."""
    env = os.environ if env is None else env
    if path is None:
        raise ConfigError("no configuration: pass --config FILE (an example: sample_data/amili-etl.toml)")
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise _fail(path, unknown_keys_message(unknown, _TOP_KEYS))
    known = known_keys()
    for section in (*_SECTION_KEYS, "http"):
        allowed = known[section]
        extra = sorted(set(raw.get(section, {})) - allowed)
        if extra:
            raise _fail(path, f"[{section}]: {unknown_keys_message(extra, allowed)}")
    base = path.resolve().parent
    state = raw.get("state", {})
    output = raw.get("output", {})
    http_raw = raw.get("http", {})
    try:
        http = HttpConfig(**http_raw)
    except TypeError as exc:
        raise _fail(path, f"[http]: {exc}") from None
    if http.io not in ("threads", "async"):
        raise _fail(path, f"[http]: io must be \"threads\" or \"async\", not {http.io!r}")
    if not isinstance(http.verify_tls, bool):
        raise _fail(path, f"[http]: verify_tls must be true or false, not {http.verify_tls!r}")
    insecure = not http.verify_tls
    if insecure and env.get(INSECURE_TLS_ENV) != "1":
        raise _fail(path, f"[http]: verify_tls = false needs an explicit opt-in: set {INSECURE_TLS_ENV}=1 in the "
                          "environment of the job (certificates are then not checked; every run warns)")
    creditors_raw = raw.get("creditor", [])
    if not creditors_raw:
        raise _fail(path, "at least one [[creditor]] block is required")
    creditors = tuple(_creditor(path, i, c, env) for i, c in enumerate(creditors_raw))
    names = [c.name for c in creditors]
    if len(set(names)) != len(names):
        raise _fail(path, "creditor names must be unique")
    owners: dict[str, str] = {}
    for c in creditors:
        for a in c.accounts:
            if a in owners:
                raise _fail(path, f"account {a} belongs to both {owners[a]!r} and {c.name!r}")
            owners[a] = c.name
    extra_maps = tuple(_resolve(base, m) for m in raw.get("mappings", []))
    log, inbox = raw.get("log", {}), raw.get("inbox", {})
    if log.get("level", "info") not in _LOG_LEVELS:
        raise _fail(path, f"[log]: level must be one of {', '.join(_LOG_LEVELS)}")
    try:
        inbox_cfg = InboxConfig(**{k: float(v) for k, v in inbox.items()})
    except (TypeError, ValueError) as exc:
        raise _fail(path, f"[inbox]: {exc}") from None
    reading = _reading(path, raw.get("reading", {}))
    return Config(
        path=path,
        state_path=_resolve(base, state.get("path", "state/amili-etl.duckdb")),
        output_dir=_resolve(base, output.get("dir", "reports")),
        mapping_dirs=extra_maps + default_mapping_dirs,
        creditors=creditors,
        http=http,
        log_dir=_resolve(base, log["dir"]) if log.get("dir") else None,
        log_level=log.get("level", "info"),
        inbox=inbox_cfg,
        insecure_tls=insecure,
        reading=reading,
    )


def _reading(path: Path, raw: Any) -> ReadLimits:
    """[reading]: numbers above zero, isolate one of ISOLATE_CHOICES; unknown keys were refused already."""
    import dataclasses

    values: dict[str, Any] = {}
    for f in dataclasses.fields(ReadLimits):
        if f.name not in raw:
            continue
        v = raw[f.name]
        if f.name == "isolate":
            if v not in ISOLATE_CHOICES:
                raise _fail(path, f"[reading]: isolate must be one of {', '.join(ISOLATE_CHOICES)}, not {v!r}")
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise _fail(path, f"[reading]: {f.name} must be a number above 0, not {v!r}")
        elif f.type in ("int", int):
            v = int(v)
        values[f.name] = v
    return ReadLimits(**values)


# In [state].path, [output].dir and [log].dir: replaced by the creditor's name, so that each creditor of a
# multi-creditor file (or of an orchestrator's registry) has its own state file and never shares a writer.
CREDITOR_PLACEHOLDER = "{creditor}"


def _fill(path: Path | None, name: str) -> Path | None:
    return None if path is None else Path(str(path).replace(CREDITOR_PLACEHOLDER, name))


def for_creditor(config: Config, name: str | None) -> Config:
    """The config narrowed to creditor `name` (None: every creditor), with `{creditor}` in the state, output and
    log paths replaced by the name; ConfigError when the name is unknown or the placeholder cannot be filled."""
    templated = [label for label, p in (("[state].path", config.state_path), ("[output].dir", config.output_dir),
                                        ("[log].dir", config.log_dir)) if p is not None and CREDITOR_PLACEHOLDER in str(p)]
    if name is None:
        if not templated:
            return config
        if len(config.creditors) != 1:
            raise ConfigError(f"{config.path}: {templated[0]} holds {CREDITOR_PLACEHOLDER} and the file has "
                              f"{len(config.creditors)} creditors: pass --creditor NAME (one of "
                              f"{', '.join(c.name for c in config.creditors)})")
        name = config.creditors[0].name
    chosen = [c for c in config.creditors if c.name == name]
    if not chosen:
        raise ConfigError(f"{config.path}: --creditor {name!r}: no such creditor (the file has "
                          f"{', '.join(c.name for c in config.creditors)})")
    if templated and (name in ("", ".", "..") or any(ch in name for ch in "/\\\0")):
        raise ConfigError(f"{config.path}: creditor {name!r} cannot fill {CREDITOR_PLACEHOLDER} in {templated[0]}: "
                          "a name used in a path may not be '.', '..' or contain a slash")
    return replace(config, creditors=tuple(chosen), state_path=_fill(config.state_path, name),
                   output_dir=_fill(config.output_dir, name), log_dir=_fill(config.log_dir, name))


def with_sandbox(config: Config, base_url: str) -> Config:
    """The same config with every API pointed at a sandbox on `base_url` and its default credentials."""
    creditors = tuple(
        replace(
            c,
            arm_base_url=f"{base_url}/arm",
            collection_base_url=f"{base_url}/collection/v1",
            ada_base_url=f"{base_url}/ada",
            token_url=f"{base_url}/auth/token",
            secrets=Secrets(**SANDBOX_CREDENTIALS),
        )
        for c in config.creditors
    )
    return replace(config, creditors=creditors, sandbox=True)
