-- duplicate_payment: a bank payment seen again (same stable key) in this or an earlier file: not sent twice.
-- The row names the invoice the first sighting was matched to (by this run or an earlier one), so that the person
-- who reads it knows which invoice the money was already put on.
-- Inputs: payments, matches. Parameter: $run_id.
WITH dup AS (
    SELECT * FROM payments p
    WHERE p.run_id = $run_id AND p.duplicate_of IS NOT NULL AND NOT p.held_back
),
first_match AS (  -- a key's matches are few (one per run that read it); only this run's duplicates are looked up
    SELECT m.payment_key, min(m.invoice_number) AS invoice_number
    FROM matches m SEMI JOIN dup d ON d.payment_key = m.payment_key
    WHERE m.invoice_number IS NOT NULL AND m.rule IN ('reference', 'invoice_number', 'multi_invoice', 'amount_name')
    GROUP BY m.payment_key
)
SELECT 'duplicate_payment' AS category, 'warning' AS severity, p.source_file, p.source_line,
       p.reference, f.invoice_number, p.amount_minor, p.currency, NULL::BIGINT AS expected_minor,
       NULL AS api, NULL AS api_status, 'first seen at ' || p.duplicate_of AS detail, p.payment_key AS stable_key
FROM dup p
LEFT JOIN first_match f ON f.payment_key = p.payment_key
ORDER BY p.source_file, p.source_line
