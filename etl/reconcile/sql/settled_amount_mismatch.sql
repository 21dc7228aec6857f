-- settled_amount_mismatch: Amili settled or recorded another amount than was sent. An overpayment Amili settled
-- only up to what was open says so (settled_what_was_open, migration 0013): one_break_per_cause.sql then keeps the
-- overpayment as the one break and this row as a note on it.
-- A part of a split payment (key '<payment key>:<reference>', migration 0014) is reported under its payment's key,
-- so one_break_per_cause.sql makes it a note on the payment's own row (an over- or underpaid part).
-- Inputs: run_items, outbox, matches. Parameter: $run_id.
SELECT 'settled_amount_mismatch' AS category, 'warning' AS severity, o.source_file, o.source_line, o.reference,
       o.invoice_number, o.settled_minor AS amount_minor, o.currency, o.amount_minor AS expected_minor, r.api,
       CAST(o.http_status AS VARCHAR) AS api_status,
       'Amili settled ' || money_text(o.settled_minor) || ' of ' || money_text(o.amount_minor) || ' sent'
           || CASE WHEN settled_what_was_open(o.amount_minor, o.settled_minor, m.outstanding_minor)
                   THEN ', what was open on the invoice' ELSE '' END AS detail,
       split_part(r.key, ':', 1) AS stable_key
FROM run_items r
JOIN outbox o ON o.api = r.api AND o.key = r.key
LEFT JOIN matches m ON m.run_id = $run_id AND m.payment_key = split_part(r.key, ':', 1) AND m.target = r.api
WHERE r.run_id = $run_id AND o.state = 'confirmed' AND o.settled_minor IS NOT NULL
  AND o.settled_minor <> o.amount_minor
ORDER BY o.source_file, o.source_line, r.api, r.key
