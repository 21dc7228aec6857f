"""The outbox: every item's intent is committed before it is sent, and its state moves only forward.

States: intent -> sent -> acknowledged -> confirmed | rejected | unknown (docs/delivery.md). A confirmed item is
never sent again, in any run; an item in sent, acknowledged or unknown is looked up in Amili before any resend.
The same key with another payload is a conflict reported to the user, never sent.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from etl.store import Store

__all__ = [
    "APIS", "PLANNED_SCHEMA", "OUTCOME_SCHEMA", "UNFINISHED", "record_intents", "mark_sent", "record_outcome",
    "record_outcomes", "open_batch", "acknowledge_batch", "close_batch", "batch_remote_ids", "claimed_remote_ids", "unfinished_items",
    "add_run_items",
]

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


def record_intents(store: Store, run_id: str, planned: pl.DataFrame, now: dt.datetime,
                   dry_run: bool = False) -> pl.DataFrame:
    """Commit the intents of `planned` and return this run's items with their action and outbox state.

    Columns: PLANNED_SCHEMA + action (deliver | skipped_confirmed | skipped_rejected | conflict) + state.
    A dry run writes nothing to the outbox (nothing was sent, so nothing is pending and no later payload conflicts
    with it); its run_items say `dry_run` where a run would deliver, and state is null for a key never sent.
    """
    with store.transaction():
        store.con.register("_planned", planned)
        try:
            store.execute(
                """
                INSERT INTO run_items
                SELECT $run_id, p.api, p.key,
                       CASE WHEN o.key IS NULL THEN (CASE WHEN $dry_run THEN 'dry_run' ELSE 'deliver' END)
                            WHEN o.payload_hash <> p.payload_hash THEN 'conflict'
                            WHEN o.state = 'confirmed' THEN 'skipped_confirmed'
                            WHEN o.state = 'rejected' THEN 'skipped_rejected'
                            WHEN $dry_run THEN 'dry_run'
                            ELSE 'deliver' END,
                       CASE WHEN o.payload_hash <> p.payload_hash
                            THEN 'the same key was sent earlier (run ' || o.first_run_id || ') with other data'
                       END
                FROM _planned p LEFT JOIN outbox o ON o.api = p.api AND o.key = p.key
                """,
                {"run_id": run_id, "dry_run": dry_run},
            )
            if dry_run:
                return store.frame(
                    """
                    SELECT p.*, CASE WHEN r.action = 'dry_run' THEN 'deliver' ELSE r.action END AS action, o.state,
                           o.batch_key
                    FROM _planned p
                    JOIN run_items r ON r.run_id = $run_id AND r.api = p.api AND r.key = p.key
                    LEFT JOIN outbox o ON o.api = p.api AND o.key = p.key
                    ORDER BY p.api, p.source_file, p.source_line, p.key
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
                SELECT p.*, r.action, o.state, o.batch_key
                FROM _planned p
                JOIN run_items r ON r.run_id = $run_id AND r.api = p.api AND r.key = p.key
                JOIN outbox o ON o.api = p.api AND o.key = p.key
                ORDER BY p.api, p.source_file, p.source_line, p.key
                """,
                {"run_id": run_id},
            )
        finally:
            store.con.unregister("_planned")


def mark_sent(store: Store, api: str, keys: list[str], now: dt.datetime, batch_key: str | None = None) -> None:
    """Commit 'sent' for `keys` before their requests go out: after a crash they are looked up, not resent blind."""
    if not keys:
        return
    store.execute(
        "UPDATE outbox SET state = 'sent', attempts = attempts + 1, updated_at = $now, sent_at = $now, "
        "batch_key = coalesce($batch, batch_key) "
        "WHERE api = $api AND key IN (SELECT unnest($keys)) AND state NOT IN ('confirmed', 'rejected')",
        {"api": api, "keys": keys, "now": now, "batch": batch_key},
    )


OUTCOME_SCHEMA: dict[str, pl.DataType] = {
    "key": pl.String(),
    "state": pl.String(),
    "http_status": pl.Int64(),
    "message": pl.String(),
    "amili_id": pl.String(),
    "settled_minor": pl.Int64(),
    "body": pl.String(),
}


def record_outcomes(store: Store, run_id: str, api: str, outcomes: pl.DataFrame, now: dt.datetime) -> None:
    """Store many answers at once (OUTCOME_SCHEMA rows): outbox states and raw responses, in one transaction.

    A confirmed item never moves again; a rejected one only to confirmed (a later lookup found it after all).
    """
    if outcomes.height == 0:
        return
    with store.transaction():
        store.con.register("_outcomes", outcomes)
        try:
            store.execute(
                """
                UPDATE outbox SET state = n.state, http_status = coalesce(n.http_status, outbox.http_status),
                       message = n.message, amili_id = coalesce(n.amili_id, outbox.amili_id),
                       settled_minor = coalesce(n.settled_minor, outbox.settled_minor), updated_at = $now,
                       answered_at = CASE WHEN n.state IN ('intent', 'sent') THEN outbox.answered_at ELSE $now END
                FROM _outcomes n
                WHERE outbox.api = $api AND outbox.key = n.key AND outbox.state <> 'confirmed'
                  AND (outbox.state <> 'rejected' OR n.state = 'confirmed')
                """,
                {"api": api, "now": now},
            )
            store.execute(
                "INSERT INTO responses SELECT $run_id, $api, key, $now, http_status, body FROM _outcomes "
                "WHERE body IS NOT NULL OR http_status IS NOT NULL",
                {"run_id": run_id, "api": api, "now": now},
            )
        finally:
            store.con.unregister("_outcomes")


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
    """Store Amili's answer for one item (see record_outcomes)."""
    row = {"key": key, "state": state, "http_status": http_status, "message": message, "amili_id": amili_id,
           "settled_minor": settled_minor, "body": body_json}
    record_outcomes(store, run_id, api, pl.DataFrame([row], schema=OUTCOME_SCHEMA), now)


