-- currency_mismatch: matched, but paid in another currency than the invoice's.
-- Inputs: payments, matches. Parameter: $run_id.
SELECT 'currency_mismatch' AS category, 'warning' AS severity, p.source_file, p.source_line,
       p.reference, m.invoice_number, p.amount_minor, p.currency, m.outstanding_minor AS expected_minor,
       NULL AS api, NULL AS api_status, 'invoice is in ' || m.invoice_currency AS detail, p.payment_key AS stable_key
FROM payments p
JOIN matches m ON m.run_id = $run_id AND m.payment_no = p.payment_no
WHERE p.run_id = $run_id AND p.duplicate_of IS NULL AND m.rule IN ('reference', 'invoice_number', 'multi_invoice', 'amount_name')
  -- Routing never sends a payment in another currency (target NULL): only unrouted matches need the join with
  -- payments, which keeps this question cheap when a run has a million matched payments and no such case.
  AND m.target IS NULL AND m.invoice_currency <> p.currency
ORDER BY p.source_file, p.source_line
