-- duplicate_payment: a bank payment seen again (same stable key) in this or an earlier file: not sent twice.
-- Inputs: payments. Parameter: $run_id.
SELECT 'duplicate_payment' AS category, 'warning' AS severity, p.source_file, p.source_line,
       p.reference, NULL AS invoice_number, p.amount_minor, p.currency, NULL::BIGINT AS expected_minor,
       NULL AS api, NULL AS api_status, 'first seen at ' || p.duplicate_of AS detail, p.payment_key AS stable_key
FROM payments p
WHERE p.run_id = $run_id AND p.duplicate_of IS NOT NULL AND NOT p.held_back
ORDER BY p.source_file, p.source_line
