-- underpayment / overpayment: matched in the invoice's currency, but the amount differs from what is open.
-- With Amili's answer: api and api_status (the delivery's state) where this run planned the payment for Amili.
-- Inputs: payments, matches, payment_deliveries (run_items, outbox; migration 0013). Parameter: $run_id.
SELECT CASE WHEN p.amount_minor < m.outstanding_minor THEN 'underpayment' ELSE 'overpayment' END AS category,
       'warning' AS severity, p.source_file, p.source_line, p.reference, m.invoice_number,
       p.amount_minor, p.currency, m.outstanding_minor AS expected_minor, d.api, d.answer AS api_status,
       -- The detail is one of a few texts (the amounts are in their own columns): cheap to build, sort and store for a
       -- million rows.
       'matched by ' || m.rule || CASE WHEN m.rule = 'multi_invoice' THEN ' (' || m.invoice_numbers || ')' ELSE '' END
           || '; expected = what was open before this payment'
           || coalesce('; payer''s breakdown: ' || payer_breakdown(p.extra_references, p.extra_reference_amounts), '')
           AS detail,
       p.payment_key AS stable_key
FROM payments p
JOIN matches m ON m.run_id = $run_id AND m.payment_no = p.payment_no
LEFT JOIN payment_deliveries($run_id) d ON d.api = m.target AND d.key = p.payment_key
WHERE p.run_id = $run_id AND p.duplicate_of IS NULL AND m.rule IN ('reference', 'invoice_number', 'multi_invoice', 'amount_name')
  AND m.invoice_currency = p.currency AND p.amount_minor <> m.outstanding_minor
ORDER BY p.source_file, p.source_line
