"""A rejected row keeps what could be read of it (reference, invoice number, amount, currency), and its reject
message quotes the cell that could not be read."""

from __future__ import annotations

from pathlib import Path

from etl.inputs import read_inputs, rejected_rows
from tests.conftest import SAMPLE

HEADER = "invoice_number,customer_number,customer_name,kid,invoice_date,due_date,currency,amount_excl_vat,vat_amount,amount_incl_vat\n"


def test_an_invoice_row_with_an_impossible_date(mappings, tmp_path: Path) -> None:
    f = tmp_path / "invoices_solkraft_2026-11-20.csv"
    f.write_text(HEADER + "705001,773152,Linnea,7050016,2026-10-05,2026-11-04,SEK,3130.70,782.68,3913.38\n"
                 "705002,773152,Linnea,7050024,2026-11-31,2026-12-07,SEK,883.72,220.93,1104.65\n"
                 "705003,773153,Nils,7050032,2026-11-01,2026-12-01,SEK,100.00,25.00,1x5.00\n", encoding="utf-8")
    [outcome] = read_inputs((f,), mappings)
    messages = dict(outcome.rejects.select("source_line", "error_message").iter_rows())
    assert messages == {3: "invoice_date '2026-11-31' is not a date",
                        # the reader quotes the amount cell; no second, vaguer line for the same cell
                        4: "amount_incl_vat '1x5.00' is not an amount: letters or symbols"}
    ident = rejected_rows(outcome).to_dicts()
    assert ident == [
        {"source_line": 3, "kind": "invoices", "booked": True, "reference": "7050024", "invoice_number": "705002",
         "amount_minor": 110_465, "currency": "SEK"},
        {"source_line": 4, "kind": "invoices", "booked": True, "reference": "7050032", "invoice_number": "705003",
         "amount_minor": None, "currency": "SEK"},  # the amount could not be read: left empty, never guessed
    ]


def test_a_bank_row_with_a_bad_date_keeps_its_amount(mappings, tmp_path: Path) -> None:
    lines = (SAMPLE / "no" / "sparebank1_2026-11-20.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    lines.append('"31.11.2026";"Betaling faktura 100099";;"480,00";;"15062995960";"73584051024";\n')
    f = tmp_path / "sparebank1_2026-11-30.csv"
    f.write_text("".join(lines), encoding="utf-8")
    [outcome] = read_inputs((f,), mappings)
    bad = len(lines)
    assert dict(outcome.rejects.select("source_line", "error_message").iter_rows()) == {
        bad: "booking_date '31.11.2026' is not a date"}
    [row] = rejected_rows(outcome).to_dicts()
    # SpareBank 1 has no reference column (a KID in the text is matching's to find): none is made up here.
    assert row == {"source_line": bad, "kind": "payments", "booked": True, "reference": None,
                   "invoice_number": None, "amount_minor": 48_000, "currency": "NOK"}
