-- period runs: the work runs (work_runs.sql) that belong to the period: they read a payment booked in it or an
-- invoice due in it, or started in it. A December run that imported November's bank file is a run of November.
-- `superseded`: the run did not finish, but a later rerun of it (`amili-etl rerun`) finished; it then no longer
-- makes the month incomplete.
-- Inputs: work_runs, payments, invoices, run_meta. Parameters: $start, $end (DATE, end exclusive).
-- Columns: run_id, started_at, mode, status, exit_code, payments_booked, invoices_due, superseded.
WITH p AS (
    SELECT run_id, count(*) AS n FROM payments WHERE booking_date >= $start AND booking_date < $end GROUP BY run_id
),
i AS (
    SELECT run_id, count(*) AS n FROM invoices WHERE due_date >= $start AND due_date < $end GROUP BY run_id
)
SELECT r.run_id, r.started_at, r.mode, r.status, r.exit_code, coalesce(p.n, 0) AS payments_booked,
       coalesce(i.n, 0) AS invoices_due,
       EXISTS (SELECT 1 FROM run_meta m JOIN work_runs w USING (run_id)
               WHERE m.rerun_of = r.run_id AND w.status IN ('clean', 'discrepancies')) AS superseded
FROM work_runs r LEFT JOIN p USING (run_id) LEFT JOIN i USING (run_id)
WHERE p.n > 0 OR i.n > 0 OR (r.started_at >= $start AND r.started_at < $end)
ORDER BY r.run_id
