"""camt.053 / camt.054: the public samples, amounts from the right element, references, balances, versions,
and safe parsing (no DTD, no entities)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from etl.sources.base import BALANCE_SCHEMA, PAYMENT_SCHEMA
from etl.sources.camt import read_camt054
from etl.sources.keys import stable_key

from .conftest import DATA

C53 = DATA / "camt053"
C54 = DATA / "camt054"
INCOMING = C53 / "ISO20022_camt053_extended_SE_incoming_payments_incl_CB_example.xml"
OUTGOING = C53 / "ISO20022_camt053_extended_SE_outgoing_payments_example.xml"
SWEDISH = C53 / "camt_053_swedish_account_statement.xml"
SWISH = C53 / "camt_053_ver_2_extended_se_account_swish_ecommerce.xml"
UK = C53 / "camt_053_ver_2_extended_uk_account.xml"
V2 = C54 / "camt054.v2.xml"


def test_camt054_three_transactions_with_their_references(read):
    r = read(V2)
    assert (r.format, r.kind, r.status) == ("camt054", "payments", "ok")
    assert r.rows.schema == pl.Schema(PAYMENT_SCHEMA)
    assert r.rows.height == 3  # one entry, three TxDtls
    assert r.rows["source_line"].to_list() == [79, 103, 126]  # each TxDtls' own line
    assert r.rows["reference"].to_list() == ["ISR ref number V1", "ISR ref number V2", "Ref number V3 block 1"]
    # Several Strd blocks: the first creditor reference is `reference`, every other one is kept.
    assert r.rows["extra_references"].to_list() == [None, None, "Ref number V3 block 2"]
    third = r.rows.row(2, named=True)
    assert third["message"] == (
        "Unstructured Remittance Information V3 block 1 Unstructured Remittance Information V3 block 2"
    )
    assert set(r.rows["account"]) == {"CH2801234000123456789"}  # Othr/Id, not a number: as written
    assert set(r.rows["booking_date"]) == {dt.date(2007, 10, 18)}  # BookgDt/DtTm
    assert set(r.rows["currency"]) == {"SEK"} and set(r.rows["bank_ref"]) == {"AAAASESS-FP-ACCR001"}
    assert r.rows["payment_key"].n_unique() == 3


def test_camt054_transactions_without_amounts_are_rejected_not_guessed(read):
    """The entry (2000.00 SEK) holds three TxDtls without amounts: no row gets a made-up amount."""
    r = read(V2)
    assert r.rows["amount_minor"].null_count() == 3
    assert r.problems["source_line"].to_list() == [79, 103, 126]
    assert set(r.problems["error_check"]) == {"camt_amount"}
    assert r.problems["error_message"][0] == (
        "transaction has no amount of its own (the entry at line 58 holds 3 transactions, 200000 SEK in all)"
    )


def test_handelsbanken_incoming_bban_invoice_numbers_and_balances(read):
    r = read(INCOMING)
    assert (r.format, r.status, r.message) == ("camt053", "ok", "")
    assert r.rows.height == 7  # 5 entries; one holds three TxDtls
    assert set(r.rows["account"]) == {"123456789"}  # Othr/Id BBAN, no IBAN
    # Invoice numbers from RfrdDocInf (CINV) are kept for matching.
    assert r.rows["extra_references"].drop_nulls().to_list() == ["789789", "789790", "INV 789900"]
    # The foreign payment: InstdAmt is 9790 CZK, the booked TxAmt 3268.60 SEK.
    foreign = r.rows.filter(pl.col("source_line") == 431).row(0, named=True)
    assert (foreign["amount_minor"], foreign["currency"]) == (326_860, "SEK")
    assert r.rows["amount_minor"].sum() == 1_338_460
    bal = r.balances.row(0, named=True)
    assert r.balances.schema == pl.Schema(BALANCE_SCHEMA)
    assert (bal["opening_minor"], bal["entries_minor"], bal["closing_minor"]) == (100_000, 1_338_460, 1_438_460)
    assert bal["opening_minor"] + bal["entries_minor"] == bal["closing_minor"]


def test_outgoing_payments_are_negative_with_the_creditor_as_counterparty(read):
    r = read(OUTGOING)
    assert r.status == "ok" and r.rows.height == 4
    assert (r.rows["amount_minor"] < 0).all()  # DBIT
    first = r.rows.row(0, named=True)
    assert (first["amount_minor"], first["currency"]) == (-1_996_140, "EUR")  # TxAmt, not the SEK entry amount
    assert first["payer_name"] == "CREDITOR NAME" and first["payer_account"] == "SE8990900000098765432100"
    assert r.rows["extra_references"].to_list()[1:] == ["82063373", "8200660705", "44894-7133-196"]


def test_three_statements_each_balanced(read):
    r = read(SWEDISH)
    assert r.status == "ok" and r.rows.height == 5
    assert r.balances["statement_id"].to_list() == ["Statement ID 1", "Statement ID 2", "Statement ID 3"]
    assert r.balances["account"].to_list() == ["123456789", "222333444", "45678910"]
    b = r.balances
    assert (b["opening_minor"] + b["entries_minor"] == b["closing_minor"]).all()
    assert b["entries"].to_list() == [4, 0, 1]
    assert b.row(2, named=True)["opening_minor"] == -9_648_398  # a debit balance is negative
    assert set(r.rows.filter(pl.col("account") == "45678910")["currency"]) == {"NOK"}


def test_swish_statement(read):
    r = read(SWISH)
    assert r.status == "ok" and r.rows.height == 4
    assert r.rows["amount_minor"].to_list() == [2200, 2100, 100, -1500]
    assert r.rows["payer_name"].to_list()[:2] == ["Gustav Gran", "Anna Swish"]


def test_entry_that_does_not_match_its_transaction_holds_the_file_back(read):
    """Handelsbanken's UK example books 1.60 for a transaction of 0.60: the balances tie on the entries, but
    the transaction's own amount does not add up to what was booked."""
    r = read(UK)
    assert r.status == "held_back"
    assert r.message == f"{UK}: line 81: entry amount -1.60 GBP != the sum of its 1 transactions (-0.60)"
    bal = r.balances.row(0, named=True)
    assert bal["opening_minor"] + bal["entries_minor"] == bal["closing_minor"] == 677


