-- payout mismatch (category settled_amount_mismatch): an ADA creditor payment we delivered whose payout
-- specification rows, as read back, add up to another amount than ADA settled (or, without a settled amount, than
-- we sent). Items without any payout row yet are not judged (payouts may come later).
-- Inputs: outbox, amili_readback. Parameters: $period (YYYY-MM).
-- Columns: category, break_key, first_seen, and the discrepancy columns.
WITH paid_out AS (
    SELECT creditor, key AS amili_id, CAST(sum(amount_minor) AS BIGINT) AS paid_out_minor, count(*) AS rows
    FROM amili_readback
    WHERE period = $period AND api = 'ada.payout-specifications'
    GROUP BY ALL
)
SELECT 'settled_amount_mismatch' AS category, 'payout:' || o.key AS break_key, CAST(o.updated_at AS DATE) AS first_seen,
       'warning' AS severity, o.source_file, o.source_line, o.reference, o.invoice_number,
       p.paid_out_minor AS amount_minor, o.currency, coalesce(o.settled_minor, o.amount_minor) AS expected_minor, o.api,
       CAST(o.http_status AS VARCHAR) AS api_status,
       'paid out ' || money_text(p.paid_out_minor) || ' in ' || CAST(p.rows AS VARCHAR) || ' payout row(s), settled '
           || money_text(coalesce(o.settled_minor, o.amount_minor)) AS detail, o.key AS stable_key
FROM outbox o JOIN paid_out p ON p.creditor = o.creditor AND p.amili_id = o.amili_id
WHERE o.api = 'ada.creditor-payments' AND o.state = 'confirmed'
  AND p.paid_out_minor <> coalesce(o.settled_minor, o.amount_minor)
ORDER BY o.source_file, o.source_line
