-- control totals: per file, per booking day and per run, incoming payments as read (file total) against what was
-- planned for Amili, delivered and accepted; net break = file - accepted, gross break = the sum of each row's absolute
-- difference (a +100 and a -100 do not cancel), explained = the part of the gross break carried by rows that have a
-- discrepancy of this run (unmatched, duplicate, pending, ...), that the creditor's config sends nowhere, or that a
-- dry run would have sent;
-- unexplained must be 0. A duplicate sighting counts in its file's total and breaks (explained by duplicate_payment).
-- Inputs: payments, matches, run_items, outbox, discrepancies. Parameter: $run_id.
-- Columns: level (file | day | run), scope, currency, rows, file_total_minor, planned_total_minor,
-- delivered_total_minor, accepted_total_minor, net_break_minor, gross_break_minor, explained_minor, unexplained_minor.
WITH pay AS (
    SELECT p.payment_key, p.source_file, p.booking_date, p.currency, p.amount_minor, p.duplicate_of
    FROM payments p
    WHERE p.run_id = $run_id AND NOT p.held_back AND p.amount_minor > 0
),
item AS (  -- the payment's delivery items of this run, if planned: one, or one per invoice ('<payment key>:<ref>')
    SELECT split_part(r.key, ':', 1) AS key, sum(o.amount_minor) AS amount_minor,
           sum(CASE WHEN o.state IN ('sent', 'acknowledged', 'confirmed') THEN o.amount_minor ELSE 0 END) AS delivered_minor,
           sum(CASE WHEN o.state = 'confirmed' THEN coalesce(o.settled_minor, o.amount_minor) ELSE 0 END) AS accepted_minor
    FROM run_items r JOIN outbox o ON o.api = r.api AND o.key = r.key
    WHERE r.run_id = $run_id AND r.api IN ('arm.paymentreservations', 'arm.autopostings', 'collection.payments',
                                          'ada.creditor-payments')
    GROUP BY 1
),
flagged AS (  -- rows a discrepancy explains, and matched payments the creditor's config sends nowhere
    SELECT split_part(stable_key, ':', 1) AS stable_key FROM discrepancies WHERE run_id = $run_id AND stable_key IS NOT NULL
    UNION
    SELECT payment_key FROM matches WHERE run_id = $run_id AND target IS NULL
      AND rule IN ('reference', 'invoice_number', 'multi_invoice', 'amount_name')
    UNION  -- a dry run sends nothing by design: what it would deliver is not a break
    SELECT key FROM run_items WHERE run_id = $run_id AND action = 'dry_run'
),
row_totals AS (
    SELECT pay.*,
           coalesce(item.amount_minor, 0) AS planned_minor, coalesce(item.delivered_minor, 0) AS delivered_minor,
           coalesce(item.accepted_minor, 0) AS accepted_minor,
           flagged.stable_key IS NOT NULL AS explained
    -- A duplicate sighting shares the first one's key: only the first sighting carries the delivery.
    FROM pay LEFT JOIN item ON item.key = pay.payment_key AND pay.duplicate_of IS NULL LEFT JOIN flagged ON flagged.stable_key = pay.payment_key
),
levels AS (
    SELECT 'file' AS level, source_file AS scope, * FROM row_totals
    UNION ALL SELECT 'day', CAST(booking_date AS VARCHAR), * FROM row_totals
    UNION ALL SELECT 'run', $run_id, * FROM row_totals
)
SELECT level, scope, currency, count(*) AS rows,
       CAST(sum(amount_minor) AS BIGINT) AS file_total_minor, CAST(sum(planned_minor) AS BIGINT) AS planned_total_minor,
       CAST(sum(delivered_minor) AS BIGINT) AS delivered_total_minor, CAST(sum(accepted_minor) AS BIGINT) AS accepted_total_minor,
       CAST(sum(amount_minor - accepted_minor) AS BIGINT) AS net_break_minor,
       CAST(sum(abs(amount_minor - planned_minor) + abs(planned_minor - delivered_minor) + abs(delivered_minor - accepted_minor)) AS BIGINT) AS gross_break_minor,
       CAST(sum(CASE WHEN explained THEN abs(amount_minor - planned_minor) + abs(planned_minor - delivered_minor)
                                    + abs(delivered_minor - accepted_minor) ELSE 0 END) AS BIGINT) AS explained_minor,
       CAST(sum(CASE WHEN explained THEN 0 ELSE abs(amount_minor - planned_minor) + abs(planned_minor - delivered_minor)
                                          + abs(delivered_minor - accepted_minor) END) AS BIGINT) AS unexplained_minor
FROM levels
GROUP BY level, scope, currency
ORDER BY CASE level WHEN 'file' THEN 1 WHEN 'day' THEN 2 ELSE 3 END, scope, currency