def _edit(src: Path, dst: Path, old: str, new: str, count: int = 1) -> Path:
    text = src.read_text(encoding="utf-8")
    assert old in text
    dst.write_text(text.replace(old, new, count), encoding="utf-8")
    return dst


def test_balances_that_do_not_tie_hold_the_file_back(read, tmp_path):
    bad = _edit(SWEDISH, tmp_path / "bad.xml", '<Amt Ccy="SEK">231403.80</Amt>', '<Amt Ccy="SEK">231403.90</Amt>')
    r = read(bad)
    assert r.status == "held_back" and r.rows.height == 5  # rows kept for the report, nothing submitted
    assert (
        "line 8: statement Statement ID 1: balances do not tie: opening 219456.60 + entries 11947.20 = 231403.80, "
        "but closing is 231403.90" in r.message
    )


def test_summary_count_is_checked(read, tmp_path):
    bad = _edit(SWEDISH, tmp_path / "count.xml", "<NbOfNtries>4</NbOfNtries>", "<NbOfNtries>5</NbOfNtries>")
    r = read(bad)
    assert r.status == "held_back" and "TxsSummry says 5 entries; the statement has 4" in r.message


def test_pending_entries_are_rejected_not_dropped(read, tmp_path):
    # A pending entry is not a payment yet, and not in the booked balance: its row is read and rejected.
    text = SWISH.read_text(encoding="utf-8")
    f = tmp_path / "pending.xml"
    f.write_text(text.replace("<Sts>BOOK</Sts>", "<Sts>PDNG</Sts>", 1), encoding="utf-8")
    r = read(f)
    assert r.rows.height == 4 and (r.control["booked_entries"], r.control["not_booked_entries"]) == (3, 1)
    assert r.problems["error_check"].to_list() == ["camt_not_booked"]
    assert r.status == "held_back" and "balances do not tie" in r.message  # the closing balance counted it
    assert r.message.endswith("; 1 of 4 entries not booked (1 PDNG): not delivered, in the rejects file")


@pytest.mark.parametrize("version", ["001.04", "001.06", "001.08"])
def test_later_versions_and_no_namespace_read_the_same(read, tmp_path, version):
    base = read(V2).rows.drop("source_file", "source_sha256", "format")
    f = _edit(V2, tmp_path / f"v{version}.xml", "camt.054.001.02", f"camt.054.{version}")
    assert read(f).rows.drop("source_file", "source_sha256", "format").equals(base)



def test_the_reader_does_not_care_about_namespaces():
    data = V2.read_bytes()
    plain = data.replace(b' xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"', b"")
    prefixed = data.replace(b'xmlns="urn:', b'xmlns:c="urn:').replace(b"<", b"<c:").replace(b"<c:/", b"</c:")
    prefixed = prefixed.replace(b"<c:?xml", b"<?xml")
    expected = read_camt054(V2, data).rows
    assert expected.height == 3
    for variant in (plain, prefixed):
        assert read_camt054(V2, variant).rows.equals(expected)


