-- invalid_row: rows that failed validation, one discrepancy per source row (its reasons joined).
-- Inputs: rejects. Parameter: $run_id. Columns: the discrepancy columns (see etl/reconcile/runner.py).
SELECT 'invalid_row' AS category, 'error' AS severity, r.source_file, r.source_line,
       NULL AS reference, NULL AS invoice_number, NULL::BIGINT AS amount_minor, NULL AS currency,
       NULL::BIGINT AS expected_minor, NULL AS api, NULL AS api_status,
       string_agg(r.error_message, '; ' ORDER BY r.error_column, r.error_check) AS detail, NULL AS stable_key
FROM rejects r
WHERE r.run_id = $run_id
GROUP BY r.source_file, r.source_line
ORDER BY r.source_file, r.source_line
