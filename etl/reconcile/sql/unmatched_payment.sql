-- unmatched_payment: an incoming payment no rule matched, or one to an account no creditor owns.
-- Inputs: payments, matches. Parameter: $run_id.
SELECT 'unmatched_payment' AS category, 'warning' AS severity, p.source_file, p.source_line,
       p.reference, NULL AS invoice_number, p.amount_minor, p.currency, NULL::BIGINT AS expected_minor,
       NULL AS api, NULL AS api_status,
       CASE WHEN p.creditor IS NULL THEN 'account ' || coalesce(p.account, '?') || ' belongs to no configured creditor'
            ELSE 'no open invoice matches the reference or the text' END
           || coalesce('; payer''s breakdown: ' || payer_breakdown(p.extra_references, p.extra_reference_amounts), '')
           AS detail,
       p.payment_key AS stable_key
FROM payments p
LEFT JOIN matches m ON m.run_id = $run_id AND m.payment_no = p.payment_no
WHERE p.run_id = $run_id AND p.duplicate_of IS NULL AND NOT p.held_back AND p.amount_minor > 0
  AND (p.creditor IS NULL OR m.rule = 'none')
ORDER BY p.source_file, p.source_line
