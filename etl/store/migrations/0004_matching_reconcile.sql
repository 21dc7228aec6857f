-- Migration 0004 (matching, reconciliation, month-end): match evidence and routing on matches, per-invoice
-- allocations (partials accumulate across runs), Amili read-back snapshots and month-end break tracking.

ALTER TABLE matches ADD COLUMN IF NOT EXISTS invoice_numbers VARCHAR;  -- every invoice a payment covers, ', ' joined
ALTER TABLE matches ADD COLUMN IF NOT EXISTS fields VARCHAR;           -- which fields agreed, e.g. 'reference=kid'
ALTER TABLE matches ADD COLUMN IF NOT EXISTS score DOUBLE;             -- 1.0 exact; name similarity for amount_name
ALTER TABLE matches ADD COLUMN IF NOT EXISTS target VARCHAR;           -- the one API the payment goes to, or NULL
ALTER TABLE matches ADD COLUMN IF NOT EXISTS route_reason VARCHAR;     -- why that target (or why none)

-- What each matched payment pays on each invoice (one row for a single invoice, several for multi_invoice).
CREATE TABLE IF NOT EXISTS match_allocations (
    run_id VARCHAR NOT NULL,
    payment_key VARCHAR NOT NULL,
    creditor VARCHAR NOT NULL,
    invoice_number VARCHAR NOT NULL,
    amount_minor BIGINT NOT NULL
);

-- What Amili holds, as read back at month-end (GET lists): one row per item per read-back.
CREATE TABLE IF NOT EXISTS amili_readback (
    period VARCHAR NOT NULL,            -- YYYY-MM
    api VARCHAR NOT NULL,
    creditor VARCHAR NOT NULL,
    key VARCHAR NOT NULL,               -- our stable key as Amili stores it (paymentId, creditor_payment_reference, documentNo)
    amili_id VARCHAR,
    amount_minor BIGINT,
    currency VARCHAR,
    status VARCHAR,
    read_at TIMESTAMP NOT NULL
);

-- Month-end breaks, one row per (period, category, break key): aged and marked new / persisting / resolved.
CREATE TABLE IF NOT EXISTS period_breaks (
    period VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    break_key VARCHAR NOT NULL,
    first_period VARCHAR NOT NULL,
    first_seen DATE,
    status VARCHAR NOT NULL,            -- new | persisting | resolved
    age_days INTEGER,
    source_file VARCHAR,
    source_line BIGINT,
    reference VARCHAR,
    invoice_number VARCHAR,
    amount_minor BIGINT,
    currency VARCHAR,
    expected_minor BIGINT,
    api VARCHAR,
    api_status VARCHAR,
    detail VARCHAR
);
