-- unknown_in_amili: Amili holds an item for one of our creditors, read back for the period, that we never sent, or
-- sent but Amili rejected (our ledger says it never got in: that item then carries our file and line, and the detail
-- says when it was rejected and why): an ADA creditor payment booked in the period (or undated), an ARM document of
-- any date.
-- Inputs: amili_readback, outbox. Parameters: $period (YYYY-MM), $start, $end (DATE, end exclusive).
-- Columns: category, break_key, first_seen, and the discrepancy columns.
SELECT 'unknown_in_amili' AS category, r.api || ':' || coalesce(r.key, r.amili_id) AS break_key,
       CAST(r.read_at AS DATE) AS first_seen, 'error' AS severity, o.source_file, o.source_line,
       o.reference, o.invoice_number, r.amount_minor, r.currency, NULL::BIGINT AS expected_minor, r.api,
       r.status AS api_status, 'in Amili as ' || coalesce(r.amili_id, '?') || ' (' || r.creditor || '), '
           || CASE WHEN o.key IS NULL THEN 'never sent by us'
                   ELSE 'sent by us ' || CAST(CAST(coalesce(o.answered_at, o.updated_at) AS DATE) AS VARCHAR)
                        || ' but rejected by Amili (HTTP ' || coalesce(CAST(o.http_status AS VARCHAR), '?')
                        || coalesce(': ' || o.message, '') || ')' END AS detail, r.key AS stable_key
FROM amili_readback r
LEFT JOIN outbox o ON o.api = r.api AND o.key = r.key AND o.state = 'rejected'
-- payout rows are checked in payout_mismatch.sql, Collection settlements in settlement_unknown.sql
WHERE r.period = $period AND r.api NOT IN ('ada.payout-specifications', 'collection.settlements')
  AND (r.api = 'arm.documents' OR r.booked IS NULL OR (r.booked >= $start AND r.booked < $end))
  AND NOT EXISTS (SELECT 1 FROM outbox k WHERE k.api = r.api AND k.key = r.key AND k.state <> 'rejected')
ORDER BY r.api, r.key
