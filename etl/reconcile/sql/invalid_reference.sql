-- invalid_reference: a KID / OCR reference whose check digit fails the creditor's reference_check.
-- Still matched by other evidence where possible (the match columns say how), then with Amili's answer: api and
-- api_status (the delivery's state) where this run planned the payment for Amili.
-- Inputs: payments, matches, payment_deliveries (run_items, outbox; migration 0013). Parameter: $run_id.
SELECT 'invalid_reference' AS category, 'warning' AS severity, p.source_file, p.source_line,
       p.reference, m.invoice_number, p.amount_minor, p.currency, NULL::BIGINT AS expected_minor,
       d.api, d.answer AS api_status,
       'check digit fails' || CASE WHEN m.rule IN ('reference', 'invoice_number', 'multi_invoice', 'amount_name')
                                  THEN '; matched by ' || m.evidence ELSE '' END AS detail,
       p.payment_key AS stable_key
FROM payments p
LEFT JOIN matches m ON m.run_id = $run_id AND m.payment_no = p.payment_no
LEFT JOIN payment_deliveries($run_id) d ON d.api = m.target AND d.key = p.payment_key
WHERE p.run_id = $run_id AND p.reference_valid = FALSE AND p.duplicate_of IS NULL AND NOT p.held_back
ORDER BY p.source_file, p.source_line
