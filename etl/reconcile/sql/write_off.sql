-- automatic write-off: the run's over- and underpayments whose |difference| is below the creditor's write_off_below
-- (per currency, else the creditor's limit for every currency '*'). Only a difference on an invoice that had
-- something open (an overpayment of an invoice with nothing open is a payment with no place, not a small difference).
-- A break whose automatic write-off a person reopened is never written off again: it stays open.
-- Inputs: discrepancies, payments, resolutions (migration 0015). Parameters: $run_id, $creditors, $currencies,
-- $limits (parallel lists: the write-off limits in minor units), $by (who writes off automatically).
-- Columns: resolution_id (as a reading of the same instruction twice would give: one row per break, ever), and
-- the resolutions columns.
WITH limits AS (
    SELECT unnest($creditors) AS creditor, unnest($currencies) AS currency, unnest($limits) AS limit_minor
),
d AS (
    SELECT d.category, d.invoice_number, d.currency, d.amount_minor - d.expected_minor AS difference_minor, p.creditor,
           coalesce(d.stable_key, d.source_file || ':' || coalesce(CAST(d.source_line AS VARCHAR), '')) AS break_key
    FROM discrepancies d
    JOIN payments p ON p.run_id = d.run_id AND p.payment_key = d.stable_key AND p.duplicate_of IS NULL
    WHERE d.run_id = $run_id AND d.category IN ('underpayment', 'overpayment') AND d.expected_minor > 0
),
limited AS (
    SELECT d.*, coalesce(own.limit_minor, every.limit_minor) AS limit_minor
    FROM d
    LEFT JOIN limits own ON own.creditor = d.creditor AND own.currency = d.currency
    LEFT JOIN limits every ON every.creditor = d.creditor AND every.currency = '*'
)
SELECT sha256(concat_ws(chr(31), break_key, 'write_off', coalesce(invoice_number, ''), 'automatic')) AS resolution_id,
       break_key, category, 'write_off' AS action, invoice_number AS action_invoice,
       'automatic: |difference| below write_off_below ' || format('{:d}.{:02d}', limit_minor // 100, limit_minor % 100)
           || ' ' || currency AS action_note,
       creditor, difference_minor AS amount_minor, currency, $by AS resolved_by
FROM limited l
WHERE abs(difference_minor) < limit_minor
  AND NOT EXISTS (SELECT 1 FROM resolutions r
                  WHERE r.break_key = l.break_key AND r.resolved_by = $by AND r.state = 'reopened')
