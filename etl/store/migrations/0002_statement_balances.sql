-- amili-etl state database, migration 0002: extra references of payments, and statement balances.
-- payments.extra_references: further references of one payment, ';'-joined in file order (BgMax TK22/23, camt
-- CdtrRefInf / RfrdDocInf beyond the first): matching may use them.
-- statement_balances: one row per statement a bank file declares (camt.053 OPBD/CLBD, MT940 :60:/:62:), for
-- month-end reconciliation of the bank account; entries_minor is the net sum of the booked entries read.

ALTER TABLE payments ADD COLUMN extra_references VARCHAR;

CREATE TABLE IF NOT EXISTS statement_balances (
    run_id VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_sha256 VARCHAR NOT NULL,
    source_line BIGINT,
    statement_id VARCHAR,
    account VARCHAR,
    currency VARCHAR,
    opening_minor BIGINT,
    closing_minor BIGINT,
    opening_date DATE,
    closing_date DATE,
    entries_minor BIGINT NOT NULL,
    entries BIGINT NOT NULL
);
