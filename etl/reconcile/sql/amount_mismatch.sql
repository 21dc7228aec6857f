-- underpayment / overpayment: matched in the invoice's currency, but the amount differs from what is open.
-- With Amili's answer: api and api_status (the delivery's state) where this run planned the payment for Amili.
-- A payment split by the payer's breakdown (docs/matching.md) is judged per invoice: each part against what was open
-- on its invoice (the parts may add up to the invoices' total while one invoice is overpaid and another underpaid).
-- Still one row per payment: the first invoice whose part differs, the others named in the detail.
-- Inputs: payments, matches, match_allocations, invoices, runs, payment_deliveries (run_items, outbox; migration
-- 0013). Parameter: $run_id.
WITH breakdown AS (
    SELECT m.payment_no FROM matches m
    WHERE m.run_id = $run_id AND m.rule = 'multi_invoice' AND starts_with(m.fields, 'payer''s breakdown')
),
-- What was open on each invoice of a breakdown before this payment, as the match stage saw it (stage.py _OPEN_SQL).
dry AS (SELECT run_id FROM runs WHERE mode = 'dry-run' AND run_id <> $run_id),
parts AS (
    SELECT a.payment_key, a.invoice_number, a.amount_minor,
           i.amount_minor - coalesce((
               SELECT sum(e.amount_minor) FROM (
                   SELECT DISTINCT e.payment_key, e.amount_minor FROM match_allocations e
                   WHERE e.creditor = a.creditor AND e.invoice_number = a.invoice_number AND e.run_id <> $run_id
                     AND e.run_id NOT IN (SELECT run_id FROM dry)
                     AND e.payment_key NOT IN (SELECT payment_key FROM payments WHERE run_id = $run_id)) e), 0)
               AS open_minor,
           row_number() OVER (PARTITION BY a.payment_key ORDER BY a.invoice_number) AS n
    FROM match_allocations a
    JOIN (SELECT * FROM invoices WHERE run_id NOT IN (SELECT run_id FROM dry)
          QUALIFY row_number() OVER (PARTITION BY creditor, invoice_number
                                     ORDER BY run_id = $run_id DESC, run_id DESC) = 1) i
      ON i.creditor = a.creditor AND i.invoice_number = a.invoice_number
    WHERE a.run_id = $run_id AND a.payment_key IN (
        SELECT p.payment_key FROM payments p JOIN breakdown b USING (payment_no) WHERE p.run_id = $run_id)
),
part_breaks AS (
    SELECT payment_key, arg_min(invoice_number, n) AS invoice_number, arg_min(amount_minor, n) AS amount_minor,
           arg_min(open_minor, n) AS open_minor,
           string_agg(invoice_number || ': paid ' || money_text(amount_minor) || ', ' || money_text(open_minor)
                      || ' was open', '; ' ORDER BY n) AS parts
    FROM parts WHERE amount_minor <> open_minor GROUP BY payment_key
)
SELECT CASE WHEN p.amount_minor < m.outstanding_minor THEN 'underpayment' ELSE 'overpayment' END AS category,
       'warning' AS severity, p.source_file, p.source_line, p.reference, m.invoice_number,
       p.amount_minor, p.currency, m.outstanding_minor AS expected_minor, d.api, d.answer AS api_status,
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
LEFT JOIN payment_deliveries($run_id) d ON d.api = m.target AND d.key = p.payment_key
WHERE p.run_id = $run_id AND p.duplicate_of IS NULL AND m.rule IN ('reference', 'invoice_number', 'multi_invoice', 'amount_name')
  AND m.invoice_currency = p.currency AND p.amount_minor <> m.outstanding_minor
  AND p.payment_no NOT IN (SELECT payment_no FROM breakdown)
UNION ALL
SELECT CASE WHEN b.amount_minor < b.open_minor THEN 'underpayment' ELSE 'overpayment' END AS category,
       'warning' AS severity, p.source_file, p.source_line, p.reference, b.invoice_number,
       b.amount_minor, p.currency, b.open_minor AS expected_minor, d.api, d.answer AS api_status,
       'matched by the payer''s breakdown (' || m.invoice_numbers || '), judged per invoice: ' || b.parts
           || '; expected = what was open on the invoice before this payment'
           || coalesce('; payer''s breakdown: ' || payer_breakdown(p.extra_references, p.extra_reference_amounts), '')
           AS detail,
       p.payment_key AS stable_key
FROM payments p
JOIN matches m ON m.run_id = $run_id AND m.payment_no = p.payment_no
JOIN part_breaks b ON b.payment_key = p.payment_key
LEFT JOIN payment_deliveries($run_id) d ON d.api = m.target AND d.key = p.payment_key
WHERE p.run_id = $run_id AND p.duplicate_of IS NULL AND m.invoice_currency = p.currency
  AND p.payment_no IN (SELECT payment_no FROM breakdown)
ORDER BY source_file, source_line
