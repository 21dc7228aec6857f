"""One frozen Config from amili-etl.toml + environment + flags; nothing else in etl reads the environment."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Mapping

from etl.errors import ConfigError
from etl.limits import ISOLATE_CHOICES, READING_KEYS, ReadLimits
from etl.refs import REFERENCE_CHECKS

__all__ = [
    "Config",
    "ConfigProblems",
    "CreditorConfig",
    "account_key",
    "HttpConfig",
    "InboxConfig",
    "known_keys",
    "unknown_keys_message",
    "MatchingConfig",
    "Secrets",
    "load_config",
    "with_sandbox",
    "missing_norway_secrets",
    "set_the_variables",
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
    "arm": {"base_url", "client_no", "autoposting_method", "writeoff_method"},
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
    "write_off_below",
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
    arm_writeoff_method: str = "writeoff"  # ... for a write-off `amili-etl resolve` posts (autopostings = true)
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
    # Over- and underpayments whose |difference| is below this are written off automatically (docs/month-end.md):
    # {currency: minor units}, "*" for every currency; empty: never.
    write_off_below: Mapping[str, int] = field(default_factory=dict)

    def write_off_limit(self, currency: str) -> int:
        """The automatic write-off limit for `currency` in minor units (0: nothing is written off automatically)."""
        return self.write_off_below.get(currency, self.write_off_below.get("*", 0))


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


class ConfigProblems(ConfigError):
    """Every problem of one configuration file: the message names the first (and how many more); `problems` has
    them all, each with its key path (`amili-etl config check` prints them)."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        more = f" (and {len(problems) - 1} more: `amili-etl config check` lists them all)" if len(problems) > 1 else ""
        super().__init__(f"{path}: {problems[0]}{more}")
        self.problems = problems


class _Problems:
    """Collects the problems of one file so every one is found in one pass, not one per round."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.found: list[str] = []

    def add(self, msg: str) -> None:
        """One problem, with its key path, without the file's name."""
        self.found.append(msg)

    def caught(self, exc: ConfigError) -> None:
        """A problem raised by a check that names the file first."""
        text, prefix = str(exc), f"{self.path}: "
        self.add(text[len(prefix):] if text.startswith(prefix) else text)


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


def _table(bad: _Problems, where: str, value: Any) -> dict[str, Any]:
    """`value` when it is a TOML table; else a problem and an empty table (so the other checks still run)."""
    if isinstance(value, dict):
        return value
    bad.add(f"{where}: must be a table (`{where.split('.')[-1]} = {{ ... }}`), not {value!r}")
    return {}


def _choice(bad: _Problems, where: str, key: str, value: Any, allowed: tuple[str, ...], default: str) -> str:
    """`value` when it is one of `allowed`; else a problem quoting it, and `default`."""
    if value in allowed:
        return str(value)
    bad.add(f"{where}: {key} must be one of {', '.join(allowed)}, not {value!r}")
    return default


def _guarded(bad: _Problems, check: Callable[[], Any], default: Any) -> Any:
    """`check()`, or `default` with its ConfigError recorded as a problem."""
    try:
        return check()
    except ConfigError as exc:
        bad.caught(exc)
        return default


_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{8,30}$")
_NO_IBAN = re.compile(r"^NO\d{2}(\d{11})$")


def account_key(spelling: str) -> str:
    """An account as payments are matched to it: one key for every way of writing it.

    Separators (spaces, dots, dashes) and leading zeros do not count: `991-2346` is `9912346`, `1506.29.95960` is
    `15062995960`. An IBAN is compared compact and upper case; a Norwegian one as its 11-digit account
    (`NO93 8601 1117 947` is `86011117947`), as bank files give it. Anything else keeps its digits only. Empty when
    nothing is left (the caller says so).
    """
    compact = re.sub(r"[\s.\-]", "", spelling).upper()
    if _IBAN.match(compact):
        norwegian = _NO_IBAN.match(compact)
        return norwegian.group(1).lstrip("0") if norwegian else compact
    return re.sub(r"\D", "", spelling).lstrip("0")


