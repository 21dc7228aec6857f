-- control_total_mismatch: files whose own control totals, counts or balances do not tie (held back whole).
-- Inputs: files. Parameter: $run_id.
SELECT 'control_total_mismatch' AS category, 'error' AS severity, f.path AS source_file, NULL::BIGINT AS source_line,
       NULL AS reference, NULL AS invoice_number, f.computed_total_minor AS amount_minor, f.currency,
       f.declared_total_minor AS expected_minor, NULL AS api, NULL AS api_status,
       f.message AS detail, NULL AS stable_key
FROM files f
WHERE f.run_id = $run_id AND f.status = 'held_back'
ORDER BY f.path
