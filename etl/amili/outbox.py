"""The outbox: every item's intent is committed before it is sent, and its state moves only forward.

States: intent -> sent -> confirmed | rejected | unknown. A confirmed item is never sent again, in any run.
The same key with another payload is a conflict reported to the user, never sent.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from etl.store import Store

__all__ = ["APIS", "PLANNED_SCHEMA", "record_intents", "mark_sent", "record_outcome"]

APIS = (
    "arm.documents",
    "arm.paymentreservations",
    "arm.autopostings",
    "collection.payments",
    "ada.creditor-payments",
)

PLANNED_SCHEMA: dict[str, pl.DataType] = {
    "api": pl.String(),
    "key": pl.String(),
    "creditor": pl.String(),
    "payload": pl.String(),  # canonical JSON
    "payload_hash": pl.String(),
    "amount_minor": pl.Int64(),
    "currency": pl.String(),
    "source_file": pl.String(),
    "source_line": pl.Int64(),
    "reference": pl.String(),
    "invoice_number": pl.String(),
}


def record_intents(store: Store, run_id: str, planned: pl.DataFrame, now: dt.datetime) -> pl.DataFrame:
    """Commit the intents of `planned` and return this run's items with their action and outbox state.

    Columns: PLANNED_SCHEMA + action (deliver | skipped_confirmed | skipped_rejected | conflict) + state.
    """
    with store.transaction():
        store.con.register("_planned", planned)
        try:
            store.execute(
                """
                INSERT INTO run_items
                SELECT $run_id, p.api, p.key,
                       CASE WHEN o.key IS NULL THEN 'deliver'
                            WHEN o.payload_hash <> p.payload_hash THEN 'conflict'
                            WHEN o.state = 'confirmed' THEN 'skipped_confirmed'
                            WHEN o.state = 'rejected' THEN 'skipped_rejected'
                            ELSE 'deliver' END,
                       CASE WHEN o.payload_hash <> p.payload_hash
                            THEN 'the same key was sent earlier (run ' || o.first_run_id || ') with other data'
                       END
                FROM _planned p LEFT JOIN outbox o ON o.api = p.api AND o.key = p.key
                """,
                {"run_id": run_id},
            )
            store.execute(
                """
                INSERT INTO outbox (api, key, creditor, payload_hash, payload, state, amount_minor, currency,
                                    source_file, source_line, reference, invoice_number, first_run_id, last_run_id,
                                    attempts, created_at, updated_at)
                SELECT p.api, p.key, p.creditor, p.payload_hash, p.payload, 'intent', p.amount_minor, p.currency,
                       p.source_file, p.source_line, p.reference, p.invoice_number, $run_id, $run_id, 0, $now, $now
                FROM _planned p ANTI JOIN outbox o ON o.api = p.api AND o.key = p.key
                """,
                {"run_id": run_id, "now": now},
            )
            store.execute(
                """
                UPDATE outbox SET last_run_id = $run_id
                FROM run_items r
                WHERE r.run_id = $run_id AND r.api = outbox.api AND r.key = outbox.key AND r.action <> 'conflict'
                """,
                {"run_id": run_id},
            )
            return store.frame(
                """
                SELECT p.*, r.action, o.state
                FROM _planned p
                JOIN run_items r ON r.run_id = $run_id AND r.api = p.api AND r.key = p.key
                JOIN outbox o ON o.api = p.api AND o.key = p.key
                ORDER BY p.api, p.source_file, p.source_line, p.key
                """,
                {"run_id": run_id},
            )
        finally:
            store.con.unregister("_planned")


def mark_sent(store: Store, api: str, keys: list[str], now: dt.datetime) -> None:
    """Commit 'sent' for `keys` before their requests go out: after a crash they are looked up, not resent blind."""
    if not keys:
        return
    store.execute(
        "UPDATE outbox SET state = 'sent', attempts = attempts + 1, updated_at = $now "
        "WHERE api = $api AND key IN (SELECT unnest($keys)) AND state <> 'confirmed'",
        {"api": api, "keys": keys, "now": now},
    )


def record_outcome(
    store: Store,
    run_id: str,
    api: str,
    key: str,
    state: str,
    http_status: int | None,
    message: str,
    amili_id: str | None,
    settled_minor: int | None,
    body_json: str | None,
    now: dt.datetime,
) -> None:
    """Store Amili's answer for one item: the outbox state and the raw response, in one transaction."""
    with store.transaction():
        store.execute(
            "UPDATE outbox SET state = $state, http_status = $status, message = $message, "
            "amili_id = coalesce($amili_id, amili_id), settled_minor = coalesce($settled, settled_minor), "
            "updated_at = $now WHERE api = $api AND key = $key AND state <> 'confirmed'",
            {
                "state": state,
                "status": http_status,
                "message": message,
                "amili_id": amili_id,
                "settled": settled_minor,
                "now": now,
                "api": api,
                "key": key,
            },
        )
        store.execute(
            "INSERT INTO responses VALUES ($run_id, $api, $key, $now, $status, $body)",
            {"run_id": run_id, "api": api, "key": key, "now": now, "status": http_status, "body": body_json},
        )
