-- read-back carried: last period's open breaks that only reading Amili back can decide (missing_in_amili,
-- unknown_in_amili, settled_amount_mismatch from ADA payout specifications or Collection settlements) whose source was
-- NOT read this period ($scope: the 'api|creditor' lists read; empty under --no-readback). Nothing checked them, so
-- they are carried unchanged: still open, first seen kept, never resolved by not looking.
-- A break is matched to what would have been read by its creditor (from our outbox item) where it has one, else by
-- its API alone (an item we never sent has no creditor of ours on record).
-- Inputs: period_breaks, outbox. Parameters: $previous (YYYY-MM), $scope (VARCHAR[]).
-- Columns: category, break_key, first_seen, and the discrepancy columns.
WITH last_open AS (
    SELECT b.*, substr(b.break_key, strpos(b.break_key, ':') + 1) AS item_key,
           -- the list read: payouts come with the ADA payments, Collection payments are checked against settlements
           CASE WHEN b.api = 'collection.payments' THEN 'collection.settlements' ELSE b.api END AS read_api
    FROM period_breaks b
    WHERE b.period = $previous AND b.status IN ('new', 'persisting')
      AND (b.category IN ('missing_in_amili', 'unknown_in_amili')
           OR (b.category = 'settled_amount_mismatch'
               AND (starts_with(b.break_key, 'payout:') OR starts_with(b.break_key, 'settlement:'))))
)
SELECT b.category, b.break_key, b.first_seen,
       CASE WHEN b.category = 'settled_amount_mismatch' THEN 'warning' ELSE 'error' END AS severity, b.source_file,
       b.source_line, b.reference, b.invoice_number, b.amount_minor, b.currency, b.expected_minor, b.api, b.api_status,
       b.detail, b.item_key AS stable_key
FROM last_open b
LEFT JOIN outbox o ON o.api = b.api AND o.key = b.item_key
WHERE CASE WHEN o.creditor IS NOT NULL THEN NOT list_contains($scope, b.read_api || '|' || o.creditor)
           ELSE NOT EXISTS (SELECT 1 FROM unnest($scope) AS t(s) WHERE starts_with(t.s, b.read_api || '|')) END
ORDER BY b.category, b.break_key
