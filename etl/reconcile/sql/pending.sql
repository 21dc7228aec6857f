-- pending: sent (or meant to be sent) but without a final answer yet; a rerun settles them.
-- Inputs: run_items, outbox. Parameter: $run_id.
SELECT 'pending' AS category, 'warning' AS severity, o.source_file, o.source_line, o.reference, o.invoice_number,
       o.amount_minor, o.currency, NULL::BIGINT AS expected_minor, r.api, o.state AS api_status,
       coalesce(o.message, 'no final answer from Amili yet') AS detail, r.key AS stable_key
FROM run_items r
JOIN outbox o ON o.api = r.api AND o.key = r.key
WHERE r.run_id = $run_id AND r.action = 'deliver' AND o.state IN ('intent', 'sent', 'acknowledged', 'unknown')
ORDER BY o.source_file, o.source_line, r.api, r.key
