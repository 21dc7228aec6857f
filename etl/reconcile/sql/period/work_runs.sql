-- work runs: the runs whose work counts at month-end (reconcile_period makes this the temporary view `work_runs`).
-- A dry run sent nothing. A run that failed or was interrupted before anything went out to Amili (a mistyped path,
-- a missing secret, a configuration error) did no work either: its files count as not imported and the next run
-- reads them again. Such runs never make a month incomplete, and none of their rows (payments, invoices,
-- allocations, discrepancies) is a break. A run sent something when an outbox item it planned last went out after
-- it started (mark_sent stamps sent_at before the request leaves).
-- Inputs: runs, outbox. Parameters: none.
-- Columns: run_id, started_at, mode, status, exit_code.
SELECT r.run_id, r.started_at, r.mode, r.status, r.exit_code
FROM runs r
WHERE r.mode <> 'dry-run'
  AND (r.status NOT IN ('failed', 'interrupted', 'running')
       OR EXISTS (SELECT 1 FROM outbox o WHERE o.last_run_id = r.run_id AND o.sent_at >= r.started_at))
