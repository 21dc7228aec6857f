-- invalid_row: rows that failed validation, one discrepancy per source row (its reasons joined), with what could be
-- read of it: reference, invoice number, amount and currency (rejected_rows; null where unread).
-- Inputs: rejects, rejected_rows. Parameter: $run_id. Columns: the discrepancy columns (see etl/reconcile/runner.py).
WITH reasons AS (
    SELECT r.source_file, r.source_line,
           string_agg(r.error_message, '; ' ORDER BY r.error_column, r.error_check) AS detail
    FROM rejects r
    WHERE r.run_id = $run_id
    GROUP BY r.source_file, r.source_line
)
SELECT 'invalid_row' AS category, 'error' AS severity, x.source_file, x.source_line,
       i.reference, i.invoice_number, i.amount_minor, i.currency,
       NULL::BIGINT AS expected_minor, NULL AS api, NULL AS api_status, x.detail, NULL AS stable_key
FROM reasons x
LEFT JOIN rejected_rows i ON i.run_id = $run_id AND i.source_file = x.source_file AND i.source_line = x.source_line
ORDER BY x.source_file, x.source_line
