"""Bankgirot BgMax: the public example files, deductions, extra references, currencies, checks."""

from __future__ import annotations

import datetime as dt

import polars as pl

from etl.sources.base import PAYMENT_SCHEMA

from .conftest import DATA

BG = DATA / "bgmax"
OFFICIAL = BG / "bankgiroinbetalningar_exempelfil_avtal-om-ocr-kontroll_checksiffra_langd_sv.txt"


def test_bgmaxfil4_crlf_deposits_and_currencies(read):
    r = read(BG / "BgMaxfil4.txt")
    assert (r.status, r.format, r.kind, r.message) == ("ok", "bgmax", "payments", "")
    assert r.rows.schema == pl.Schema(PAYMENT_SCHEMA)
    assert r.rows.height == 9
    by_currency = dict(r.rows.group_by("currency").agg(pl.col("amount_minor").sum()).iter_rows())
    assert by_currency == {"SEK": 860_000, "EUR": 400_000}  # TK15: 3700+2000+2900 SEK, 4000 EUR
    assert set(r.rows["account"]) == {"9912346"}  # TK05 receiving bankgiro, leading zeros stripped
    assert set(r.rows["booking_date"]) == {dt.date(2004, 5, 25)}  # TK15 payment date
    assert r.control["declared_count"] == r.control["computed_count"] == 9


def test_bgmaxfil4_first_payment_fields(read):
    first = read(BG / "BgMaxfil4.txt").rows.row(0, named=True)
    assert first["source_line"] == 3
    assert first["amount_minor"] == 180_000
    assert first["reference"] is None  # blank reference field (the OCR numbers are in TK22)
    assert first["payer_name"] == "Kalles Plåt AB"  # TK26, ISO-8859-1
    assert first["payer_account"] == "3783511"  # sender bankgiro
    assert first["bank_ref"] == "000120000018"  # BGC serial number
    # Receiving bankgiro, deposit date and serial (TK15), BGC serial.
    assert first["payment_key"] == "BGC-9912346-20040525-00056-000120000018"
    assert first["message"] == "Betalning med extra refnr 665869 657775 665661 665760"  # TK25
    assert first["extra_references"] == "665760;665869;665661;657775"  # TK22, in file order
    assert first["payer_address"] == "Storgatan 2, 12345 Storåker"  # TK27 + TK28
    assert first["payer_org_number"] == "005500001234"  # TK29


def test_bgmax_keys_are_unique_across_deposits(read):
    """The BGC serial repeats across deposits (000000000019 in the first SEK and the EUR deposit of BgMaxfil4)
    and, in Bankgirot's example, within one deposit: the key still tells every payment apart."""
    rows = read(BG / "BgMaxfil4.txt").rows
    assert rows["bank_ref"].n_unique() < rows.height
    assert rows["payment_key"].n_unique() == rows.height
    assert rows.filter(pl.col("bank_ref") == "000000000019")["payment_key"].to_list() == [
        "BGC-9912346-20040525-00056-000000000019",
        "BGC-9912346-20040525-00059-000000000019",
    ]
    official = read(OFFICIAL).rows
    twins = official.filter(pl.col("bank_ref") == "000000000016")["payment_key"].to_list()
    assert twins == ["BGC-9912346-20040525-00075-000000000016", "BGC-9912346-20040525-00075-000000000016-2"]
    assert official["payment_key"].n_unique() == official.height
    # Stable: the same file read again gives the same keys.
    assert read(OFFICIAL).rows["payment_key"].to_list() == official["payment_key"].to_list()


def test_bgmaxfil4_extra_references_incl_tk23(read):
    rows = read(BG / "BgMaxfil4.txt").rows
    row = rows.filter(pl.col("source_line") == 41).row(0, named=True)
    assert row["extra_references"] == "7495575;695668;8988777;74450"  # TK22 x3 and a TK23
    assert row["message"] is None
    eur = rows.filter(pl.col("currency") == "EUR").row(0, named=True)
    assert eur["reference"] == "8012577,8013575"  # free text, left-aligned
    assert eur["message"] == "Faktura8014573"
    assert eur["extra_references"] == "8012577;8013575;8014573"


