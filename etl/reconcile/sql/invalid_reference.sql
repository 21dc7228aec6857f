-- invalid_reference: a KID / OCR reference whose check digit fails the creditor's reference_check.
-- Still matched by other evidence where possible (the match columns say how). Inputs: payments, matches.
SELECT 'invalid_reference' AS category, 'warning' AS severity, p.source_file, p.source_line,
       p.reference, m.invoice_number, p.amount_minor, p.currency, NULL::BIGINT AS expected_minor,
       NULL AS api, NULL AS api_status,
       'check digit fails' || CASE WHEN m.rule IN ('reference', 'invoice_number', 'multi_invoice', 'amount_name')
                                  THEN '; matched by ' || m.evidence ELSE '' END AS detail,
       p.payment_key AS stable_key
FROM payments p
LEFT JOIN matches m ON m.run_id = $run_id AND m.payment_no = p.payment_no
WHERE p.run_id = $run_id AND p.reference_valid = FALSE AND p.duplicate_of IS NULL AND NOT p.held_back
ORDER BY p.source_file, p.source_line
