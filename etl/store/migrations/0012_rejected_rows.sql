-- amili-etl state database, migration 0012: what could be read of each rejected input row (its identity).
-- One row per rejected source line (the rejects table has one row per reason): the invalid_row discrepancy shows
-- the row's reference, invoice number and amount, and a run's tie-out counts a rejected bank payment's amount.
-- Every value is as read, null where the cell was empty or could not be read.

CREATE TABLE IF NOT EXISTS rejected_rows (
    run_id VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    kind VARCHAR NOT NULL,              -- payments | invoices | unknown (the file's kind)
    booked BOOLEAN NOT NULL,            -- false: a bank entry not booked yet (camt pending): no money received
    reference VARCHAR,                  -- KID / OCR reference (payments), the invoice's KID (invoices)
    invoice_number VARCHAR,             -- invoices only
    amount_minor BIGINT,                -- signed, as read (a payment: + incoming, - outgoing)
    currency VARCHAR
);
