-- amili-etl state database, migration 0001: the initial schema (never edit a released migration; add a new file).
-- Every table carries run_id where rows belong to a run; outbox and payment_origins are global (exactly-once
-- and duplicate detection must see every earlier run).

CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);

CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    mode VARCHAR NOT NULL,              -- run | demo | dry-run | rerun
    status VARCHAR NOT NULL,            -- running | clean | discrepancies | incomplete | failed
    exit_code INTEGER,
    config_path VARCHAR,
    out_dir VARCHAR,
    summary JSON
);

CREATE TABLE IF NOT EXISTS files (
    run_id VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    format VARCHAR,
    layout VARCHAR,
    kind VARCHAR NOT NULL,              -- payments | invoices | unknown
    creditor VARCHAR,
    status VARCHAR NOT NULL,            -- ok | rejected_rows | held_back | unreadable | unrecognised
    message VARCHAR,
    rows BIGINT NOT NULL,
    valid BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    total_minor BIGINT,
    currency VARCHAR,
    declared_total_minor BIGINT,
    computed_total_minor BIGINT
);

CREATE TABLE IF NOT EXISTS payments (
    run_id VARCHAR NOT NULL,
    payment_key VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_sha256 VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    source_sheet VARCHAR,
    format VARCHAR NOT NULL,
    creditor VARCHAR,                   -- null: the receiving account belongs to no configured creditor
    account VARCHAR,
    booking_date DATE,
    amount_minor BIGINT NOT NULL,
    currency VARCHAR NOT NULL,
    reference VARCHAR,
    reference_valid BOOLEAN,            -- null when there is no reference
    message VARCHAR,
    payer_name VARCHAR,
    payer_account VARCHAR,
    bank_ref VARCHAR,
    held_back BOOLEAN NOT NULL,         -- from a file whose control totals do not tie
    duplicate_of VARCHAR                -- 'file:line' of the first sighting when this row is a duplicate
);

CREATE TABLE IF NOT EXISTS invoices (
    run_id VARCHAR NOT NULL,
    creditor VARCHAR NOT NULL,
    invoice_number VARCHAR NOT NULL,
    customer_number VARCHAR,
    customer_name VARCHAR,
    kid VARCHAR,
    invoice_date DATE,
    due_date DATE,
    currency VARCHAR NOT NULL,
    amount_excl_vat_minor BIGINT,
    vat_minor BIGINT,
    amount_minor BIGINT NOT NULL,
    source_file VARCHAR NOT NULL,
    source_sha256 VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    source_sheet VARCHAR
);

CREATE TABLE IF NOT EXISTS rejects (
    run_id VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    error_column VARCHAR,
    error_check VARCHAR NOT NULL,
    error_message VARCHAR NOT NULL
);

-- First sighting of every payment key: a later sighting from another file or line is a duplicate.
CREATE TABLE IF NOT EXISTS payment_origins (
    payment_key VARCHAR PRIMARY KEY,
    source_file VARCHAR NOT NULL,
    source_sha256 VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    first_run_id VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS matches (
    run_id VARCHAR NOT NULL,
    payment_key VARCHAR NOT NULL,
    creditor VARCHAR NOT NULL,
    rule VARCHAR NOT NULL,              -- reference | invoice_number | ambiguous | none
    invoice_number VARCHAR,
    candidates VARCHAR,                 -- for ambiguous matches: the invoice numbers, comma separated
    invoice_amount_minor BIGINT,
    outstanding_minor BIGINT,           -- open on the invoice before this payment
    invoice_currency VARCHAR,
    evidence VARCHAR
);

CREATE TABLE IF NOT EXISTS outbox (
    api VARCHAR NOT NULL,               -- arm.documents | arm.paymentreservations | arm.autopostings | collection.payments | ada.creditor-payments
    key VARCHAR NOT NULL,
    creditor VARCHAR NOT NULL,
    payload_hash VARCHAR NOT NULL,
    payload JSON NOT NULL,
    state VARCHAR NOT NULL,             -- intent | sent | acknowledged | confirmed | rejected | unknown
    amount_minor BIGINT,
    currency VARCHAR,
    source_file VARCHAR,
    source_line BIGINT,
    reference VARCHAR,
    invoice_number VARCHAR,
    first_run_id VARCHAR NOT NULL,
    last_run_id VARCHAR NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    http_status INTEGER,
    amili_id VARCHAR,
    settled_minor BIGINT,
    message VARCHAR,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (api, key)
);

-- Which outbox items a run planned, and what that run did with them.
CREATE TABLE IF NOT EXISTS run_items (
    run_id VARCHAR NOT NULL,
    api VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    action VARCHAR NOT NULL,            -- sent | skipped_confirmed | skipped_rejected | conflict | dry_run
    conflict_detail VARCHAR
);

-- Every answer Amili gave, for audit and reconciliation.
CREATE TABLE IF NOT EXISTS responses (
    run_id VARCHAR NOT NULL,
    api VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    received_at TIMESTAMP NOT NULL,
    http_status INTEGER,
    body JSON
);

CREATE TABLE IF NOT EXISTS discrepancies (
    run_id VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    source_file VARCHAR,
    source_line BIGINT,
    reference VARCHAR,
    invoice_number VARCHAR,
    amount_minor BIGINT,
    currency VARCHAR,
    expected_minor BIGINT,
    api VARCHAR,
    api_status VARCHAR,
    detail VARCHAR,
    stable_key VARCHAR
);

-- Minor units as a decimal string with a point ('-12.50'), for human-readable details in reports.
CREATE OR REPLACE MACRO money_text(m) AS
    CASE WHEN m < 0 THEN '-' ELSE '' END || CAST(abs(m) // 100 AS VARCHAR) || '.' || lpad(CAST(abs(m) % 100 AS VARCHAR), 2, '0');
