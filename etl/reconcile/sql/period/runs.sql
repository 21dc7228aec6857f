-- period runs: the work runs (work_runs.sql) that belong to the period: they read a payment booked in it or an
-- invoice due in it, or started in it. A December run that imported November's bank file is a run of November.
-- `superseded`: the run did not finish, but a later rerun of it (`amili-etl rerun`) finished; it then no longer
-- makes the month incomplete. So is a run whose only unfinished work was bank files held back for broken control
-- totals (exit 3, no file unreadable or empty, no invoice file held back) once every payment held back in it has been
-- read since by a work run that finished: the bank's corrected file, under whatever name (a rerun of the run itself
-- would read the broken file again).
-- Inputs: work_runs, payments, invoices, files, run_meta. Parameters: $start, $end (DATE, end exclusive).
-- Columns: run_id, started_at, mode, status, exit_code, payments_booked, invoices_due, superseded.
WITH p AS (
    SELECT run_id, count(*) AS n FROM payments WHERE booking_date >= $start AND booking_date < $end GROUP BY run_id
),
i AS (
    SELECT run_id, count(*) AS n FROM invoices WHERE due_date >= $start AND due_date < $end GROUP BY run_id
),
held AS (  -- the payments held back by runs that stopped at exit 3, and whether a finished run has read each since
    SELECT h.run_id, bool_and(EXISTS (
               SELECT 1 FROM payments q JOIN work_runs w ON w.run_id = q.run_id
               WHERE q.payment_key = h.payment_key AND NOT q.held_back AND q.run_id > h.run_id
                 AND w.status IN ('clean', 'discrepancies', 'nothing_new'))) AS all_read
    FROM payments h JOIN work_runs r ON r.run_id = h.run_id AND r.exit_code = 3
    WHERE h.held_back
    GROUP BY h.run_id
),
corrected AS (
    SELECT held.run_id FROM held
    WHERE held.all_read AND NOT EXISTS (
        SELECT 1 FROM files f WHERE f.run_id = held.run_id
          AND (f.status NOT IN ('ok', 'rejected_rows', 'held_back') OR (f.status = 'held_back' AND f.kind <> 'payments')))
)
SELECT r.run_id, r.started_at, r.mode, r.status, r.exit_code, coalesce(p.n, 0) AS payments_booked,
       coalesce(i.n, 0) AS invoices_due,
       EXISTS (SELECT 1 FROM run_meta m JOIN work_runs w USING (run_id)
               WHERE m.rerun_of = r.run_id AND w.status IN ('clean', 'discrepancies'))
       OR r.run_id IN (SELECT run_id FROM corrected) AS superseded
FROM work_runs r LEFT JOIN p USING (run_id) LEFT JOIN i USING (run_id)
WHERE p.n > 0 OR i.n > 0 OR (r.started_at >= $start AND r.started_at < $end)
ORDER BY r.run_id