_V08 = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">
 <BkToCstmrDbtCdtNtfctn>
  <GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-11-20T06:00:00</CreDtTm></GrpHdr>
  <Ntfctn>
   <Id>N1</Id>
   <Acct><Id><IBAN>NO93 8601 1117 947</IBAN></Id></Acct>
   <Ntry>
    <Amt Ccy="NOK">1500.00</Amt>
    <CdtDbtInd>CRDT</CdtDbtInd>
    <Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><Dt>2026-11-19</Dt></BookgDt>
    <AcctSvcrRef>E-1</AcctSvcrRef>
    <NtryDtls>
     <TxDtls>
      <Refs><AcctSvcrRef>T-1</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
      <Amt Ccy="NOK">1000.00</Amt>
      <CdtDbtInd>CRDT</CdtDbtInd>
      <AmtDtls><InstdAmt><Amt Ccy="EUR">85.00</Amt></InstdAmt></AmtDtls>
      <RltdPties><Dbtr><Pty><Nm>Kari Nordmann</Nm></Pty></Dbtr>
       <DbtrAcct><Id><Othr><Id>1234.56.78903</Id></Othr></Id></DbtrAcct></RltdPties>
      <RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>0000531</Ref></CdtrRefInf>
       <RfrdDocInf><Tp><CdOrPrtry><Cd>CINV</Cd></CdOrPrtry></Tp><Nb>F-1001</Nb></RfrdDocInf></Strd></RmtInf>
     </TxDtls>
     <TxDtls>
      <Refs><EndToEndId>E2E-2</EndToEndId></Refs>
      <Amt Ccy="NOK">500.00</Amt>
      <RmtInf><Ustrd>Faktura 1002</Ustrd></RmtInf>
     </TxDtls>
    </NtryDtls>
   </Ntry>
  </Ntfctn>
 </BkToCstmrDbtCdtNtfctn>
</Document>
"""


def test_version_08_fields(read, tmp_path):
    f = tmp_path / "v08.dat"  # any name: detection is by content
    f.write_text(_V08, encoding="utf-8")
    r = read(f)
    assert (r.format, r.status) == ("camt054", "ok"), r.message
    first, second = r.rows.row(0, named=True), r.rows.row(1, named=True)
    assert first["account"] == "86011117947"  # a Norwegian IBAN as its BBAN
    assert (first["amount_minor"], first["currency"]) == (100_000, "NOK")  # TxDtls/Amt, never InstdAmt
    assert first["reference"] == "0000531" and first["extra_references"] == "F-1001"
    assert first["payer_name"] == "Kari Nordmann" and first["payer_account"] == "12345678903"
    assert first["bank_ref"] == "T-1"
    assert first["booking_date"] == dt.date(2026, 11, 19)
    # The key: account, booking date, the bank's reference, reference, amount, occurrence.
    assert first["payment_key"] == stable_key("CAMT", ["86011117947", "2026-11-19", "T-1", "0000531", 100_000, 1])
    assert second["amount_minor"] == 50_000 and second["message"] == "Faktura 1002" and second["bank_ref"] == "E-1"
    assert second["payment_key"] == stable_key("CAMT", ["86011117947", "2026-11-19", "E2E-2", None, 50_000, 1])


def test_entry_sum_mismatch_in_a_notification(read, tmp_path):
    f = tmp_path / "v08bad.xml"
    f.write_text(_V08.replace("<Amt Ccy=\"NOK\">500.00</Amt>", "<Amt Ccy=\"NOK\">499.00</Amt>"), encoding="utf-8")
    r = read(f)
    assert r.status == "held_back"
    assert r.message == f"{f}: line 8: entry amount 1500.00 NOK != the sum of its 2 transactions (1499.00)"


_BOMB = """<?xml version="1.0"?>
<!DOCTYPE Document [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"><BkToCstmrDbtCdtNtfctn><Ntfctn>
<Id>&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;</Id></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>
"""

_XXE = """<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt><Id>S</Id>
<Acct><Id><Othr><Id>1</Id></Othr></Id></Acct>
<Ntry><Amt Ccy="SEK">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><AddtlNtryInf>&secret;</AddtlNtryInf></Ntry>
</Stmt></BkToCstmrStmt></Document>
"""


@pytest.mark.parametrize(("name", "text"), [("bomb.xml", _BOMB), ("xxe.xml", _XXE)])
def test_entity_bombs_and_external_entities_are_refused(read, tmp_path, name, text):
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    r = read(f)
    assert r.status == "unreadable" and r.rows.height == 0
    assert r.message == (
        f"{f}: line 2: XML with a document type declaration (DOCTYPE/ENTITY) is refused: entities are never "
        "expanded or fetched (possible entity bomb or external entity)"
    )


def test_undeclared_entity_and_broken_xml_name_the_line(read, tmp_path):
    f = tmp_path / "undeclared.xml"
    f.write_text(_XXE.replace('<!DOCTYPE Document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n', ""))
    r = read(f)
    assert r.status == "unreadable"
    assert r.message == f"{f}: line 4: not well-formed XML: Entity 'secret' not defined"
    cut = tmp_path / "cut.xml"
    cut.write_bytes(SWEDISH.read_bytes()[:6000])
    r = read(cut)
    assert r.status == "unreadable" and r.message.startswith(f"{cut}: line ") and "not well-formed XML" in r.message


def test_raw_values_as_read_for_the_rejects_file(read):
    r = read(INCOMING)
    assert r.raw.height == r.rows.height
    assert r.raw["source_line"].to_list() == r.rows["source_line"].to_list()
    foreign = r.raw.filter(pl.col("source_line") == 431).row(0, named=True)
    assert (foreign["tx_amount"], foreign["tx_currency"], foreign["entry_amount"]) == ("3268.60", "SEK", "3268.60")
