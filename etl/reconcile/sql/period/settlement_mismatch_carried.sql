-- settlement mismatch, carried (category settled_amount_mismatch): a Collection payment of an earlier month whose
-- break is still open last period, either settled for another amount (break key 'settlement:' || key) or never
-- settled (missing_in_amili, 'collection.payments:' || key), re-judged against every settlement read back so far
-- under its uniqueSourcePaymentId (this period's and earlier periods', each settlement once by its id, from the
-- latest period that read it; a payment may settle in parts across months). Settled for another amount or currency: open (the detail says what is settled
-- now). Settled right: not returned, so last period's break is resolved. Not settled at all: settlement_missing_carried
-- keeps the missing_in_amili break. Only for creditors whose settlements were read this period ($scope):
-- readback_carried.sql keeps the others unchanged.
-- Inputs: period_breaks, outbox, amili_readback. Parameters: $previous, $period (YYYY-MM), $scope (VARCHAR[]).
-- Columns: category, break_key, first_seen, and the discrepancy columns.
WITH last_open AS (
    SELECT DISTINCT CASE WHEN b.category = 'settled_amount_mismatch' THEN substr(b.break_key, length('settlement:') + 1)
                         ELSE substr(b.break_key, length('collection.payments:') + 1) END AS key
    FROM period_breaks b
    WHERE b.period = $previous AND b.status IN ('new', 'persisting')
      AND ((b.category = 'settled_amount_mismatch' AND starts_with(b.break_key, 'settlement:'))
           OR (b.category = 'missing_in_amili' AND starts_with(b.break_key, 'collection.payments:')))
),
settled AS (  -- each settlement once, from the latest period that read it (the windows overlap by the lag)
    SELECT r.creditor, r.key, coalesce(r.amili_id, '?') AS settlement_id, r.amount_minor,
           coalesce(r.currency, '?') AS currency, r.booked, r.batch_id
    FROM amili_readback r SEMI JOIN last_open l ON l.key = r.key
    WHERE r.period <= $period AND r.api = 'collection.settlements'
    QUALIFY r.amili_id IS NULL OR r.period = max(r.period) OVER (PARTITION BY r.creditor, r.key, r.amili_id)
),
sums AS (
    SELECT creditor, key, CAST(sum(amount_minor) AS BIGINT) AS settled_minor, count(*) AS n,
           string_agg(DISTINCT currency, '/' ORDER BY currency) AS currencies,
           min(currency) AS min_currency, max(currency) AS max_currency,
           string_agg(settlement_id, ', ' ORDER BY booked, settlement_id) AS settlement_ids,
           string_agg(DISTINCT batch_id, ', ' ORDER BY batch_id) AS batch_ids
    FROM settled GROUP BY ALL
)
SELECT 'settled_amount_mismatch' AS category, 'settlement:' || o.key AS break_key,
       CAST(coalesce(o.answered_at, o.updated_at) AS DATE) AS first_seen, 'warning' AS severity, o.source_file,
       o.source_line, o.reference, o.invoice_number, s.settled_minor AS amount_minor, o.currency,
       o.amount_minor AS expected_minor, o.api, CAST(o.http_status AS VARCHAR) AS api_status,
       'settled ' || money_text(s.settled_minor) || ' ' || s.currencies || ' in ' || CAST(s.n AS VARCHAR)
           || ' settlement(s) ' || s.settlement_ids || coalesce(' (batch ' || s.batch_ids || ')', '') || ', sent '
           || money_text(o.amount_minor) || ' ' || o.currency || ' (still open from an earlier month)' AS detail,
       o.key AS stable_key
FROM sums s
JOIN outbox o ON o.api = 'collection.payments' AND o.key = s.key AND o.creditor = s.creditor
WHERE list_contains($scope, 'collection.settlements|' || o.creditor)
  AND (s.settled_minor IS DISTINCT FROM o.amount_minor OR s.min_currency IS DISTINCT FROM o.currency
       OR s.max_currency IS DISTINCT FROM o.currency)
ORDER BY o.source_file, o.source_line, o.key
