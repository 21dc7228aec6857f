"""one_break_per_cause.sql through reconcile_run: a payment several questions flag is one row, under the category
that wins by the documented precedence, with the others named in its detail; every payment counts once."""

from __future__ import annotations

from typing import Any

from etl.reconcile.runner import reconcile_run
from tests.reconcile.support import RUN, match, outbox, payment

ARM = "arm.paymentreservations"
ADA = "ada.creditor-payments"


def _paid(store, key: str, line: int, amount: int, open_: int, *, bad_kid: bool = False, target: str | None = ARM,
          currency: str = "NOK", invoice_currency: str = "NOK") -> None:
    """A payment matched to an invoice with `open_` open (a failing check digit when `bad_kid`)."""
    payment(store, key, source_line=line, amount_minor=amount, currency=currency, reference=f"ref{line}",
            reference_valid=False if bad_kid else True)
    match(store, key, "reference" if not bad_kid else "invoice_number", invoice_number=f"inv{line}",
          outstanding_minor=open_, invoice_currency=invoice_currency, target=target, evidence="invoice number in text")


def _rows(store) -> dict[str, dict[str, Any]]:
    found = reconcile_run(store, RUN)
    keys = found.get_column("stable_key").to_list()
    assert len(keys) == len(set(keys)), "a payment counted twice"
    return {r["stable_key"]: r for r in found.to_dicts()}


def test_every_pair_that_can_co_occur(store) -> None:
    # invalid_reference + unmatched -> unmatched_payment, noting the check digit
    payment(store, "nomatch", source_line=1, reference="ref1", reference_valid=False)
    match(store, "nomatch", "none")
    # invalid_reference + ambiguous -> ambiguous_match
    payment(store, "two", source_line=2, reference="ref2", reference_valid=False)
    match(store, "two", "ambiguous", candidates="1, 2")
    # invalid_reference + underpayment, confirmed -> underpayment, with Amili's answer
    _paid(store, "under", 3, 4_000, 10_000, bad_kid=True)
    outbox(store, "under", "confirmed", api=ARM, amount_minor=4_000, source_line=3)
    # invalid_reference + currency_mismatch (not sent) -> currency_mismatch
    _paid(store, "eur", 4, 9_900, 9_900, bad_kid=True, target=None, currency="EUR", invoice_currency="NOK")
    # overpayment + rejected -> rejected, noting the overpayment
    _paid(store, "refused", 5, 12_000, 10_000)
    outbox(store, "refused", "rejected", api=ARM, amount_minor=12_000, http_status=422, message="case closed",
           source_line=5)
    # underpayment + pending -> underpayment, noting that Amili has not answered (api_status the state)
    _paid(store, "waiting", 6, 5_000, 10_000)
    outbox(store, "waiting", "sent", api=ARM, amount_minor=5_000, source_line=6)
    # overpayment ADA settled up to what was open -> overpayment, noting what Amili settled
    _paid(store, "ada", 7, 10_000, 8_000, target=ADA)
    outbox(store, "ada", "confirmed", api=ADA, amount_minor=10_000, settled_minor=8_000, http_status=201, source_line=7)
    # invalid_reference + rejected (exact amount) -> rejected, noting the check digit
    _paid(store, "bad-refused", 8, 10_000, 10_000, bad_kid=True)
    outbox(store, "bad-refused", "rejected", api=ARM, http_status=422, message="no such document", source_line=8)
    # invalid_reference alone (matched by other evidence, exact, confirmed): stays invalid_reference, with the answer
    _paid(store, "alone", 9, 10_000, 10_000, bad_kid=True)
    outbox(store, "alone", "confirmed", api=ARM, source_line=9)
    # pending alone stays pending
    _paid(store, "slow", 10, 10_000, 10_000)
    outbox(store, "slow", "unknown", api=ARM, source_line=10)

    rows = _rows(store)
    got = {k: (r["category"], r["detail"], r["api"], r["api_status"]) for k, r in rows.items()}
    assert got == {
        "nomatch": ("unmatched_payment", "no open invoice matches the reference or the text; also: reference ref1 fails "
                    "its check digit", None, None),
        "two": ("ambiguous_match", "candidates: 1, 2; also: reference ref2 fails its check digit", None, None),
        "under": ("underpayment", "matched by invoice_number; expected = what was open before this payment; also: "
                  "reference ref3 fails its check digit", ARM, "confirmed"),
        "eur": ("currency_mismatch", "invoice is in NOK; also: reference ref4 fails its check digit", None, None),
        "refused": ("rejected", "case closed; also: overpayment: paid 120.00, 100.00 was open", ARM, "422"),
        "waiting": ("underpayment", "matched by reference; expected = what was open before this payment; also: no final "
                    "answer from Amili yet (sent)", ARM, "sent"),
        "ada": ("overpayment", "matched by reference; expected = what was open before this payment; also: Amili "
                "settled 80.00 of 100.00 sent, what was open on the invoice", ADA, "confirmed"),
        "bad-refused": ("rejected", "no such document; also: reference ref8 fails its check digit", ARM, "422"),
        "alone": ("invalid_reference", "check digit fails; matched by invoice number in text", ARM, "confirmed"),
        "slow": ("pending", "no final answer from Amili yet", ARM, "unknown"),
    }
    # The winner keeps its own amounts: an overpayment's difference is still the over part.
    assert (rows["ada"]["amount_minor"], rows["ada"]["expected_minor"], rows["ada"]["difference_minor"]) == (
        10_000, 8_000, 2_000)


def test_a_duplicate_sighting_keeps_its_own_row(store) -> None:
    # Same key twice in the run: the first is unmatched, the second a duplicate; both rows stay.
    payment(store, "k", source_line=1)
    payment(store, "k", source_line=2, duplicate_of="bank.txt:1")
    match(store, "k", "none")
    found = reconcile_run(store, RUN)
    assert sorted(found.select("category", "source_line").rows()) == [("duplicate_payment", 2), ("unmatched_payment", 1)]
