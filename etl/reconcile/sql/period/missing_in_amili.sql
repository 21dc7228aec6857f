-- missing_in_amili: an item Amili confirmed to us before the end of the period, of an API and creditor that was read
-- back ($scope: 'api|creditor' strings), but not in what Amili returned.
-- Inputs: outbox, amili_readback. Parameters: $period (YYYY-MM), $end (DATE, exclusive), $scope (VARCHAR[]).
-- Columns: category, break_key, first_seen, and the discrepancy columns.
SELECT 'missing_in_amili' AS category, o.api || ':' || o.key AS break_key, CAST(o.updated_at AS DATE) AS first_seen,
       'error' AS severity, o.source_file, o.source_line, o.reference, o.invoice_number, o.amount_minor, o.currency,
       NULL::BIGINT AS expected_minor, o.api, CAST(o.http_status AS VARCHAR) AS api_status,
       'confirmed ' || CAST(CAST(o.updated_at AS DATE) AS VARCHAR) || coalesce(' as ' || o.amili_id, '')
           || ', not found when read back' AS detail, o.key AS stable_key
FROM outbox o
WHERE list_contains($scope, o.api || '|' || o.creditor) AND o.state = 'confirmed' AND o.updated_at < $end
  AND NOT EXISTS (SELECT 1 FROM amili_readback r WHERE r.period = $period AND r.api = o.api AND r.key = o.key)
ORDER BY o.api, o.key
