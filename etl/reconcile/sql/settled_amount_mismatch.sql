-- settled_amount_mismatch: Amili settled or recorded another amount than was sent.
-- Inputs: run_items, outbox. Parameter: $run_id.
SELECT 'settled_amount_mismatch' AS category, 'warning' AS severity, o.source_file, o.source_line, o.reference,
       o.invoice_number, o.settled_minor AS amount_minor, o.currency, o.amount_minor AS expected_minor, r.api,
       CAST(o.http_status AS VARCHAR) AS api_status,
       'Amili settled ' || money_text(o.settled_minor) || ' of ' || money_text(o.amount_minor) AS detail, r.key AS stable_key
FROM run_items r
JOIN outbox o ON o.api = r.api AND o.key = r.key
WHERE r.run_id = $run_id AND o.state = 'confirmed' AND o.settled_minor IS NOT NULL
  AND o.settled_minor <> o.amount_minor
ORDER BY o.source_file, o.source_line, r.api, r.key
