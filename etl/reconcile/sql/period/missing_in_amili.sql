-- missing_in_amili: an item Amili confirmed to us, of an API and creditor that was read back ($scope: 'api|creditor'
-- strings), but not in what Amili returned. An item belongs to the period when Amili confirmed it before the end of
-- the period, or when what it carries is of the period or earlier (whenever it was sent): a payment booked before
-- the end (its source row in the run that first planned it), an invoice dated before the end. November's bank file
-- imported and delivered on 6 December is checked at November's month-end.
-- Inputs: outbox, amili_readback, payments, invoices. Parameters: $period (YYYY-MM), $end (DATE, exclusive),
-- $scope (VARCHAR[]).
-- Columns: category, break_key, first_seen, and the discrepancy columns.
WITH lost AS (
    SELECT o.* FROM outbox o
    WHERE list_contains($scope, o.api || '|' || o.creditor) AND o.state = 'confirmed'
      AND NOT EXISTS (SELECT 1 FROM amili_readback r WHERE r.period = $period AND r.api = o.api AND r.key = o.key)
)
SELECT 'missing_in_amili' AS category, o.api || ':' || o.key AS break_key, CAST(o.updated_at AS DATE) AS first_seen,
       'error' AS severity, o.source_file, o.source_line, o.reference, o.invoice_number, o.amount_minor, o.currency,
       NULL::BIGINT AS expected_minor, o.api, CAST(o.http_status AS VARCHAR) AS api_status,
       'confirmed ' || CAST(CAST(o.updated_at AS DATE) AS VARCHAR) || coalesce(' as ' || o.amili_id, '')
           || ', not found when read back' AS detail, o.key AS stable_key
FROM lost o
WHERE o.updated_at < $end
   OR EXISTS (SELECT 1 FROM payments p WHERE p.run_id = o.first_run_id AND p.source_file = o.source_file
                AND p.source_line = o.source_line AND p.booking_date < $end)
   OR EXISTS (SELECT 1 FROM invoices v WHERE v.run_id = o.first_run_id AND v.source_file = o.source_file
                AND v.source_line = o.source_line AND coalesce(v.invoice_date, v.due_date) < $end)
ORDER BY o.api, o.key
