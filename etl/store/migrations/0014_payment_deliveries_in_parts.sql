-- amili-etl state database, migration 0014: payment_deliveries per payment, also for a payment delivered in parts.

-- A payment whose remittance names several invoices with amounts is delivered once per invoice (docs/matching.md
-- "The payer's breakdown"), one outbox item per part keyed '<payment key>:<reference>' (a payment key never holds
-- a ':'). The reconciliation questions join a payment to its delivery on the payment key: the parts are one delivery
-- of the payment here, under that key, with the answer that needs a person first: 'conflict', then 'rejected', then
-- any answer but 'confirmed' (a part still open), else 'confirmed'. A payment delivered whole is one row per run
-- item, as before (a key the run planned twice still shows twice).
CREATE OR REPLACE MACRO payment_deliveries(run) AS TABLE
    WITH item AS (
        SELECT r.api, r.key, r.action, o.state,
               CASE WHEN r.action = 'conflict' THEN 'conflict' ELSE coalesce(o.state, r.action) END AS answer
        FROM run_items r LEFT JOIN outbox o ON o.api = r.api AND o.key = r.key
        WHERE r.run_id = run AND r.api IN ('arm.paymentreservations', 'arm.autopostings', 'collection.payments',
                                           'ada.creditor-payments')
    )
    SELECT api, key, action, state, answer FROM item WHERE NOT contains(key, ':')
    UNION ALL
    SELECT api, split_part(key, ':', 1) AS key,
           coalesce(min(action) FILTER (WHERE action <> 'skipped_confirmed'), min(action)) AS action,
           coalesce(min(state) FILTER (WHERE state <> 'confirmed'), min(state)) AS state,
           CASE WHEN bool_or(answer = 'conflict') THEN 'conflict'
                WHEN bool_or(answer = 'rejected') THEN 'rejected'
                ELSE coalesce(min(answer) FILTER (WHERE answer <> 'confirmed'), min(answer)) END AS answer
    FROM item WHERE contains(key, ':')
    GROUP BY api, split_part(key, ':', 1);
