-- carried breaks: last period's open breaks of the kinds that stay open until something happens (pending, rejected,
-- unmatched_payment, ambiguous_match) and are still open now (same tests as open_breaks.sql).
-- Inputs: period_breaks, outbox, matches. Parameters: $previous (YYYY-MM).
-- Columns: category, break_key, first_seen, and the discrepancy columns.
SELECT b.category, b.break_key, b.first_seen, 'warning' AS severity, b.source_file, b.source_line, b.reference,
       b.invoice_number, b.amount_minor, b.currency, b.expected_minor, b.api, b.api_status, b.detail,
       b.break_key AS stable_key
FROM period_breaks b
WHERE b.period = $previous AND b.status IN ('new', 'persisting')
  AND b.category IN ('pending', 'rejected', 'unmatched_payment', 'ambiguous_match')
  AND NOT (b.category = 'pending' AND EXISTS (
          SELECT 1 FROM outbox o WHERE o.api = b.api AND o.key = b.break_key AND o.state IN ('confirmed', 'rejected')))
  AND NOT (b.category = 'rejected' AND coalesce(b.api_status, '') <> 'conflict' AND EXISTS (
          SELECT 1 FROM outbox o WHERE o.api = b.api AND o.key = b.break_key AND o.state = 'confirmed'))
  AND NOT (b.category IN ('unmatched_payment', 'ambiguous_match') AND EXISTS (
          SELECT 1 FROM matches m WHERE m.payment_key = b.break_key
            AND m.rule IN ('reference', 'invoice_number', 'multi_invoice', 'amount_name')))
ORDER BY b.category, b.break_key
