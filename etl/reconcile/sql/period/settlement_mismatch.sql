-- settlement mismatch (category settled_amount_mismatch): a Collection payment confirmed in the period whose
-- settlements, as read back under its uniqueSourcePaymentId, add up to another amount (or carry another currency)
-- than we sent. Settlements are summed per key (a payment may settle in parts). A payment without any settlement
-- read is settlement_missing.sql's question, not this one.
-- Inputs: outbox, amili_readback, matches. Parameters: $period, $start, $end (DATE, end exclusive), $scope (VARCHAR[]).
-- Columns: category, break_key, first_seen, and the discrepancy columns.
-- The sums run over the joined narrow columns (payment key, amount) grouped by the payment's key, which is unique
-- in the outbox; settlement ids and batch ids are gathered only for the few keys that differ (string aggregation, or
-- a join of per-key sums, over every settlement of a month costs seconds).
WITH sent AS (
    SELECT creditor, key, amount_minor, currency FROM outbox
    WHERE api = 'collection.payments' AND state = 'confirmed'
      AND list_contains($scope, 'collection.settlements|' || creditor)
      AND coalesce(answered_at, updated_at) >= $start AND coalesce(answered_at, updated_at) < $end
),
differ AS (
    SELECT p.key, any_value(p.creditor) AS creditor, CAST(sum(r.amount_minor) AS BIGINT) AS settled_minor, count(*) AS n
    FROM sent p JOIN amili_readback r ON r.key = p.key AND r.creditor = p.creditor
    WHERE r.period = $period AND r.api = 'collection.settlements'
    GROUP BY p.key
    HAVING sum(r.amount_minor) IS DISTINCT FROM any_value(p.amount_minor)
        OR min(coalesce(r.currency, '?')) IS DISTINCT FROM any_value(p.currency)
        OR max(coalesce(r.currency, '?')) IS DISTINCT FROM any_value(p.currency)
),
ids AS (
    SELECT r.creditor, r.key,
           string_agg(DISTINCT coalesce(r.currency, '?'), '/' ORDER BY coalesce(r.currency, '?')) AS currencies,
           string_agg(coalesce(r.amili_id, '?'), ', ' ORDER BY r.booked, r.amili_id) AS settlement_ids,
           string_agg(DISTINCT r.batch_id, ', ' ORDER BY r.batch_id) AS batch_ids
    FROM amili_readback r SEMI JOIN differ d ON d.creditor = r.creditor AND d.key = r.key
    WHERE r.period = $period AND r.api = 'collection.settlements'
    GROUP BY r.creditor, r.key
)
SELECT 'settled_amount_mismatch' AS category, 'settlement:' || o.key AS break_key,
       CAST(coalesce(o.answered_at, o.updated_at) AS DATE) AS first_seen, 'warning' AS severity, o.source_file,
       o.source_line, o.reference, o.invoice_number, d.settled_minor AS amount_minor, o.currency,
       o.amount_minor AS expected_minor, o.api, CAST(o.http_status AS VARCHAR) AS api_status,
       'settled ' || money_text(d.settled_minor) || ' ' || i.currencies || ' in ' || CAST(d.n AS VARCHAR)
           || ' settlement(s) ' || i.settlement_ids || coalesce(' (batch ' || i.batch_ids || ')', '') || ', sent '
           || money_text(o.amount_minor) || ' ' || o.currency AS detail, o.key AS stable_key
FROM differ d
JOIN ids i USING (creditor, key)
JOIN outbox o ON o.api = 'collection.payments' AND o.key = d.key
-- One break per cause: an overpayment Amili settled only up to what was open is the run's overpayment break, not a
-- second one here (settled_what_was_open, migration 0013; what was open: the match of the run that planned it).
WHERE NOT EXISTS (SELECT 1 FROM matches m WHERE m.run_id = o.first_run_id AND m.payment_key = o.key
                    AND m.target = o.api AND i.currencies = o.currency
                    AND settled_what_was_open(o.amount_minor, d.settled_minor, m.outstanding_minor))
ORDER BY o.source_file, o.source_line, o.key