def open_batch(store: Store, batch_key: str, api: str, creditor: str, keys: list[str], now: dt.datetime) -> None:
    """Commit a batch and mark its items sent, before the batch POST goes out."""
    with store.transaction():
        store.execute(
            "INSERT INTO outbox_batches VALUES ($b, $api, $c, NULL, 'sent', $n, $now, $now) ON CONFLICT DO NOTHING",
            {"b": batch_key, "api": api, "c": creditor, "n": len(keys), "now": now},
        )
        mark_sent(store, api, keys, now, batch_key)


def acknowledge_batch(store: Store, batch_key: str, api: str, remote_id: str, now: dt.datetime) -> None:
    """Amili took the batch (202 / batch id): its items are acknowledged, their fate comes from the batch status."""
    with store.transaction():
        store.execute(
            "UPDATE outbox_batches SET remote_id = $r, state = 'acknowledged', updated_at = $now WHERE batch_key = $b",
            {"r": remote_id, "now": now, "b": batch_key},
        )
        store.execute(
            "UPDATE outbox SET state = 'acknowledged', answered_at = $now, updated_at = $now "
            "WHERE api = $api AND batch_key = $b AND state IN ('intent', 'sent', 'unknown')",
            {"api": api, "b": batch_key, "now": now},
        )


def close_batch(store: Store, batch_key: str, now: dt.datetime) -> None:
    """Every item of the batch has its final answer."""
    store.execute("UPDATE outbox_batches SET state = 'done', updated_at = $now WHERE batch_key = $b",
                  {"b": batch_key, "now": now})


def batch_remote_ids(store: Store, batch_keys: list[str]) -> dict[str, str | None]:
    """Amili's id of each of our batches (None while the POST was never answered)."""
    if not batch_keys:
        return {}
    rows = store.execute("SELECT batch_key, remote_id FROM outbox_batches WHERE batch_key IN (SELECT unnest($k))",
                         {"k": batch_keys}).fetchall()
    return dict(rows)


def claimed_remote_ids(store: Store, api: str) -> set[str]:
    """Every batch id of Amili's that one of our batches of `api` is known to be (so no other chunk claims it)."""
    rows = store.execute("SELECT remote_id FROM outbox_batches WHERE api = $api AND remote_id IS NOT NULL",
                         {"api": api}).fetchall()
    return {r[0] for r in rows}


UNFINISHED = ("intent", "sent", "acknowledged", "unknown")


def unfinished_items(store: Store, creditors: list[str] | None = None, apis: list[str] | None = None) -> pl.DataFrame:
    """Outbox items without a final answer (PLANNED_SCHEMA + state, batch_key), oldest first."""
    return store.frame(
        f"""
        SELECT api, key, creditor, CAST(payload AS VARCHAR) AS payload, payload_hash, amount_minor, currency,
               source_file, source_line, reference, invoice_number, state, batch_key
        FROM outbox
        WHERE state IN {UNFINISHED}
          AND ($creditors IS NULL OR list_contains($creditors, creditor))
          AND ($apis IS NULL OR list_contains($apis, api))
        ORDER BY api, created_at, key
        """,
        {"creditors": creditors, "apis": apis},
    )


def add_run_items(store: Store, run_id: str, items: pl.DataFrame) -> None:
    """Record that `run_id` (a rerun) took over delivery of `items` (api, key)."""
    if items.height:
        store.insert_frame("run_items", items.select("api", "key").with_columns(
            pl.lit(run_id).alias("run_id"), pl.lit("deliver").alias("action"), pl.lit(None, pl.String).alias("conflict_detail")))
