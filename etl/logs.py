"""Run logs: one JSON-lines file per run through stdlib logging, with personal data masked and secrets redacted.

Everything under the "etl" logger goes to the run's file while a run is open (`run_log`). A filter on the handler
masks national identity numbers, account numbers and names, and replaces every configured secret (and anything
that looks like a bearer token) before a record is formatted, so nothing sensitive reaches the file.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["JsonFormatter", "MaskingFilter", "mask_text", "mask_name", "log_event", "run_log", "secret_values", "LOGGER"]

LOGGER = logging.getLogger("etl")

# Digit runs that may be a national identity number or an account number: Norwegian fødselsnummer (11 digits),
# Swedish personnummer (YYMMDD-NNNN, YYYYMMDDNNNN, with - or +), Norwegian accounts (1234.56.78903), Swedish
# bankgiro/plusgiro and clearing+account numbers, IBANs. Every run of 7 or more digits (groups joined by dot,
# dash or plus) is masked but its last two digits; amounts (with a decimal separator) and dates stay readable.
_DIGITS = re.compile(r"(?<![\w.,])(?:\d[.\-+]?){6,}\d(?![\w]|[.,]\d)")
_DATE = re.compile(r"(19|20)\d\d-?[01]\d-?[0-3]\d")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[0-9A-Z]{4}){2,7}(?: ?[0-9A-Z]{1,4})?\b")
_BEARER = re.compile(r"(?i)\b(bearer|token|api[_-]?code|client[_-]?secret|x-api-key|password)([\"']?\s*[:=]\s*[\"']?|\s+)([^\s\"',}]+)")
_NAME_FIELDS = {"name", "payer_name", "customer_name", "debtor_name", "payer", "customer"}
_REDACTED = "[redacted]"


def _mask_digits(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = [c for c in text if c.isdigit()]
    if _DATE.fullmatch(text):
        return text  # a date (2026-11-20, 20261120), not an identity
    keep = 2
    out, seen = [], 0
    for c in text:
        if c.isdigit():
            seen += 1
            out.append(c if seen > len(digits) - keep else "*")
        else:
            out.append(c)
    return "".join(out)


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret redacted, tokens after auth words redacted, and identity/account numbers masked."""
    for s in secrets:
        if s:
            text = text.replace(s, _REDACTED)
    text = _BEARER.sub(lambda m: m.group(1) + m.group(2) + _REDACTED, text)
    text = _IBAN.sub(lambda m: m.group(0)[:4] + "*" * max(0, len(m.group(0)) - 6) + m.group(0)[-2:], text)
    return _DIGITS.sub(_mask_digits, text)


def mask_name(name: str) -> str:
    """A person's or company's name reduced to initials: 'Kari Nordmann' -> 'K*** N***'."""
    return " ".join(w[0] + "***" for w in name.split() if w)


def secret_values(config: Any) -> list[str]:
    """Every secret value of a Config (client ids and secrets, api codes, keys), longest first."""
    found: set[str] = set()
    for c in getattr(config, "creditors", ()):
        for value in vars(c.secrets).values():
            # Short values (the sandbox's "sandbox") would mask ordinary words; secrets are long.
            if isinstance(value, str) and len(value) >= 8:
                found.add(value)
    return sorted(found, key=len, reverse=True)


class MaskingFilter(logging.Filter):
    """Masks message and extra fields of every record in place; names by field, numbers and secrets by content."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = list(secrets)

    def _clean(self, key: str, value: Any) -> Any:
        if isinstance(value, str):
            return mask_name(value) if key in _NAME_FIELDS else mask_text(value, self.secrets)
        if isinstance(value, dict):
            return {k: self._clean(str(k), v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._clean(key, v) for v in value]
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_text(record.getMessage(), self.secrets)
        record.args = None
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = self._clean("", fields)
        if record.exc_info:
            # A traceback may quote values: keep its masked text only.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = mask_text(text, self.secrets)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC ISO), level, logger, event, message, then the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", None) or "message",
            "message": record.getMessage(),
        }
        run_id = getattr(record, "run_id", None)
        if run_id:
            out["run_id"] = run_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update({k: v for k, v in fields.items() if k not in out})
        if record.exc_text:
            out["traceback"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


class _RunIdFilter(logging.Filter):
    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = self.run_id
        return True


def log_event(event: str, text: str, level: int = logging.INFO, /, **fields: Any) -> None:
    """Log one event on the etl logger with structured fields (masked by the run's filter)."""
    LOGGER.log(level, text, extra={"event": event, "fields": fields})


@contextmanager
def run_log(path: Path, run_id: str, secrets: Iterable[str] = (), level: int | str = logging.INFO) -> Iterator[Path]:
    """Send the etl logger's records to the JSON-lines file `path` (appended) while the block runs."""
    if isinstance(level, str):
        level = logging.getLevelNamesMapping()[level.upper()]
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(level)
    handler.addFilter(_RunIdFilter(run_id))
    handler.addFilter(MaskingFilter(secrets))
    handler.setFormatter(JsonFormatter())
    previous = LOGGER.level
    LOGGER.addHandler(handler)
    if LOGGER.level == logging.NOTSET or LOGGER.level > level:
        LOGGER.setLevel(level)
    try:
        yield path
    finally:
        LOGGER.removeHandler(handler)
        LOGGER.setLevel(previous)
        handler.close()
