"""Readings: the fair ways to read Amili's pages where they are silent, and the few decisions each one changes.

The client must deliver exactly once under every reading, so the sandbox can play each of them
(`SandboxConfig.reading`, `amili-etl sandbox serve --reading NAME`). The handlers ask the questions
below and branch locally; docs/sandbox.md ("Readings") has the table of what changes where.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "READINGS",
    "DEFAULT_READING",
    "check_reading",
    "refuses_repeats",
    "stores_repeats",
    "keeps_idempotency_keys",
    "as_documented",
    "conflict_status",
]

DEFAULT_READING = "lenient"

# name -> one line for --help and errors.
READINGS: dict[str, str] = {
    "lenient": "today's guesses: a repeat is recognised and answered (ARM EXISTS/replay, Collection failed item "
    "or Idempotency-Key replay, ADA 422 not unique), never stored twice",
    "strict-unique": "every repeat is refused with 409 (ARM paymentId and documentNo, Collection uniqueSourcePaymentId "
    "and Idempotency-Key, ADA creditor_payment_reference); nothing of the request is stored",
    "no-dedup": "a repeat is stored again where the pages promise no uniqueness (ARM documentNo, Collection "
    "uniqueSourcePaymentId, the Idempotency-Key header is ignored, ADA creditor_payment_reference); "
    "ARM paymentId stays unique as documented",
    "as-documented": "every answer exactly as the pages print it (Collection 202 body a JSON string, bare batch items, "
    "integer payment type, reservation 201, rejected autopostings 200, no 409s); repeats as lenient",
}

# The APIs whose pages promise no uniqueness of the client's key (ARM paymentId "must be unique": not here).
_NO_UNIQUENESS_PROMISED = ("arm.documents", "collection.payments", "ada.creditor-payments")


def check_reading(name: Any) -> str:
    """`name` if it is a reading; ValueError naming the known ones otherwise."""
    if name not in READINGS:
        raise ValueError(f"unknown reading {name!r}; known: {', '.join(READINGS)}")
    return str(name)


def refuses_repeats(config: Any) -> bool:
    """strict-unique: a repeated key is refused with 409 before anything of the request is stored."""
    return bool(config.reading == "strict-unique")


def stores_repeats(config: Any, api: str) -> bool:
    """no-dedup: a repeated key of `api` (a ledger api name) is stored again as a new item."""
    return config.reading == "no-dedup" and api in _NO_UNIQUENESS_PROMISED


def keeps_idempotency_keys(config: Any) -> bool:
    """False under no-dedup: the Collection Idempotency-Key header (not on the page) is ignored entirely."""
    return bool(config.reading != "no-dedup")


def as_documented(config: Any) -> bool:
    """as-documented: statuses and bodies exactly as the five pages print them."""
    return bool(config.reading == "as-documented")


def conflict_status(config: Any) -> int:
    """The status of "this key was used with other data": 409, or 422 where the pages list no 409 (as-documented)."""
    return 422 if as_documented(config) else 409
