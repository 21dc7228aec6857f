-- unknown_in_amili: Amili holds an item for one of our creditors, read back for the period, that we never sent.
-- Inputs: amili_readback, outbox. Parameters: $period (YYYY-MM).
-- Columns: category, break_key, first_seen, and the discrepancy columns.
SELECT 'unknown_in_amili' AS category, r.api || ':' || coalesce(r.key, r.amili_id) AS break_key,
       CAST(r.read_at AS DATE) AS first_seen, 'error' AS severity, NULL AS source_file, NULL::BIGINT AS source_line,
       NULL AS reference, NULL AS invoice_number, r.amount_minor, r.currency, NULL::BIGINT AS expected_minor, r.api,
       r.status AS api_status, 'in Amili as ' || coalesce(r.amili_id, '?') || ' (' || r.creditor || '), never sent by us'
           AS detail, r.key AS stable_key
FROM amili_readback r
WHERE r.period = $period AND r.api <> 'ada.payout-specifications'  -- payout rows are checked in payout_mismatch.sql
  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.api = r.api AND o.key = r.key)
ORDER BY r.api, r.key
