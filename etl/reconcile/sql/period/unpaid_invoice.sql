-- unpaid_invoice: an invoice (its latest export by a work run, work_runs.sql) due by the end of the period with
-- nothing paid on it by then. Paid = allocated by a match of a work run whose payment was booked before the end of
-- the period, whenever the run happened: a payment booked on 30 November and imported on 6 December paid its
-- invoice in November (a payment without a booking date counts from the day its run started).
-- Inputs: invoices, match_allocations, payments, work_runs. Parameters: $end (DATE, exclusive).
-- Columns: category, break_key (creditor:invoice_number), first_seen (the due date), and the discrepancy columns.
-- Paid invoices are dropped before the latest export of each is picked (an invoice's rows are all paid or all not):
-- the window then runs over the few unpaid rows, not over every invoice row ever exported.
WITH paid AS (
    SELECT DISTINCT a.creditor, a.invoice_number
    FROM match_allocations a JOIN work_runs r USING (run_id)
    LEFT JOIN payments p ON p.run_id = a.run_id AND p.payment_key = a.payment_key
    WHERE coalesce(p.booking_date, CAST(r.started_at AS DATE)) < $end
),
latest AS (
    SELECT * FROM invoices i
    WHERE i.run_id IN (SELECT run_id FROM work_runs)
      AND NOT EXISTS (SELECT 1 FROM paid p WHERE p.creditor = i.creditor AND p.invoice_number = i.invoice_number)
    QUALIFY row_number() OVER (PARTITION BY creditor, invoice_number ORDER BY run_id DESC) = 1
)
SELECT 'unpaid_invoice' AS category, l.creditor || ':' || l.invoice_number AS break_key, l.due_date AS first_seen,
       'warning' AS severity, l.source_file, l.source_line, l.kid AS reference, l.invoice_number,
       NULL::BIGINT AS amount_minor, l.currency, l.amount_minor AS expected_minor, NULL AS api, NULL AS api_status,
       'due ' || CAST(l.due_date AS VARCHAR) || ', nothing paid' AS detail, NULL AS stable_key
FROM latest l
WHERE l.due_date < $end AND l.amount_minor > 0
ORDER BY l.creditor, l.invoice_number
