-- unknown carried (category unknown_in_amili): last period's open unknown_in_amili breaks that are still open. The
-- read-back windows move on (an ADA payment is judged in the month it is booked, a Collection settlement in the month
-- it is dated), so an unknown item is never resolved by falling out of the window; only by something that resolves
-- it: we have sent its key since (an item of ours Amili did not reject), or Amili no longer holds it (ADA creditor
-- payments and ARM documents are read whatever their date, so their absence is seen; a Collection settlement outside
-- the window is not read, so it stays open). Only for APIs read this period ($scope): readback_carried.sql keeps the
-- others.
-- Inputs: period_breaks, outbox, amili_readback. Parameters: $previous, $period (YYYY-MM), $scope (VARCHAR[]).
-- Columns: category, break_key, first_seen, and the discrepancy columns.
WITH last_open AS (
    SELECT b.*, substr(b.break_key, length(b.api) + 2) AS item_key,
           CASE WHEN b.api = 'collection.settlements' THEN 'collection.payments' ELSE b.api END AS sent_api
    FROM period_breaks b
    WHERE b.period = $previous AND b.status IN ('new', 'persisting') AND b.category = 'unknown_in_amili'
      AND starts_with(b.break_key, b.api || ':')
)
SELECT b.category, b.break_key, b.first_seen, 'error' AS severity, b.source_file, b.source_line, b.reference,
       b.invoice_number, b.amount_minor, b.currency, b.expected_minor, b.api, b.api_status, b.detail,
       b.item_key AS stable_key
FROM last_open b
WHERE EXISTS (SELECT 1 FROM unnest($scope) AS t(s) WHERE starts_with(t.s, b.api || '|'))
  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.api = b.sent_api AND o.key = b.item_key AND o.state <> 'rejected')
  AND (b.api = 'collection.settlements' OR EXISTS (
          SELECT 1 FROM amili_readback r WHERE r.period = $period AND r.api = b.api
            AND coalesce(r.key, r.amili_id) = b.item_key))
ORDER BY b.break_key
