-- amili-etl state database, migration 0009: the amounts of a payment's extra references.
-- payments.extra_reference_amounts: parallel to extra_references (same order and count), ';'-joined signed integer
-- minor units with an explicit sign ('+120000;-30000'); '-' marks a reference the payer deducted (BgMax TK23), also
-- when its amount is 0 (the post gives none). Only BgMax fills it; NULL when none.

ALTER TABLE payments ADD COLUMN extra_reference_amounts VARCHAR;

-- The payer's own breakdown of a payment by its extra references, e.g. '7495575 +1000.00; 74450 -500.00' (TK22 +,
-- TK23 - deducted): it explains an under- or overpayment in a discrepancy's detail and the Matched sheet.
-- NULL when no reference has an amount.
CREATE OR REPLACE MACRO payer_breakdown(refs, amounts) AS
    CASE WHEN regexp_matches(amounts, '[1-9]') THEN array_to_string(list_transform(
        list_zip(string_split(refs, ';'), string_split(amounts, ';')),
        lambda x: x[1] || ' ' || left(x[2], 1) || money_text(abs(CAST(x[2] AS BIGINT)))), '; ') END;
