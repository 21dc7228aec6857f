-- ambiguous_match: more than one equally good candidate: left for a person, never guessed.
-- Inputs: payments, matches. Parameter: $run_id.
SELECT 'ambiguous_match' AS category, 'warning' AS severity, p.source_file, p.source_line,
       p.reference, NULL AS invoice_number, p.amount_minor, p.currency, NULL::BIGINT AS expected_minor,
       NULL AS api, NULL AS api_status, 'candidates: ' || m.candidates || coalesce(' (' || m.fields || ')', '')
           || coalesce('; payer''s breakdown: ' || payer_breakdown(p.extra_references, p.extra_reference_amounts), '')
           AS detail, p.payment_key AS stable_key
FROM payments p
JOIN matches m ON m.run_id = $run_id AND m.payment_no = p.payment_no
WHERE p.run_id = $run_id AND p.duplicate_of IS NULL AND m.rule = 'ambiguous'
ORDER BY p.source_file, p.source_line