def _account_keys(bad: _Problems, where: str, accounts: list[str]) -> tuple[str, ...]:
    """The creditor's accounts as keys, each once (two spellings of one account are one account), in given order."""
    keys: dict[str, str] = {}
    for a in accounts:
        key = account_key(a)
        if not key:
            bad.add(f"{where}: accounts: {a!r} is not an account or bankgiro number")
            continue
        keys.setdefault(key, a)
    return tuple(keys)


def _check_account_owners(bad: _Problems, creditors: tuple[CreditorConfig, ...], raw: list[Any]) -> None:
    """A problem for each account (in any spelling) that belongs to two creditors, naming both and how each wrote it."""
    owners: dict[str, tuple[str, str]] = {}
    for c, r in zip(creditors, raw):
        accounts = r.get("accounts", []) if isinstance(r, dict) else []
        for a in accounts if isinstance(accounts, list) else []:
            if not isinstance(a, str):
                continue
            key = account_key(a)
            owner = owners.setdefault(key, (c.name, a))
            if owner[0] != c.name:
                same = "" if owner[1] == a else f" (written {owner[1]!r} there and {a!r} here)"
                bad.add(f"account {a} belongs to both {owner[0]!r} and {c.name!r}{same}: an account belongs to "
                        "one creditor")


def _creditor(path: Path, i: int, raw: Mapping[str, Any], env: Mapping[str, str], bad: _Problems) -> CreditorConfig:
    """One [[creditor]] block; each problem is recorded in `bad` and a neutral value used, so all are found."""
    where = f"creditor[{i + 1}]"  # as `config check` names a creditor: its place, then its name
    unknown = sorted(set(raw) - _CREDITOR_KEYS)
    if unknown:
        bad.add(f"{where}: {unknown_keys_message(unknown, _CREDITOR_KEYS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        bad.add(f"{where}: `name` is required")
        name = f"#{i + 1}"
    else:
        where = f"creditor[{i + 1}] ({name})"
    country = _choice(bad, where, "country", raw.get("country"), COUNTRIES, "NO")
    check = _choice(bad, where, "reference_check", raw.get("reference_check", "mod10" if country == "NO" else "luhn"),
                    REFERENCE_CHECKS, "none")
    invoices_to = _choice(bad, where, "invoices_to", raw.get("invoices_to", "none"), INVOICE_TARGETS, "none")
    payments_to = _choice(bad, where, "payments_to", raw.get("payments_to", "none"), PAYMENT_TARGETS, "none")
    accounts = raw.get("accounts", [])
    if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
        bad.add(f"{where}: accounts must be a list of strings (account or bankgiro numbers), not {accounts!r}")
        accounts = []
    arm = _table(bad, f"{where}.arm", raw.get("arm", {}))
    collection = _table(bad, f"{where}.collection", raw.get("collection", {}))
    ada = _table(bad, f"{where}.ada", raw.get("ada", {}))
    auth = _table(bad, f"{where}.auth", raw.get("auth", {}))
    for section, sub in (("arm", arm), ("collection", collection), ("ada", ada), ("auth", auth)):
        extra = sorted(set(sub) - _CREDITOR_SECTION_KEYS[section])
        if extra:
            bad.add(f"{where}: {section}: {unknown_keys_message(extra, _CREDITOR_SECTION_KEYS[section])}")
    if (invoices_to == "arm" or payments_to == "arm") and not isinstance(arm.get("client_no"), int):
        bad.add(f"{where}: arm.client_no (an integer) is required when sending to ARM, not {arm.get('client_no')!r}")
    if payments_to == "ada" and not ada.get("creditor"):
        bad.add(f"{where}: ada.creditor is required when payments_to = \"ada\"")
    if payments_to == "collection" and not collection.get("org_id"):
        bad.add(f"{where}: collection.org_id is required when payments_to = \"collection\"")
    id_env = auth.get("client_id_env", "AMILI_CLIENT_ID")
    secret_env = auth.get("client_secret_env", "AMILI_CLIENT_SECRET")
    ada_env = auth.get("ada_api_code_env", "AMILI_ADA_API_CODE")
    key_env = auth.get("ada_private_key_env")
    matching = _guarded(bad, lambda: _matching(path, where, raw.get("matching", {})), MatchingConfig())
    autopostings = raw.get("autopostings", False)
    if not isinstance(autopostings, bool) or (autopostings and payments_to != "arm"):
        bad.add(f"{where}: autopostings must be true or false, and true only with payments_to = \"arm\", "
                f"not {autopostings!r}")
        autopostings = False
    kid_length = raw.get("kid_length")
    if kid_length is not None and (isinstance(kid_length, bool) or not isinstance(kid_length, int)
                                   or not 2 <= kid_length <= 25):
        bad.add(f"{where}: kid_length must be a whole number of digits from 2 to 25, not {kid_length!r}")
        kid_length = None
    write_off = _write_off_below(bad, where, raw.get("write_off_below"))
    files = raw.get("invoice_files", [])
    if not isinstance(files, list):
        bad.add(f"{where}: invoice_files must be a list of file name patterns, not {files!r}")
        files = []
    url = lambda key, table, sub: _guarded(bad, lambda: _check_url(path, f"{where}: {sub}.{key}", table.get(key)), None)  # noqa: E731
    return CreditorConfig(
        name=name,
        country=country,
        accounts=_account_keys(bad, where, accounts),
        reference_check=check,
        invoices_to=invoices_to,
        payments_to=payments_to,
        invoice_mapping=raw.get("invoice_mapping", "invoices_generic"),
        invoice_files=tuple(files),
        currency=raw.get("currency", "NOK" if country == "NO" else "SEK"),
        arm_base_url=url("base_url", arm, "arm"),
        arm_client_no=arm.get("client_no"),
        arm_autoposting_method=str(arm.get("autoposting_method", "payment")),
        arm_writeoff_method=str(arm.get("writeoff_method", "writeoff")),
        collection_base_url=url("base_url", collection, "collection"),
        collection_org_id=collection.get("org_id"),
        collection_idempotency_header=_guarded(bad, lambda: _text_setting(
            path, f"{where}: collection.idempotency_header", collection.get("idempotency_header", "Idempotency-Key")),
            "Idempotency-Key"),
        collection_payment_type=_guarded(bad, lambda: _payment_type(
            path, f"{where}: collection.payment_type", collection.get("payment_type", 0)), 0),
        ada_base_url=url("base_url", ada, "ada"),
        ada_creditor=ada.get("creditor"),
        token_url=url("token_url", auth, "auth"),
        client_id_env=id_env,
        client_secret_env=secret_env,
        ada_api_code_env=ada_env,
        ada_private_key_env=key_env,
        secrets=Secrets(env.get(id_env), env.get(secret_env), env.get(ada_env), env.get(key_env) if key_env else None),
        matching=matching,
        autopostings=autopostings,
        kid_length=kid_length,
        write_off_below=write_off,
    )


_WRITE_OFF_AMOUNT = re.compile(r"^\d{1,9}(\.\d{1,2})?$")
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


def _write_off_below(bad: _Problems, where: str, value: Any) -> dict[str, int]:
    """`write_off_below = "5.00"` (every currency) or `{ NOK = "5.00", SEK = "5.00" }` -> {currency or "*": minor}.

    Amounts are decimal strings (a TOML float is refused: money is never a float); each problem goes to `bad`."""
    if value is None:
        return {}
    table = value if isinstance(value, dict) else {"*": value}
    limits: dict[str, int] = {}
    for currency, amount in table.items():
        label = f"{where}: write_off_below" + (f".{currency}" if currency != "*" else "")
        if currency != "*" and not _CURRENCY_CODE.match(str(currency)):
            bad.add(f"{label}: {currency!r} is not a currency code (three capital letters, e.g. NOK)")
        elif not isinstance(amount, str) or not _WRITE_OFF_AMOUNT.match(amount.strip()):
            bad.add(f"{label}: must be an amount as a decimal string with at most two decimals, e.g. \"5.00\" "
                    f"(or a table per currency: {{ NOK = \"5.00\", SEK = \"5.00\" }}), not {amount!r}")
        else:
            limits[str(currency)] = int(Decimal(amount.strip()) * 100)
    return limits


def _matching(path: Path, where: str, raw: Any) -> MatchingConfig:
    """The creditor's [creditor.matching] table: tolerances as decimal strings or numbers, never floats for money."""
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
        raise ConfigError("no configuration: pass --config FILE (`amili-etl init` writes a starter)")
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    bad = _Problems(path)
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        bad.add(unknown_keys_message(unknown, _TOP_KEYS))
    known = known_keys()
    sections = {name: _table(bad, f"[{name}]", raw.get(name, {})) for name in (*_SECTION_KEYS, "http", "output")}
    for section in (*_SECTION_KEYS, "http"):
        allowed = known[section]
        extra = sorted(set(sections[section]) - allowed)
        if extra:
            bad.add(f"[{section}]: {unknown_keys_message(extra, allowed)}")
            sections[section] = {k: v for k, v in sections[section].items() if k in allowed}
    base = path.resolve().parent
    state, output, http_raw = sections["state"], sections["output"], sections["http"]
    http = _http(bad, http_raw)
    insecure = not http.verify_tls
    if insecure and env.get(INSECURE_TLS_ENV) != "1":
        bad.add(f"[http]: verify_tls = false needs an explicit opt-in: set {INSECURE_TLS_ENV}=1 in the "
                "environment of the job (certificates are then not checked; every run warns)")
    creditors_raw = raw.get("creditor", [])
    if not isinstance(creditors_raw, list) or not creditors_raw:
        bad.add("at least one [[creditor]] block is required")
        creditors_raw = []
    creditors = tuple(_creditor(path, i, _table(bad, f"creditor[{i + 1}]", c), env, bad)
                      for i, c in enumerate(creditors_raw))
    names = [c.name for c in creditors]
    if len(set(names)) != len(names):
        bad.add(f"creditor names must be unique: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
    _check_account_owners(bad, creditors, creditors_raw)
    maps = raw.get("mappings", [])
    if not isinstance(maps, list) or not all(isinstance(m, str) for m in maps):
        bad.add(f"mappings must be a list of folders, not {maps!r}")
        maps = []
    extra_maps = tuple(_resolve(base, m) for m in maps)
    log, inbox = sections["log"], sections["inbox"]
    if log.get("level", "info") not in _LOG_LEVELS:
        bad.add(f"[log]: level must be one of {', '.join(_LOG_LEVELS)}, not {log.get('level')!r}")
    try:
        inbox_cfg = InboxConfig(**{k: float(v) for k, v in inbox.items()})
    except (TypeError, ValueError) as exc:
        bad.add(f"[inbox]: {exc}")
        inbox_cfg = InboxConfig()
    reading = _guarded(bad, lambda: _reading(path, sections["reading"]), ReadLimits())
    if bad.found:
        raise ConfigProblems(path, bad.found)
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


def _http(bad: _Problems, raw: dict[str, Any]) -> HttpConfig:
    """[http]: HttpConfig from the table (unknown keys were dropped already); bad values recorded, defaults kept."""
    try:
        http = HttpConfig(**raw)
    except TypeError as exc:
        bad.add(f"[http]: {exc}")
        return HttpConfig()
    if http.io not in ("threads", "async"):
        bad.add(f"[http]: io must be \"threads\" or \"async\", not {http.io!r}")
        http = replace(http, io="threads")
    if not isinstance(http.verify_tls, bool):
        bad.add(f"[http]: verify_tls must be true or false, not {http.verify_tls!r}")
        http = replace(http, verify_tls=True)
    return http


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


def missing_norway_secrets(c: CreditorConfig) -> list[str]:
    """The names of the Norway login's environment variables (client id, client secret) that are not set."""
    return [env for env, value in ((c.client_id_env, c.secrets.client_id),
                                   (c.client_secret_env, c.secrets.client_secret)) if not value]


def set_the_variables(creditor: str, names: list[str]) -> str:
    """The one-line message for missing secrets: only the variables not set, by name."""
    return f"creditor {creditor!r}: set the environment variable{'s' if len(names) > 1 else ''} {' and '.join(names)}"


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
