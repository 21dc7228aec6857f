-- statement balances: every bank statement of the work runs (camt.053, MT940) with opening + movements = closing,
-- and each statement's opening = the previous statement's closing of the same account (no gap between statements).
-- Inputs: statement_balances, work_runs (work_runs.sql). Parameters: $start, $end (DATE, end exclusive).
-- Columns: account, currency, statement_id, source_file, source_line, opening_date, closing_date, opening_minor,
-- entries_minor, closing_minor, previous_closing_minor, balance_break_minor, gap_minor.
WITH s AS (
    SELECT DISTINCT b.account, b.currency, b.statement_id, b.source_file, b.source_line, b.opening_date, b.closing_date,
           b.opening_minor, b.entries_minor, b.closing_minor
    FROM statement_balances b JOIN work_runs r USING (run_id)
    WHERE coalesce(b.closing_date, b.opening_date, CAST(r.started_at AS DATE)) >= $start
      AND coalesce(b.closing_date, b.opening_date, CAST(r.started_at AS DATE)) < $end
)
SELECT *, opening_minor + entries_minor - closing_minor AS balance_break_minor,
       opening_minor - previous_closing_minor AS gap_minor
FROM (
    SELECT s.*, lag(closing_minor) OVER (PARTITION BY account, currency ORDER BY closing_date, opening_date, statement_id)
               AS previous_closing_minor
    FROM s
)
ORDER BY account, currency, closing_date, statement_id
