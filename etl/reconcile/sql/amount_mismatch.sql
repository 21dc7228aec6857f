-- underpayment / overpayment: matched in the invoice's currency, but the amount differs from what is open.
-- Inputs: payments, matches. Parameter: $run_id.
SELECT CASE WHEN p.amount_minor < m.outstanding_minor THEN 'underpayment' ELSE 'overpayment' END AS category,
       'warning' AS severity, p.source_file, p.source_line, p.reference, m.invoice_number,
       p.amount_minor, p.currency, m.outstanding_minor AS expected_minor, NULL AS api, NULL AS api_status,
       -- The detail is one of a few texts (the amounts are in their own columns): cheap to build, sort and store for a
       -- million rows.
       'matched by ' || m.rule || CASE WHEN m.rule = 'multi_invoice' THEN ' (' || m.invoice_numbers || ')' ELSE '' END
           || '; expected = what was open before this payment'
           || CASE WHEN m.outstanding_minor <= 0 THEN '; not sent: nothing open on the invoice' ELSE '' END
           || coalesce('; payer''s breakdown: ' || payer_breakdown(p.extra_references, p.extra_reference_amounts), '')
           AS detail,
       p.payment_key AS stable_key
FROM payments p
JOIN matches m ON m.run_id = $run_id AND m.payment_no = p.payment_no
WHERE p.run_id = $run_id AND p.duplicate_of IS NULL AND m.rule IN ('reference', 'invoice_number', 'multi_invoice', 'amount_name')
  AND m.invoice_currency = p.currency AND p.amount_minor <> m.outstanding_minor
ORDER BY p.source_file, p.source_line
