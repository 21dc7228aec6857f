-- settlement counts: what the Collection settlement check covered, for summary.json (one row). Settlements dated in
-- the period, those of them without a uniqueSourcePaymentId (the debtor paid Amili directly: counted, never
-- reported), and the period's confirmed Collection payments of creditors read back, judged or not yet due (confirmed
-- within the settlement lag of the read; see settlement_missing.sql).
-- Inputs: amili_readback, outbox. Parameters: $period, $start, $end, $due_before (DATE, exclusive), $scope.
-- Columns: settlements, settlements_direct, payments_judged, payments_not_yet_due.
WITH s AS (
    SELECT count(*) AS settlements, count(*) FILTER (WHERE key IS NULL) AS settlements_direct
    FROM amili_readback
    WHERE period = $period AND api = 'collection.settlements' AND booked >= $start AND booked < $end
), p AS (
    SELECT count(*) FILTER (WHERE confirmed_at < $due_before) AS payments_judged,
           count(*) FILTER (WHERE confirmed_at >= $due_before) AS payments_not_yet_due
    FROM (SELECT coalesce(answered_at, updated_at) AS confirmed_at FROM outbox
          WHERE api = 'collection.payments' AND state = 'confirmed'
            AND list_contains($scope, 'collection.settlements|' || creditor))
    WHERE confirmed_at >= $start AND confirmed_at < $end
)
SELECT s.settlements, s.settlements_direct, p.payments_judged, p.payments_not_yet_due FROM s, p
