-- settlement missing (category missing_in_amili): a Collection payment confirmed in the period, of a creditor whose
-- settlements were read back ($scope holds 'collection.settlements|creditor'), with no settlement under its
-- uniqueSourcePaymentId among those read (dated $read_from to $read_to: the period plus the settlement lag).
-- Only payments confirmed before $due_before are judged: one confirmed within the lag of the day of the read may
-- still settle (the lag rule, docs/month-end.md); settlement_counts.sql counts those not judged yet.
-- Inputs: outbox, outbox_batches, amili_readback. Parameters: $period, $start (DATE), $due_before (DATE, exclusive),
-- $read_from, $read_to (DATE), $scope (VARCHAR[]).
-- Columns: category, break_key, first_seen, and the discrepancy columns.
-- The anti-join runs over (creditor, key) only; the few payments left are then joined back for their columns
-- (an anti-join carrying every outbox column is several times slower over a month of payments).
WITH settled AS (
    SELECT creditor, key FROM amili_readback
    WHERE period = $period AND api = 'collection.settlements' AND key IS NOT NULL
),
judged AS (
    SELECT creditor, key FROM outbox
    WHERE api = 'collection.payments' AND state = 'confirmed'
      AND list_contains($scope, 'collection.settlements|' || creditor)
      AND coalesce(answered_at, updated_at) >= $start AND coalesce(answered_at, updated_at) < $due_before
),
lost AS (SELECT * FROM judged ANTI JOIN settled USING (creditor, key))
SELECT 'missing_in_amili' AS category, o.api || ':' || o.key AS break_key,
       CAST(coalesce(o.answered_at, o.updated_at) AS DATE) AS first_seen, 'error' AS severity, o.source_file,
       o.source_line, o.reference, o.invoice_number, o.amount_minor, o.currency, NULL::BIGINT AS expected_minor, o.api,
       CAST(o.http_status AS VARCHAR) AS api_status,
       'confirmed ' || CAST(CAST(coalesce(o.answered_at, o.updated_at) AS DATE) AS VARCHAR)
           || coalesce(' in batch ' || b.remote_id, '') || coalesce(' (case ' || o.amili_id || ')', '')
           || ', no settlement dated ' || CAST($read_from AS VARCHAR) || ' to ' || CAST($read_to AS VARCHAR) AS detail,
       o.key AS stable_key
FROM lost l
JOIN outbox o ON o.api = 'collection.payments' AND o.key = l.key
LEFT JOIN outbox_batches b ON b.batch_key = o.batch_key
ORDER BY o.source_file, o.source_line, o.key
