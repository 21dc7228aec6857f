-- unknown_in_amili: Amili holds an item for one of our creditors, read back for the period, that we never sent:
-- an ADA creditor payment booked in the period (or undated), an ARM document of any date.
-- Inputs: amili_readback, outbox. Parameters: $period (YYYY-MM), $start, $end (DATE, end exclusive).
-- Columns: category, break_key, first_seen, and the discrepancy columns.
SELECT 'unknown_in_amili' AS category, r.api || ':' || coalesce(r.key, r.amili_id) AS break_key,
       CAST(r.read_at AS DATE) AS first_seen, 'error' AS severity, NULL AS source_file, NULL::BIGINT AS source_line,
       NULL AS reference, NULL AS invoice_number, r.amount_minor, r.currency, NULL::BIGINT AS expected_minor, r.api,
       r.status AS api_status, 'in Amili as ' || coalesce(r.amili_id, '?') || ' (' || r.creditor || '), never sent by us'
           AS detail, r.key AS stable_key
FROM amili_readback r
-- payout rows are checked in payout_mismatch.sql, Collection settlements in settlement_unknown.sql
WHERE r.period = $period AND r.api NOT IN ('ada.payout-specifications', 'collection.settlements')
  AND (r.api = 'arm.documents' OR r.booked IS NULL OR (r.booked >= $start AND r.booked < $end))
  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.api = r.api AND o.key = r.key)
ORDER BY r.api, r.key
