"""MT940: the public samples through the mt-940 package, per-statement balance checks, :86: text kept."""

from __future__ import annotations

import datetime as dt

import polars as pl

from etl.sources.base import BALANCE_SCHEMA, PAYMENT_SCHEMA

from .conftest import DATA

MT = DATA / "mt940"


def test_rabobank_two_statements_that_tie(read):
    r = read(MT / "rabobank-iban.sta")
    assert (r.format, r.kind, r.status, r.message) == ("mt940", "payments", "ok", "")
    assert r.rows.schema == pl.Schema(PAYMENT_SCHEMA)
    assert r.rows["amount_minor"].to_list() == [-2500, -1000, -2500, -1000]
    assert r.rows["source_line"].to_list() == [6, 10, 18, 22]  # each :61: line
    assert set(r.rows["account"]) == {"NL71RABO0123456789"} and set(r.rows["currency"]) == {"EUR"}
    first = r.rows.row(0, named=True)
    assert first["booking_date"] == dt.date(2013, 1, 1)
    # The :86: text, as written (continuation lines joined).
    assert first["message"] == (
        "/EREF/01-01-2013 12:00 0030000987654321/BENM//NAME/CONTRA ACCOUNT HOLDER/REMI//ISDT/2013-07-11"
    )
    assert first["extra_references"] == "EREF"  # the customer reference of :61:
    assert first["payer_account"] == "NL70ABNA0987654321"  # :61: supplementary details
    assert r.rows["payment_key"].n_unique() == 4
    assert r.balances.schema == pl.Schema(BALANCE_SCHEMA)
    assert r.balances.select("opening_minor", "entries_minor", "closing_minor").rows() == [
        (100_000, -3500, 96_500),
        (96_500, -3500, 93_000),
    ]


def test_german_sepa_file_26_statements_with_reversals(read):
    r = read(MT / "sepa_mt9401.sta")
    assert r.status == "ok", r.message
    assert r.control["statements"] == 26 and r.rows.height == 97
    b = r.balances
    assert b.height == 26 and (b["opening_minor"] + b["entries_minor"] == b["closing_minor"]).all()
    # RC (reversal of a credit) subtracts: the first statement ties only that way.
    storno = r.rows.filter(pl.col("source_line") == 19).row(0, named=True)
    assert storno["amount_minor"] == -20_488
    assert storno["message"] == "079?00SAMMLER/STORNO?109800?200904059003"
    # The package parses this bank's :86: into fields; the text is still kept whole.
    first = r.rows.row(0, named=True)
    assert first["message"].startswith("159?00RETOURE?100399?20EREF+TFNR 40005 00005?21MTLG:Grund nicht s")
    assert first["extra_references"] == "0724710345313905"  # the bank reference after //


def test_samples_whose_balances_do_not_tie_are_held_back(read):
    """The anonymised ABN AMRO and ING samples do not add up (checked by hand): held back, rows kept."""
    abn = read(MT / "abnamro.sta")
    assert abn.status == "held_back" and abn.rows.height == 10
    assert abn.message == (
        f"{MT / 'abnamro.sta'}: line 4: statement ABN AMRO BANK NV: balances do not tie: opening 3236.28 + "
        "entries -321.44 = 2914.84, but closing is 876.84; line 32: statement ABN AMRO BANK NV: balances do not "
        "tie: opening 2876.84 + entries -24.49 = 2852.35, but closing is 1849.75"
    )
    ing = read(MT / "ing.sta")
    assert ing.status == "held_back" and ing.rows.height == 7
    assert "opening 0.00 + entries -45.59 = -45.59, but closing is 3.47" in ing.message
    assert ing.rows["account"][0] == "0001234567"


def test_kid_in_the_text_becomes_the_reference(read, tmp_path):
    text = (MT / "rabobank-iban.sta").read_text()
    f = tmp_path / "kid.txt"
    f.write_text(text.replace("/REMI/Reference 201301234/", "/REMI/KID 0000531/", 1))
    r = read(f)
    assert r.rows["reference"].to_list() == [None, "0000531", None, None]


def test_missing_closing_balance_is_held_back(read, tmp_path):
    lines = (MT / "rabobank-iban.sta").read_text().splitlines()
    f = tmp_path / "cut.sta"
    f.write_text("\n".join(lines[:-1]) + "\n")  # the last :62F: is gone
    r = read(f)
    assert r.status == "held_back"
    assert r.message == f"{f}: line 14: statement 940S130101: no closing (:62F:/:62M:) balance: truncated?"


def test_norwegian_iban_account_and_crlf(read, tmp_path):
    text = (MT / "rabobank-iban.sta").read_text().replace("NL71RABO0123456789", "NO9386011117947")
    f = tmp_path / "no.sta"
    f.write_bytes(text.replace("\n", "\r\n").encode("latin-1"))
    r = read(f)
    assert r.status == "ok" and set(r.rows["account"]) == {"86011117947"}
