-- amili-etl state database, migration 0015: what a person (or the automatic write-off) decided about a break.
-- One row per instruction carried out; a reopen marks the row it undoes as 'reopened' and is itself recorded.
CREATE TABLE IF NOT EXISTS resolutions (
    resolution_id VARCHAR PRIMARY KEY,   -- sha256 of (break_key, action, action_invoice, action_note, source): reading the same file twice is a no-op
    break_key VARCHAR NOT NULL,          -- the break's key as written in the reports' break_key column
    category VARCHAR NOT NULL,           -- the break's category when it was resolved
    action VARCHAR NOT NULL,             -- match | write_off | refund | explain | reopen
    action_invoice VARCHAR,              -- match: the invoice the payment goes to
    action_note VARCHAR,
    creditor VARCHAR,
    amount_minor BIGINT,                 -- what the resolution settles (write_off: the difference; refund: the over part)
    currency VARCHAR,
    resolved_by VARCHAR NOT NULL,        -- OS user, --by, or 'amili-etl (automatic write-off)'
    resolved_at TIMESTAMP NOT NULL,
    source_file VARCHAR,                 -- the filled CSV/xlsx the instruction came from (NULL: automatic)
    source_row BIGINT,                   -- its row there
    state VARCHAR NOT NULL,              -- active | reopened | delivered
    api VARCHAR,                         -- match / write_off: the outbox item it delivered (api, key)
    key VARCHAR
);
