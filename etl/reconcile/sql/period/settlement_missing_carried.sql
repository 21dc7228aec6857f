-- settlement missing, carried (category missing_in_amili): last period's open Collection missing_in_amili breaks
-- (payments confirmed in an earlier month, never settled then) that are still open: no settlement under the key in
-- this period's read either. A settlement that came late resolves the break; without one it persists and ages.
-- Only for creditors whose settlements were read this period ($scope).
-- Inputs: period_breaks, amili_readback. Parameters: $previous, $period (YYYY-MM), $scope (VARCHAR[]).
-- Columns: category, break_key, first_seen, and the discrepancy columns.
WITH last_open AS (
    SELECT b.*, substr(b.break_key, length('collection.payments:') + 1) AS key
    FROM period_breaks b
    WHERE b.period = $previous AND b.status IN ('new', 'persisting') AND b.category = 'missing_in_amili'
      AND b.api = 'collection.payments' AND starts_with(b.break_key, 'collection.payments:')
)
SELECT b.category, b.break_key, b.first_seen, 'error' AS severity, b.source_file, b.source_line, b.reference,
       b.invoice_number, b.amount_minor, b.currency, b.expected_minor, b.api, b.api_status, b.detail,
       b.key AS stable_key
FROM last_open b JOIN outbox o ON o.api = 'collection.payments' AND o.key = b.key
WHERE list_contains($scope, 'collection.settlements|' || o.creditor)
  AND NOT EXISTS (SELECT 1 FROM amili_readback r WHERE r.period = $period AND r.api = 'collection.settlements'
                    AND r.creditor = o.creditor AND r.key = b.key)
ORDER BY b.source_file, b.source_line, b.break_key
