-- amili-etl state database, migration 0008: an integer number per payment within its run.
-- payments.payment_no: the payment's position in its run (0, 1, ... in the order the run read the files and lines);
-- matches.payment_no: the payment the decision is about. The reconciliation joins payments to matches on
-- (run_id, payment_no): an integer join is several times cheaper than one on the payment key text, and a run can
-- hold a million payments.

ALTER TABLE payments ADD COLUMN payment_no BIGINT;
ALTER TABLE matches ADD COLUMN payment_no BIGINT;

-- Runs stored before this migration: number their payments in the order they were stored, and give each match the
-- number of the payment it decided (the first sighting in its run: duplicates and held-back rows are never matched).
UPDATE payments SET payment_no = numbered.no
FROM (SELECT rowid AS rid, row_number() OVER (PARTITION BY run_id ORDER BY rowid) - 1 AS no FROM payments) numbered
WHERE payments.rowid = numbered.rid;

UPDATE matches SET payment_no = p.payment_no
FROM payments p
WHERE p.run_id = matches.run_id AND p.payment_key = matches.payment_key AND p.duplicate_of IS NULL AND NOT p.held_back;
