-- payout mismatch (category settled_amount_mismatch): an ADA creditor payment we delivered whose payout
-- specification rows, as read back, add up to another amount than ADA settled (or, without a settled amount, than
-- we sent). Judged for every item with a payout row read this period, and for every item with an open payout
-- mismatch last period (a break never vanishes: it stays open until a read-back shows the item paid out right, then
-- it is resolved). What was paid out is the sum of every payout row read back so far (this period's and earlier
-- periods'; a row read by several periods is taken from the latest of them): an item paid out over two months is
-- judged on both months' rows.
-- Items without any payout row yet are not judged (payouts may come later).
-- Inputs: outbox, amili_readback, period_breaks. Parameters: $period, $previous (YYYY-MM).
-- Columns: category, break_key, first_seen, and the discrepancy columns.
WITH judged AS (
    SELECT DISTINCT creditor, key AS amili_id FROM amili_readback
    WHERE period = $period AND api = 'ada.payout-specifications'
    UNION
    SELECT o.creditor, o.amili_id
    FROM period_breaks b JOIN outbox o ON o.api = 'ada.creditor-payments' AND b.break_key = 'payout:' || o.key
    WHERE b.period = $previous AND b.status IN ('new', 'persisting') AND b.category = 'settled_amount_mismatch'
),
payout_rows AS (  -- each payout row once, however many periods read it
    SELECT r.creditor, r.key AS amili_id, r.amount_minor
    FROM amili_readback r SEMI JOIN judged j ON j.creditor = r.creditor AND j.amili_id = r.key
    WHERE r.period <= $period AND r.api = 'ada.payout-specifications'
    QUALIFY r.amili_id IS NULL OR r.period = max(r.period) OVER (PARTITION BY r.creditor, r.key, r.amili_id)
),
paid_out AS (
    SELECT creditor, amili_id, CAST(sum(amount_minor) AS BIGINT) AS paid_out_minor, count(*) AS rows
    FROM payout_rows GROUP BY ALL
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
