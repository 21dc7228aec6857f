-- period open breaks: the discrepancies of the work runs (work_runs.sql) by the accounting date of what they are
-- about, whenever the run happened: a payment's booking date, so November's bank file imported on 6 December counts
-- in November. The date of a break is, first that applies:
--   the booking date of the payment at the break's file and line in the run that reported it;
--   for a delivery item (pending, rejected): its source row in the run that first planned it (a rerun reports items
--   it never read): a payment's booking date, an invoice's invoice date (else its due date);
--   the file's latest booking date (else latest invoice date) in that run (a rejected row, a file-level break);
--   the day the run started.
-- Kinds that stay open until resolved ($carried) are taken from every date before the end of the period (a
-- payment unmatched since September is still open in November); the others are facts of their period and are taken
-- from its dates only. One row per (category, break key), the latest run's; first_seen = the break's date.
-- Still open now: a pending item since confirmed or refused, a rejected item since confirmed, an unmatched or
-- ambiguous payment since matched by a later run are resolved and left out.
-- Inputs: work_runs, discrepancies, payments, invoices, outbox, matches. Parameters: $start, $end (DATE, end
-- exclusive), $carried (VARCHAR[]).
-- Columns: category, break_key, first_seen, and the discrepancy columns.
WITH d AS (
    SELECT d.*, CAST(w.started_at AS DATE) AS run_date,
           coalesce(d.stable_key, d.source_file || ':' || coalesce(CAST(d.source_line AS VARCHAR), '')) AS break_key
    FROM discrepancies d JOIN work_runs w USING (run_id)
    WHERE d.category NOT IN ('missing_in_amili', 'unknown_in_amili', 'unpaid_invoice')
),
row_dates AS (  -- payments at a break's file and line, in the run that reported it
    SELECT p.run_id, p.source_file, p.source_line, max(p.booking_date) AS booked
    FROM payments p SEMI JOIN d ON d.run_id = p.run_id AND d.source_file = p.source_file AND d.source_line = p.source_line
    GROUP BY ALL
),
items AS (  -- delivery items: the run that first planned them
    SELECT o.api, o.key, o.first_run_id, o.source_file, o.source_line
    FROM outbox o SEMI JOIN d ON d.api = o.api AND d.stable_key = o.key
),
item_dates AS (
    SELECT i.api, i.key, coalesce(max(p.booking_date), max(coalesce(v.invoice_date, v.due_date))) AS booked
    FROM items i
    LEFT JOIN payments p ON p.run_id = i.first_run_id AND p.source_file = i.source_file AND p.source_line = i.source_line
    LEFT JOIN invoices v ON v.run_id = i.first_run_id AND v.source_file = i.source_file AND v.source_line = i.source_line
    GROUP BY ALL
),
file_dates AS (  -- the latest date of each file of a reporting run
    SELECT run_id, source_file, max(booked) AS booked FROM (
        SELECT run_id, source_file, booking_date AS booked FROM payments SEMI JOIN d USING (run_id, source_file)
        UNION ALL
        SELECT run_id, source_file, coalesce(invoice_date, due_date) FROM invoices SEMI JOIN d USING (run_id, source_file)
    ) GROUP BY ALL
),
dated AS (
    SELECT d.*, coalesce(r.booked, i.booked, f.booked, d.run_date) AS booked
    FROM d
    LEFT JOIN row_dates r ON r.run_id = d.run_id AND r.source_file = d.source_file AND r.source_line = d.source_line
    LEFT JOIN item_dates i ON i.api = d.api AND i.key = d.stable_key
    LEFT JOIN file_dates f ON f.run_id = d.run_id AND f.source_file = d.source_file
),
latest AS (
    SELECT *, min(booked) OVER (PARTITION BY category, break_key) AS first_seen
    FROM dated
    WHERE booked < $end AND (booked >= $start OR list_contains($carried, category))
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
          SELECT 1 FROM matches m JOIN work_runs w USING (run_id) WHERE m.payment_key = l.stable_key
            AND m.run_id > l.run_id AND m.rule IN ('reference', 'invoice_number', 'multi_invoice', 'amount_name')))
ORDER BY category, break_key
