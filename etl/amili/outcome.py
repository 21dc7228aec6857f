"""What one delivery attempt ended in, in the outbox's vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Outcome", "error_message", "names_duplicate", "DUPLICATE"]


# An answer that refuses the item because Amili holds its key already: never "rejected", it means "delivered
# before" (an earlier attempt got through). The caller confirms it by a lookup where the API has one.
DUPLICATE = "duplicate"
_DUPLICATE_WORDS = ("duplicate", "not unique", "already exist", "already used", "already registered", "already stored",
                    "already received", "already in use")


@dataclass(frozen=True)
class Outcome:
    """The outbox state an attempt leads to, with Amili's own words and ids."""

    state: str  # confirmed | rejected | unknown | intent; DUPLICATE only between a client and its caller
    http_status: int | None
    message: str = ""
    amili_id: str | None = None
    settled_minor: int | None = None
    body: Any = None


def error_message(body: Any) -> str:
    """Amili's reason from any family's error shape, read defensively (shapes are not all documented)."""
    if not isinstance(body, dict):
        return str(body or "")[:500]
    parts: list[str] = []
    if isinstance(body.get("_issues"), dict):
        parts += [f"{k}: {v}" for k, v in body["_issues"].items()]
    err = body.get("_error")
    if isinstance(err, dict) and err.get("message") and not parts:
        parts.append(str(err["message"]))
    if isinstance(body.get("errors"), list):
        for e in body["errors"]:
            if isinstance(e, dict):
                field = e.get("field") or e.get("objectname")
                parts.append(f"{field}: {e.get('message')}" if field else str(e.get("message")))
    if body.get("message") and not parts:
        parts.append(str(body["message"]))
    return "; ".join(parts)[:1000] or str(body)[:500]


def names_duplicate(status: int, body: Any) -> bool:
    """True when a 4xx refusal says the key is held already (whatever the status code and error shape)."""
    if not 400 <= status < 500 or status in (401, 403, 404, 429):
        return False
    text = error_message(body).casefold()
    return any(word in text for word in _DUPLICATE_WORDS)