def test_official_example_short_lines_tabs_and_deduction(read):
    r = read(OFFICIAL)
    assert r.status == "ok", r.message
    assert r.rows.height == 9
    deduction = r.rows.filter(pl.col("amount_minor") < 0).row(0, named=True)
    assert (deduction["source_line"], deduction["amount_minor"], deduction["reference"]) == (8, -50_000, "89853")
    # Deposit 1: 1000 - 500 + 1400 = 1900 SEK, as its TK15 says.
    first_deposit = r.rows.filter(pl.col("source_line") < 23)
    assert first_deposit["amount_minor"].sum() == 190_000
    # The TK22 with TABs and the short TK22 lines still give their references.
    tabbed = r.rows.filter(pl.col("source_line") == 13).row(0, named=True)
    assert tabbed["message"] == "Betalning med extra refnr 657965"
    assert tabbed["extra_references"] == "657866;658765;657767;657965"
    two_texts = r.rows.filter(pl.col("source_line") == 40).row(0, named=True)
    assert two_texts["message"] == "Faktura 658369 Faktura 658468"
    assert two_texts["extra_references"] == "658369;658468"
    assert r.problems.height == 0


def test_minimal(read):
    r = read(BG / "minimal.txt")
    assert r.status == "ok" and r.rows.height == 1
    row = r.rows.row(0, named=True)
    assert (row["amount_minor"], row["currency"], row["reference"], row["payer_name"]) == (
        110_000,
        "SEK",
        "650861",
        None,
    )
    assert r.raw.columns == ["source_line", "record"] and r.raw.height == 5


def _lines(path):
    return path.read_bytes().decode("latin-1").splitlines()


def test_deposit_that_does_not_tie_is_held_back(read, tmp_path):
    lines = _lines(BG / "BgMaxfil4.txt")
    lines[13] = lines[13][:37] + "000000000000190001" + lines[13][55:]  # 1900.00 -> 1900.01 in deposit 1
    bad = tmp_path / "bg_bad.txt"
    bad.write_bytes("\r\n".join(lines).encode("latin-1"))
    r = read(bad)
    assert r.status == "held_back" and r.rows.height == 9
    assert "line 19: deposit (TK15) does not tie: declared 2 payments, 3700.00 SEK; computed 2, 3700.01" in r.message


def test_end_counts_that_do_not_tie_are_held_back(read, tmp_path):
    lines = _lines(BG / "minimal.txt")
    lines[4] = "7000000002" + lines[4][10:]
    bad = tmp_path / "bg_tk70.txt"
    bad.write_bytes("\n".join(lines).encode("latin-1"))
    r = read(bad)
    assert r.status == "held_back"
    assert (
        "line 5: end post (TK70) counts do not tie: declared TK20 2, TK21 0, TK22/23 0, TK15 1; counted 1, 0, 0, 1"
        in r.message
    )


def test_truncated_bgmax_is_held_back(read, tmp_path):
    lines = _lines(BG / "BgMaxfil4.txt")
    cut = tmp_path / "bg_cut.txt"
    cut.write_bytes("\n".join(lines[:30]).encode("latin-1"))
    r = read(cut)
    assert r.status == "held_back"
    assert "line 30: the file ends without an end post (TK70): truncated?" in r.message


def test_payment_outside_a_deposit_is_unreadable(read, tmp_path):
    lines = _lines(BG / "minimal.txt")
    bad = tmp_path / "bg_order.txt"
    bad.write_bytes("\n".join([lines[0], lines[2], lines[1], lines[3], lines[4]]).encode("latin-1"))
    r = read(bad)
    assert r.status == "unreadable"
    assert r.message == f"{bad}: line 2: TK20: payment outside a deposit (no TK05 before it)"


def test_orphan_and_unknown_posts_are_row_problems(read, tmp_path):
    lines = _lines(BG / "minimal.txt")
    lines.insert(2, "25Text before any payment")
    lines.insert(4, "99something new")
    f = tmp_path / "bg_odd.txt"
    f.write_bytes("\n".join(lines).encode("latin-1"))
    r = read(f)
    assert r.status == "ok" and r.rows.height == 1
    assert r.problems["source_line"].to_list() == [3, 5]
    assert r.problems["error_message"].to_list() == [
        "TK25 does not follow a payment (TK20/21): ignored",
        "unknown transaction code 99: ignored",
    ]


def test_blank_tk05_currency_comes_from_its_tk15_not_the_previous_deposit(read, tmp_path):
    lines = _lines(BG / "BgMaxfil4.txt")
    assert lines[50].startswith("05") and lines[50][22:25] == "EUR"
    lines[50] = lines[50][:22] + "   " + lines[50][25:]
    f = tmp_path / "bg_cur.txt"
    f.write_bytes("\r\n".join(lines).encode("latin-1"))
    rows = read(f).rows
    assert rows.filter(pl.col("source_line") > 51)["currency"].to_list() == ["EUR", "EUR"]
