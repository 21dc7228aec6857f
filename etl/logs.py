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

__all__ = ["JsonFormatter", "MaskingFilter", "mask_text", "mask_name", "log_event", "run_log", "secret_values",
           "remember_secrets", "LOGGER"]

LOGGER = logging.getLogger("etl")

# Digit runs that may be a national identity number or an account number: Norwegian fødselsnummer (11 digits),
# Swedish personnummer (YYMMDD-NNNN, YYYYMMDDNNNN, with - or +), Norwegian accounts (1234.56.78903), org numbers,
# Swedish bankgiro/plusgiro and clearing+account numbers, IBANs. Every run of 7 or more digits (groups joined by dot,
# dash or plus) is masked but its last two digits, also inside a word or a file name (`OCR_fnr15076537108.txt`,
# `Transaktioner_97045210018_x.csv`: only the digits are masked, the name stays readable); amounts (with a decimal
# separator), dates and hexadecimal keys (sha256, stable keys) stay readable.
_DIGITS = re.compile(r"(?<!\d)(?<!\d[.,])(?:\d[.\-+]?){6,}\d(?!\d|[.,]\d)")
# The same numbers written with spaces: accounts 1506 29 95960 (and 1506.29 95960), fødselsnummer 150765 37108,
# personnummer 850101 1234, org numbers 985 123 456.
_SPACED = re.compile(r"(?<![\d.,])(?:\d{4}[ .]\d{2}[ .]\d{5}|\d{6} \d{5}|\d{6} \d{4}|\d{3} \d{3} \d{3})(?!\d|[.,]\d)")
_AMOUNT = re.compile(r"\d+[.,]\d{2}")
_DATE = re.compile(r"(19|20)\d\d-?[01]\d-?[0-3]\d")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[0-9A-Z]{4}){2,7}(?: ?[0-9A-Z]{1,4})?\b")
# Nordic IBANs are digits after the country code: found in any case, with or without spaces (`no93 1506 2995 960`).
_IBAN_DIGITS = re.compile(r"(?i)(?<![a-z0-9])[a-z]{2}\d{2}(?: ?\d{4}){2,7}(?: ?\d{1,4})?(?!\d)")
_HEX_TOKEN = re.compile(r"[0-9a-fA-F-]{16,}")
_BEARER = re.compile(r"(?i)\b(bearer|token|api[_-]?code|client[_-]?secret|x-api-key|password)([\"']?\s*[:=]\s*[\"']?|\s+)([^\s\"',}]+)")
_NAME_FIELDS = {"name", "payer_name", "customer_name", "debtor_name", "payer", "customer"}
_REDACTED = "[redacted]"
# The embedded sandbox's published default login ("sandbox"): not a secret, and redacting the word would blind the
# sandbox's own log lines. Every other configured secret is redacted whatever its length.
_PUBLIC_VALUES = frozenset({"sandbox"})
# Secrets of the configurations loaded by this process: redacted from the one-line errors on the terminal too.
_KNOWN_SECRETS: set[str] = set()


def _star(text: str, keep_head: int, keep_tail: int) -> str:
    """`text` with its letters and digits starred but the first `keep_head` and last `keep_tail`; separators kept."""
    positions = [i for i, c in enumerate(text) if c.isalnum()]
    hide = set(positions[keep_head:len(positions) - keep_tail])
    return "".join("*" if i in hide else c for i, c in enumerate(text))


def _in_hex_token(match: re.Match[str]) -> bool:
    """The digits are part of a hexadecimal key (sha256, a stable key, a uuid), not an identity."""
    text, start, end = match.string, match.start(), match.end()
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "-"):
        start -= 1
    while end < len(text) and (text[end].isalnum() or text[end] == "-"):
        end += 1
    token = text[start:end]
    return bool(_HEX_TOKEN.fullmatch(token)) and any(c.isalpha() for c in token)


def _mask_digits(match: re.Match[str]) -> str:
    text = match.group(0)
    if _DATE.fullmatch(text) or _AMOUNT.fullmatch(text) or _in_hex_token(match):
        return text  # a date (2026-11-20, 20261120), an amount (1234567.89) or a key, not an identity
    return _star(text, 0, 2)


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret redacted, tokens after auth words redacted, and identity/account numbers masked.

    Secrets are replaced wherever they appear, whatever their length (a short secret also blanks the same letters
    inside other words: the log is less readable, never less safe).
    """
    for s in sorted({*secrets, *_KNOWN_SECRETS} - _PUBLIC_VALUES, key=len, reverse=True):
        if s:
            text = text.replace(s, _REDACTED)
    text = _BEARER.sub(lambda m: m.group(1) + m.group(2) + _REDACTED, text)
    text = _IBAN.sub(lambda m: _star(m.group(0), 4, 2), text)
    text = _IBAN_DIGITS.sub(lambda m: _star(m.group(0), 4, 2), text)
    text = _SPACED.sub(lambda m: _star(m.group(0), 0, 2), text)
    return _DIGITS.sub(_mask_digits, text)


def mask_name(name: str) -> str:
    """A person's or company's name reduced to initials: 'Kari Nordmann' -> 'K*** N***'."""
    return " ".join(w[0] + "***" for w in name.split() if w)


def secret_values(config: Any) -> list[str]:
    """Every secret value of a Config (client ids and secrets, api codes, keys), longest first, whatever its length
    (the sandbox's public default login excepted)."""
    found: set[str] = set()
    for c in getattr(config, "creditors", ()):
        for value in vars(c.secrets).values():
            if isinstance(value, str) and value and value not in _PUBLIC_VALUES:
                found.add(value)
    return sorted(found, key=len, reverse=True)


def remember_secrets(values: Iterable[str]) -> None:
    """Redact `values` from every masked text of this process (the terminal's error lines included)."""
    _KNOWN_SECRETS.update(v for v in values if v and v not in _PUBLIC_VALUES)


class _QuietFileHandler(logging.FileHandler):
    """A log file that never prints a traceback to the terminal when it cannot be written (a full disk): the run
    itself reports the disk in one line."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        self.failed = True


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
    handler = _QuietFileHandler(path, encoding="utf-8")
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
