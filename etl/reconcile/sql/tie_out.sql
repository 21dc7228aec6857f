-- tie-out: per currency, every incoming bank payment row the run read (valid or rejected) in one place:
-- bank total = delivered + unmatched + held back + rejected, and unexplained = bank total - the four must be 0.
-- Each bucket is summed from its own evidence (deliveries from run_items/outbox, unmatched from matches, held back
-- from the payment's flags and routing, rejected from rejected_rows and Amili's answers), never as "the rest": a
-- payment in no bucket, or in two, shows as unexplained.
--   delivered: matched and routed, planned for Amili by this run (sent, confirmed, pending, or planned by a dry
--              run; an overpayment goes whole, its over part included);
--   unmatched: no creditor owns the account, no open invoice matched, or several did (ambiguous);
--   held back: from a file held back whole (control totals), a duplicate sighting, or matched but routed nowhere
--              (paid in another currency, an invoice with nothing open, a creditor that sends payments nowhere);
--   rejected:  a bank row that failed validation (its amount as read), or refused by Amili / planned with other data
--              under the same key (conflict).
-- A rejected row whose amount could not be read, and a camt entry the bank has not booked yet, are in no total.
-- An automatic write-off (write_off.sql) changes nothing here: its payment is delivered whole; the difference written
-- off is the invoice's rest (or the payer's extra), not bank money.
-- Inputs: payments, matches, payment_deliveries (run_items, outbox; migration 0013), rejected_rows. Parameter: $run_id.
-- Columns: currency, bank_total_minor, delivered_minor, unmatched_minor, held_back_minor, rejected_minor,
-- unexplained_minor (BIGINT).
WITH pay AS (
    SELECT payment_no, payment_key, currency, amount_minor, held_back, duplicate_of, creditor
    FROM payments WHERE run_id = $run_id AND amount_minor > 0
),
live AS (
    SELECT * FROM pay WHERE NOT held_back AND duplicate_of IS NULL
),
m AS (
    SELECT payment_no, rule, target,
           rule IN ('reference', 'invoice_number', 'multi_invoice', 'amount_name') AS matched
    FROM matches WHERE run_id = $run_id
),
bad AS (  -- incoming bank rows that failed validation, as read
    SELECT coalesce(currency, '?') AS currency, amount_minor FROM rejected_rows
    WHERE run_id = $run_id AND kind = 'payments' AND booked AND amount_minor > 0
),
placed AS (
    SELECT currency, 'bank' AS bucket, amount_minor FROM pay
    UNION ALL SELECT currency, 'bank', amount_minor FROM bad
    UNION ALL SELECT currency, 'rejected', amount_minor FROM bad
    UNION ALL SELECT currency, 'held_back', amount_minor FROM pay WHERE held_back OR duplicate_of IS NOT NULL
    UNION ALL
    SELECT l.currency, 'unmatched', l.amount_minor
    FROM live l LEFT JOIN m USING (payment_no)
    WHERE l.creditor IS NULL OR m.rule IN ('none', 'ambiguous')
    UNION ALL
    SELECT l.currency, 'held_back', l.amount_minor
    FROM live l JOIN m USING (payment_no)
    WHERE l.creditor IS NOT NULL AND m.matched AND m.target IS NULL
    UNION ALL
    SELECT l.currency, CASE WHEN i.answer IN ('conflict', 'rejected') THEN 'rejected' ELSE 'delivered' END,
           l.amount_minor
    FROM live l JOIN m USING (payment_no) JOIN payment_deliveries($run_id) i ON i.api = m.target AND i.key = l.payment_key
    WHERE l.creditor IS NOT NULL AND m.matched
)
SELECT currency,
       CAST(coalesce(sum(amount_minor) FILTER (WHERE bucket = 'bank'), 0) AS BIGINT) AS bank_total_minor,
       CAST(coalesce(sum(amount_minor) FILTER (WHERE bucket = 'delivered'), 0) AS BIGINT) AS delivered_minor,
       CAST(coalesce(sum(amount_minor) FILTER (WHERE bucket = 'unmatched'), 0) AS BIGINT) AS unmatched_minor,
       CAST(coalesce(sum(amount_minor) FILTER (WHERE bucket = 'held_back'), 0) AS BIGINT) AS held_back_minor,
       CAST(coalesce(sum(amount_minor) FILTER (WHERE bucket = 'rejected'), 0) AS BIGINT) AS rejected_minor,
       CAST(coalesce(sum(amount_minor) FILTER (WHERE bucket = 'bank'), 0)
            - coalesce(sum(amount_minor) FILTER (WHERE bucket <> 'bank'), 0) AS BIGINT) AS unexplained_minor
FROM placed
GROUP BY currency
ORDER BY currency
