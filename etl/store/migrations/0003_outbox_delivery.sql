-- migration 0003: exactly-once delivery (issue 5). Outbox items remember which of our batches carried them and
-- what Amili called that batch, so an item left in sent / acknowledged by a crash or a poll limit is looked up
-- (batch status, Idempotency-Key search) before anything is resent.

ALTER TABLE outbox ADD COLUMN batch_key VARCHAR;        -- our batch id; also the Collection Idempotency-Key
ALTER TABLE outbox ADD COLUMN sent_at TIMESTAMP;        -- last time a request carrying this item went out
ALTER TABLE outbox ADD COLUMN answered_at TIMESTAMP;    -- when the state last moved past sent

-- One row per batch we POSTed (ARM document batches, Collection payment batches): after a crash the items of
-- a batch are resolved from Amili's batch status instead of being sent again.
CREATE TABLE IF NOT EXISTS outbox_batches (
    batch_key VARCHAR PRIMARY KEY,      -- ours: sha256 of api, creditor and the sorted item keys (stable)
    api VARCHAR NOT NULL,
    creditor VARCHAR NOT NULL,
    remote_id VARCHAR,                  -- Amili's batchUuid / batchId once the POST was answered
    state VARCHAR NOT NULL,             -- sent | acknowledged | done
    items INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
