-- amili-etl state database, migration 0010: the discrepancies table stores its near-unique text columns uncompressed.
-- A run with a million payments can have nearly as many discrepancies (a night of instalments is mostly
-- underpayments), and DuckDB's string compression (analysing each row group for FSST) was most of the time of storing
-- them: stable_key, reference and invoice_number are close to unique per row, so they gain little from it anyway
-- (about 33 bytes a row more on disk).
-- The table is rebuilt with the same columns in the same order (a column's compression is fixed when it is created).

CREATE TABLE discrepancies_0010 (
    run_id VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    source_file VARCHAR,
    source_line BIGINT,
    reference VARCHAR USING COMPRESSION uncompressed,
    invoice_number VARCHAR USING COMPRESSION uncompressed,
    amount_minor BIGINT,
    currency VARCHAR,
    expected_minor BIGINT,
    api VARCHAR,
    api_status VARCHAR,
    detail VARCHAR,
    stable_key VARCHAR USING COMPRESSION uncompressed
);
INSERT INTO discrepancies_0010 SELECT * FROM discrepancies;
DROP TABLE discrepancies;
ALTER TABLE discrepancies_0010 RENAME TO discrepancies;
