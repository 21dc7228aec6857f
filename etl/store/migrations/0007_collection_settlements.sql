-- amili-etl state database, migration 0007: Collection settlements in the month-end read-back.
-- amili_readback.key may be NULL: a Collection settlement without uniqueSourcePaymentId (the debtor paid Amili
-- directly) is kept, and counted, but has no key of ours.
-- booked: the date Amili gives the item (settlementDate, bank_transaction_date, booking_date, documentDate).
-- batch_id, invoice_number, case_number, reference: Amili's batchId, invoiceNumber, caseNumber and
-- customerReference of a settlement, kept for the lineage of month-end rows.

ALTER TABLE amili_readback ALTER COLUMN key DROP NOT NULL;
ALTER TABLE amili_readback ADD COLUMN booked DATE;
ALTER TABLE amili_readback ADD COLUMN batch_id VARCHAR;
ALTER TABLE amili_readback ADD COLUMN invoice_number VARCHAR;
ALTER TABLE amili_readback ADD COLUMN case_number VARCHAR;
ALTER TABLE amili_readback ADD COLUMN reference VARCHAR;
