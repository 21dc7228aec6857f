-- rejected: Amili refused an item (its message in detail), or the same key was planned with other data.
-- Inputs: run_items, outbox. Parameter: $run_id.
SELECT 'rejected' AS category, 'error' AS severity, o.source_file, o.source_line, o.reference, o.invoice_number,
       o.amount_minor, o.currency, NULL::BIGINT AS expected_minor, r.api,
       CASE WHEN r.action = 'conflict' THEN 'conflict' ELSE CAST(o.http_status AS VARCHAR) END AS api_status,
       CASE WHEN r.action = 'conflict' THEN r.conflict_detail ELSE o.message END AS detail, r.key AS stable_key
FROM run_items r
JOIN outbox o ON o.api = r.api AND o.key = r.key
WHERE r.run_id = $run_id AND (r.action = 'conflict' OR o.state = 'rejected')
ORDER BY o.source_file, o.source_line, r.api, r.key
