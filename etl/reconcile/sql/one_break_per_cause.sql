-- one break per cause: a payment that several questions flag is ONE row, under its most specific category; the
-- others are named in its detail ("; also: ..."), so every payment counts once in the totals. Precedence, first wins:
--   1 rejected                  Amili refused it (or the key was planned with other data): the money is not at Amili
--   2 unmatched_payment, ambiguous_match, currency_mismatch
--                               not sent, left for a person (these three exclude each other)
--   3 overpayment, underpayment the payer paid another amount than was open
--   4 settled_amount_mismatch   Amili settled another amount than sent; under an over/underpayment it is a note
--                               ("Amili settled 4960.81 of 5110.81 sent, what was open on the invoice")
--   5 pending                   no final answer yet; under an over/underpayment a note (api_status says the state)
--   6 invalid_reference         the check digit fails: a note on any other row of the payment
-- Why this order: rejected and unmatched/ambiguous/currency say where the money is (not at Amili) and are the
-- breaks that stay open month after month until resolved; an over/underpayment is a fact about the payer that no
-- rerun changes, so it outranks the delivery's own state (pending, settled); a failing check digit explains how a
-- payment was (or was not) matched, it is never the cause on its own when something else is wrong.
-- Left as they are: duplicate_payment (the questions skip duplicate sightings, and it shares its key with the first
-- sighting's own row), rows without a key (invalid_row, control_total_mismatch) and invoice documents.
-- Input: found (the union of the per-run questions, the discrepancy columns; runner.py). Output: the same columns.
SELECT * EXCLUDE (_rank) FROM (
    WITH ranked AS (
        SELECT *, CASE category WHEN 'rejected' THEN 1 WHEN 'unmatched_payment' THEN 2 WHEN 'ambiguous_match' THEN 2
                                WHEN 'currency_mismatch' THEN 2 WHEN 'overpayment' THEN 3 WHEN 'underpayment' THEN 3
                                WHEN 'settled_amount_mismatch' THEN 4 WHEN 'pending' THEN 5
                                WHEN 'invalid_reference' THEN 6 END AS _rank
        FROM found
    ),
    -- Only keys flagged more than once are merged: one grouping over the keys, the rest pass untouched.
    many AS (
        SELECT stable_key FROM ranked WHERE _rank IS NOT NULL GROUP BY stable_key HAVING count(*) > 1
    ),
    crowd AS (
        SELECT r.*, row_number() OVER (PARTITION BY r.stable_key ORDER BY r._rank, r.category) AS _n
        FROM ranked r SEMI JOIN many USING (stable_key)
        WHERE r._rank IS NOT NULL
    ),
    notes AS (
        SELECT stable_key,
               string_agg(CASE category
                              WHEN 'invalid_reference' THEN 'reference ' || coalesce(reference, '') || ' fails its check digit'
                              WHEN 'pending' THEN 'no final answer from Amili yet (' || coalesce(api_status, '?') || ')'
                              WHEN 'settled_amount_mismatch' THEN detail
                              WHEN 'overpayment' THEN 'overpayment: paid ' || money_text(amount_minor) || ', '
                                                      || money_text(expected_minor) || ' was open'
                              WHEN 'underpayment' THEN 'underpayment: paid ' || money_text(amount_minor) || ', '
                                                       || money_text(expected_minor) || ' was open'
                              ELSE category || ': ' || coalesce(detail, '') END, '; ' ORDER BY _n) AS also,
               first(api ORDER BY _n) FILTER (WHERE api IS NOT NULL) AS any_api,
               first(api_status ORDER BY _n) FILTER (WHERE api IS NOT NULL) AS any_status
        FROM crowd
        WHERE _n > 1
        GROUP BY stable_key
    )
    SELECT r.* FROM ranked r ANTI JOIN many USING (stable_key)
    UNION ALL BY NAME
    SELECT r.* FROM ranked r SEMI JOIN many USING (stable_key) WHERE r._rank IS NULL
    UNION ALL BY NAME
    SELECT c.* EXCLUDE (_n, api, api_status, detail),
           coalesce(c.api, n.any_api) AS api, CASE WHEN c.api IS NULL THEN n.any_status ELSE c.api_status END AS api_status,
           coalesce(c.detail || '; also: ', 'also: ') || n.also AS detail
    FROM crowd c JOIN notes n USING (stable_key)
    WHERE c._n = 1
)
