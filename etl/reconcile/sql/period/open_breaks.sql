-- period open breaks: the discrepancies of every run started in the period, one per (category, break key), still
-- open now: a pending item since confirmed or refused, a rejected item since confirmed, an unmatched or ambiguous
-- payment since matched by a later run are resolved and left out.
-- Inputs: runs, discrepancies, outbox, matches. Parameters: $start, $end (DATE, end exclusive).
-- Columns: category, break_key, first_seen, and the discrepancy columns.
WITH period_runs AS (
    SELECT run_id, CAST(started_at AS DATE) AS run_date FROM runs WHERE started_at >= $start AND started_at < $end
),
d AS (
    SELECT d.*, r.run_date,
           coalesce(d.stable_key, d.source_file || ':' || coalesce(CAST(d.source_line AS VARCHAR), '')) AS break_key
    FROM discrepancies d JOIN period_runs r USING (run_id)
    WHERE d.category NOT IN ('missing_in_amili', 'unknown_in_amili', 'unpaid_invoice')
),
latest AS (
    SELECT *, min(run_date) OVER (PARTITION BY category, break_key) AS first_seen
    FROM d
    QUALIFY row_number() OVER (PARTITION BY category, break_key ORDER BY run_id DESC) = 1
)
SELECT category, break_key, first_seen, severity, source_file, source_line, reference, invoice_number, amount_minor,
       currency, expected_minor, api, api_status, detail, stable_key
FROM latest l
WHERE NOT (l.category = 'pending' AND EXISTS (
          SELECT 1 FROM outbox o WHERE o.api = l.api AND o.key = l.stable_key AND o.state IN ('confirmed', 'rejected')))
  AND NOT (l.category = 'rejected' AND l.api_status <> 'conflict' AND EXISTS (
          SELECT 1 FROM outbox o WHERE o.api = l.api AND o.key = l.stable_key AND o.state = 'confirmed'))
  AND NOT (l.category IN ('unmatched_payment', 'ambiguous_match') AND EXISTS (
          SELECT 1 FROM matches m WHERE m.payment_key = l.stable_key AND m.run_id > l.run_id
            AND m.rule IN ('reference', 'invoice_number', 'multi_invoice', 'amount_name')))
ORDER BY category, break_key
