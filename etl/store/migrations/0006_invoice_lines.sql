-- amili-etl state database, migration 0006: invoice lines and the customer's organisation number.
-- invoices.customer_org_number: the customer's organisation (or Swedish personal) number when the export
-- has one (validated with python-stdnum).
-- invoice_lines: the lines of a line-level invoice export (e.g. Tripletex), one row per line, for the ARM
-- documents' documentLines; invoice_line is the source line of the invoice's first line (= invoices.source_line).
-- Money in minor units, quantity in hundredths.

ALTER TABLE invoices ADD COLUMN customer_org_number VARCHAR;

CREATE TABLE IF NOT EXISTS invoice_lines (
    run_id VARCHAR NOT NULL,
    creditor VARCHAR,
    source_file VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    invoice_line BIGINT NOT NULL,
    invoice_number VARCHAR NOT NULL,
    line_no BIGINT NOT NULL,
    article_no VARCHAR,
    line_text VARCHAR,
    quantity_hundredths BIGINT,
    unit_price_minor BIGINT,
    vat_code VARCHAR,
    amount_excl_vat_minor BIGINT,
    vat_minor BIGINT,
    amount_minor BIGINT
);
