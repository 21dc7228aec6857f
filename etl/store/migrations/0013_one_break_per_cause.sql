-- amili-etl state database, migration 0013: what the reconciliation questions share about deliveries.

-- The payment deliveries a run planned (ARM payment reservations and autopostings, Collection payments, ADA creditor
-- payments), one row per (api, key), with the state Amili's answer left the item in (`answer`: 'conflict' when
-- the key was planned with other data; the run's action, e.g. 'dry_run', for an item that never reached the outbox).
CREATE OR REPLACE MACRO payment_deliveries(run) AS TABLE
    SELECT r.api, r.key, r.action, o.state,
           CASE WHEN r.action = 'conflict' THEN 'conflict' ELSE coalesce(o.state, r.action) END AS answer
    FROM run_items r LEFT JOIN outbox o ON o.api = r.api AND o.key = r.key
    WHERE r.run_id = run AND r.api IN ('arm.paymentreservations', 'arm.autopostings', 'collection.payments',
                                       'ada.creditor-payments');

-- An overpayment Amili settled only up to what was open on the invoice (ADA settles at most the case's
-- outstanding; Collection may too): the overpayment's own consequence, so one break (overpayment, its detail
-- saying what Amili settled), never a second settled_amount_mismatch. `open_minor`: what was open when the payment
-- was matched (matches.outstanding_minor).
CREATE OR REPLACE MACRO settled_what_was_open(sent_minor, settled_minor, open_minor) AS
    open_minor IS NOT NULL AND sent_minor > open_minor AND settled_minor = open_minor;
