-- settlement unknown (category unknown_in_amili): a Collection settlement dated in the period under a
-- uniqueSourcePaymentId we never sent (in any run), or sent but Amili rejected: money arrived for an item our ledger
-- says never got in (the detail says when it was rejected and why; file and line are our bank payment's).
-- Settlements without a uniqueSourcePaymentId (the debtor paid Amili directly) are not ours to flag:
-- settlement_counts.sql counts them. Settlements dated after the period (read for the lag) are judged with the next
-- period.
-- Inputs: amili_readback, outbox. Parameters: $period, $start, $end (DATE, end exclusive).
-- Columns: category, break_key, first_seen, and the discrepancy columns.
-- The anti-join runs over (creditor, key) only; the settlements' details are gathered for the unknown keys alone.
WITH keys AS (
    SELECT DISTINCT creditor, key FROM (
        SELECT creditor, key FROM amili_readback
        WHERE period = $period AND api = 'collection.settlements' AND key IS NOT NULL
          AND booked >= $start AND booked < $end
    ) ANTI JOIN (SELECT creditor, key FROM outbox WHERE api = 'collection.payments' AND state <> 'rejected')
      USING (creditor, key)
),
unknown AS (
    SELECT r.creditor, r.key, min(r.booked) AS first_booked, CAST(sum(r.amount_minor) AS BIGINT) AS amount_minor,
           string_agg(DISTINCT coalesce(r.currency, '?'), '/' ORDER BY coalesce(r.currency, '?')) AS currency,
           string_agg(DISTINCT r.reference, ', ' ORDER BY r.reference) AS reference,
           string_agg(DISTINCT r.invoice_number, ', ' ORDER BY r.invoice_number) AS invoice_number,
           string_agg(DISTINCT r.case_number, ', ' ORDER BY r.case_number) AS case_numbers,
           string_agg(coalesce(r.amili_id, '?') || ' of ' || coalesce(CAST(r.booked AS VARCHAR), '?'), ', '
                      ORDER BY r.booked, r.amili_id) AS settlements,
           string_agg(DISTINCT r.batch_id, ', ' ORDER BY r.batch_id) AS batch_ids,
           string_agg(DISTINCT r.status, ', ' ORDER BY r.status) AS status
    FROM amili_readback r SEMI JOIN keys k ON k.creditor = r.creditor AND k.key = r.key
    WHERE r.period = $period AND r.api = 'collection.settlements' AND r.booked >= $start AND r.booked < $end
    GROUP BY r.creditor, r.key
)
SELECT 'unknown_in_amili' AS category, 'collection.settlements:' || u.key AS break_key, u.first_booked AS first_seen,
       'error' AS severity, o.source_file, o.source_line, u.reference, u.invoice_number,
       u.amount_minor, u.currency, NULL::BIGINT AS expected_minor, 'collection.settlements' AS api, u.status AS api_status,
       'settlement ' || u.settlements || coalesce(' (batch ' || u.batch_ids || ')', '')
           || coalesce(', case ' || u.case_numbers, '') || ' (' || u.creditor || '): uniqueSourcePaymentId '
           || u.key || CASE WHEN o.key IS NULL THEN ' never sent by us'
                            ELSE ' sent by us ' || CAST(CAST(coalesce(o.answered_at, o.updated_at) AS DATE) AS VARCHAR)
                                 || ' but rejected by Amili (HTTP ' || coalesce(CAST(o.http_status AS VARCHAR), '?')
                                 || coalesce(': ' || o.message, '') || '), settled all the same' END AS detail,
       u.key AS stable_key
FROM unknown u
LEFT JOIN outbox o ON o.api = 'collection.payments' AND o.creditor = u.creditor AND o.key = u.key AND o.state = 'rejected'
ORDER BY u.creditor, u.key
