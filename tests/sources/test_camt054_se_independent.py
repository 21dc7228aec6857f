"""An independent reading of Swedish camt.054 Bankgiro notifications, written here from the banks' published
implementation guides (not from tests/sources/camt054_se.py): per bank structure, .001.02 and .001.08, default and
prefixed namespaces, bankgiro (BGNR as code or proprietary) and IBAN accounts, OCR as SCOR or proprietary, several
Strd per transaction with amounts and credit notes, batch entries, debit, reversed and unbooked entries, and
amounts that are not ISO 20022 amounts. Every row's fields are stated by hand beside the XML that carries them."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from etl.sources import read_source

NS02 = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"
NS08 = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"


def _doc(ns: str, body: str, prefix: str = "") -> str:
    """A camt.054 document around `body` (written without prefixes; `prefix` puts every element in `p:`)."""
    text = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{ns}">\n<BkToCstmrDbtCdtNtfctn>\n'
            "<GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2026-11-20T06:01:02</CreDtTm></GrpHdr>\n"
            f"{body}\n</BkToCstmrDbtCdtNtfctn>\n</Document>\n")
    if not prefix:
        return text
    text = re.sub(r"<(/?)([A-Za-z][A-Za-z0-9]*)", lambda m: f"<{m.group(1)}{prefix}:{m.group(2)}", text)
    return text.replace(f'<{prefix}:Document xmlns="', f'<{prefix}:Document xmlns:{prefix}="')


def _scor(ref: str) -> str:
    return f"<CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>{ref}</Ref></CdtrRefInf>"


def _prtry(ref: str) -> str:
    return f"<CdtrRefInf><Tp><CdOrPrtry><Prtry>OCR</Prtry></CdOrPrtry></Tp><Ref>{ref}</Ref></CdtrRefInf>"


def _doc_inf(code: str, nb: str) -> str:
    return f"<RfrdDocInf><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Nb>{nb}</Nb></RfrdDocInf>"


# ------------------------------------------------------------------ Handelsbanken, .001.02, bankgiro as Prtry BGNR
HANDELSBANKEN_02 = _doc(NS02, """<Ntfctn><Id>HB-1</Id><CreDtTm>2026-11-20T06:01:02</CreDtTm>
<Acct><Id><Othr><Id>5402-9681</Id><SchmeNm><Prtry>BGNR</Prtry></SchmeNm></Othr></Id><Ccy>SEK</Ccy></Acct>
<Ntry><NtryRef>1</NtryRef><Amt Ccy="SEK">11073.38</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2026-11-20</Dt></BookgDt><ValDt><Dt>2026-11-20</Dt></ValDt><AcctSvcrRef>54029681BG0047</AcctSvcrRef>
<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>
<NtryDtls><Btch><NbOfTxs>3</NbOfTxs><TtlAmt Ccy="SEK">11073.38</TtlAmt><CdtDbtInd>CRDT</CdtDbtInd></Btch>
<TxDtls><Refs><AcctSvcrRef>000412345671</AcctSvcrRef></Refs>
<AmtDtls><TxAmt><Amt Ccy="SEK">3913.38</Amt></TxAmt></AmtDtls>
<RltdPties><Dbtr><Nm>Linnea Wikström</Nm><PstlAdr><StrtNm>Storgatan</StrtNm><BldgNb>12</BldgNb><PstCd>11122</PstCd>
<TwnNm>Stockholm</TwnNm><Ctry>SE</Ctry></PstlAdr><Id><PrvtId><Othr><Id>198001011234</Id></Othr></PrvtId></Id></Dbtr>
<DbtrAcct><Id><Othr><Id>1234-5678</Id><SchmeNm><Prtry>BGNR</Prtry></SchmeNm></Othr></Id></DbtrAcct></RltdPties>
<RmtInf><Strd>""" + _scor("7050016") + """</Strd></RmtInf></TxDtls>
<TxDtls><Refs><AcctSvcrRef>000412345672</AcctSvcrRef></Refs>
<AmtDtls><TxAmt><Amt Ccy="SEK">6160.00</Amt></TxAmt></AmtDtls>
<RltdPties><Dbtr><Nm>Gröna Ängen Förskola AB</Nm><PstlAdr><AdrLine>Box 17</AdrLine><AdrLine>41101 Göteborg</AdrLine>
</PstlAdr><Id><OrgId><Othr><Id>5566778899</Id><SchmeNm><Cd>BANK</Cd></SchmeNm></Othr></OrgId></Id></Dbtr></RltdPties>
<RmtInf>
<Strd>""" + _doc_inf("CINV", "705013") + """<RfrdDocAmt><RmtdAmt Ccy="SEK">5150.00</RmtdAmt></RfrdDocAmt>""" + _scor("7050131") + """</Strd>
<Strd>""" + _doc_inf("CINV", "705014") + """<RfrdDocAmt><RmtdAmt Ccy="SEK">1210.00</RmtdAmt></RfrdDocAmt>""" + _scor("7050149") + """</Strd>
<Strd>""" + _doc_inf("CREN", "K4711") + """<RfrdDocAmt><CdtNoteAmt Ccy="SEK">200.00</CdtNoteAmt></RfrdDocAmt></Strd>
</RmtInf></TxDtls>
<TxDtls><Refs><AcctSvcrRef>000412345673</AcctSvcrRef></Refs>
<AmtDtls><TxAmt><Amt Ccy="SEK">1000.00</Amt></TxAmt></AmtDtls>
<RltdPties><Dbtr><Nm>Agneta Nyberg</Nm></Dbtr></RltdPties>
<RmtInf><Ustrd>Faktura 705004</Ustrd><Ustrd>delbetalning</Ustrd></RmtInf></TxDtls>
</NtryDtls></Ntry>
<Ntry><Amt Ccy="SEK">25.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-11-20</Dt></BookgDt>
<AcctSvcrRef>HB-FEE-1120</AcctSvcrRef><NtryDtls><TxDtls><Refs><AcctSvcrRef>HB-FEE-1120</AcctSvcrRef></Refs>
<RltdPties><Cdtr><Nm>Svenska Handelsbanken AB</Nm></Cdtr></RltdPties><AddtlTxInf>Avgift bankgiro</AddtlTxInf>
</TxDtls></NtryDtls></Ntry>
<Ntry><Amt Ccy="SEK">500.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>PDNG</Sts><BookgDt><Dt>2026-11-20</Dt></BookgDt>
<NtryDtls><TxDtls><Refs><AcctSvcrRef>000412345679</AcctSvcrRef></Refs><RmtInf><Strd>""" + _scor("7050065") + """</Strd>
</RmtInf></TxDtls></NtryDtls></Ntry>
</Ntfctn>""")

_HB = dict(account="54029681", currency="SEK", booking_date="2026-11-20")
HANDELSBANKEN_ROWS = [
    dict(_HB, amount_minor=391338, reference="7050016", extra_references=None, extra_reference_amounts=None,
         payer_name="Linnea Wikström", payer_address="Storgatan 12, 11122 Stockholm, SE",
         payer_org_number="198001011234", payer_account="12345678", bank_ref="000412345671", message=None),
    dict(_HB, amount_minor=616000, reference="7050131",
         extra_references="7050131;705013;7050149;705014;K4711",
         extra_reference_amounts="+515000;+0;+121000;+0;-20000",
         payer_name="Gröna Ängen Förskola AB", payer_address="Box 17, 41101 Göteborg", payer_org_number="5566778899",
         payer_account=None, bank_ref="000412345672", message=None),
    dict(_HB, amount_minor=100000, reference=None, extra_references=None, extra_reference_amounts=None,
         payer_name="Agneta Nyberg", payer_address=None, payer_org_number=None, payer_account=None,
         bank_ref="000412345673", message="Faktura 705004 delbetalning"),
    dict(_HB, amount_minor=-2500, reference=None, extra_references=None, extra_reference_amounts=None,
         payer_name="Svenska Handelsbanken AB", payer_address=None, payer_org_number=None, payer_account=None,
         bank_ref="HB-FEE-1120", message="Avgift bankgiro"),
]

# ------------------------------------------------------------------ SEB, .001.08, prefixed, bankgiro as Cd BGNR
SEB_08 = _doc(NS08, """<Ntfctn><Id>SEB-77</Id><CreDtTm>2026-11-21T05:00:00+01:00</CreDtTm>
<Acct><Id><Othr><Id>54029681</Id><SchmeNm><Cd>BGNR</Cd></SchmeNm></Othr></Id><Ccy>SEK</Ccy></Acct>
<Ntry><Amt Ccy="SEK">7510.5</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
<BookgDt><DtTm>2026-11-21T04:12:00+01:00</DtTm></BookgDt><ValDt><Dt>2026-11-21</Dt></ValDt>
<AcctSvcrRef>SEB-DEP-5511</AcctSvcrRef>
<NtryDtls><Btch><NbOfTxs>2</NbOfTxs></Btch>
<TxDtls><Refs><AcctSvcrRef>BGC-0000998877</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
<Amt Ccy="SEK">1210.50</Amt><CdtDbtInd>CRDT</CdtDbtInd>
<RltdPties><Dbtr><Pty><Nm>Bröderna Ekbacka Bygg AB</Nm><PstlAdr><StrtNm>Industrivägen</StrtNm><PstCd>70227</PstCd>
<TwnNm>Örebro</TwnNm></PstlAdr><Id><OrgId><Othr><Id>556123-4567</Id></Othr></OrgId></Id></Pty></Dbtr>
<DbtrAcct><Id><Othr><Id>49881436</Id><SchmeNm><Cd>BGNR</Cd></SchmeNm></Othr></Id></DbtrAcct></RltdPties>
<RmtInf><Strd>""" + _prtry("7050099") + """</Strd></RmtInf></TxDtls>
<TxDtls><Refs><AcctSvcrRef>BGC-0000998878</AcctSvcrRef></Refs><Amt Ccy="SEK">6300</Amt><CdtDbtInd>CRDT</CdtDbtInd>
<RltdPties><Dbtr><Pty><Nm>Sven Åkesson</Nm></Pty></Dbtr></RltdPties>
<RmtInf><Strd><RfrdDocAmt><RmtdAmt Ccy="SEK">2314.36</RmtdAmt></RfrdDocAmt>""" + _prtry("7050081") + """</Strd>
<Strd><RfrdDocAmt><RmtdAmt Ccy="SEK">3985.64</RmtdAmt></RfrdDocAmt>""" + _prtry("7050107") + """</Strd></RmtInf>
</TxDtls></NtryDtls></Ntry>
<Ntry><Amt Ccy="SEK">3913.38</Amt><CdtDbtInd>DBIT</CdtDbtInd><RvslInd>true</RvslInd><Sts><Cd>BOOK</Cd></Sts>
<BookgDt><Dt>2026-11-21</Dt></BookgDt><AcctSvcrRef>SEB-RV-1</AcctSvcrRef>
<NtryDtls><TxDtls><Refs><AcctSvcrRef>000412345671</AcctSvcrRef></Refs>
<RmtInf><Strd>""" + _scor("7050016") + """</Strd></RmtInf></TxDtls></NtryDtls></Ntry>
</Ntfctn>""", prefix="ns")

_SEB = dict(account="54029681", currency="SEK", booking_date="2026-11-21")
SEB_ROWS = [
    dict(_SEB, amount_minor=121050, reference="7050099", extra_references=None, extra_reference_amounts=None,
         payer_name="Bröderna Ekbacka Bygg AB", payer_address="Industrivägen, 70227 Örebro",
         payer_org_number="556123-4567", payer_account="49881436", bank_ref="BGC-0000998877", message=None),
    dict(_SEB, amount_minor=630000, reference="7050081", extra_references="7050081;7050107",
         extra_reference_amounts="+231436;+398564", payer_name="Sven Åkesson", payer_address=None,
         payer_org_number=None, payer_account=None, bank_ref="BGC-0000998878", message=None),
    dict(_SEB, amount_minor=-391338, reference="7050016", extra_references=None, extra_reference_amounts=None,
         payer_name=None, payer_address=None, payer_org_number=None, payer_account=None, bank_ref="000412345671",
         message=None),
]

# ------------------------------------------------------------------ Swedbank, .001.02, IBAN, no per-tx reference
SWEDBANK_02 = _doc(NS02, """<Ntfctn><Id>SWED-3</Id><CreDtTm>2026-11-22T07:00:00</CreDtTm>
<Acct><Id><IBAN>SE45 8000 0832 7994 3412 3456</IBAN></Id><Ccy>SEK</Ccy></Acct>
<Ntry><Amt Ccy="SEK">2000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-11-22</Dt></BookgDt>
<AcctSvcrRef>SWED-BG-20261122-01</AcctSvcrRef>
<NtryDtls><Btch><NbOfTxs>2</NbOfTxs></Btch>
<TxDtls><AmtDtls><TxAmt><Amt Ccy="SEK">1000.00</Amt></TxAmt></AmtDtls>
<RltdPties><Dbtr><Nm>Pär Engström</Nm></Dbtr></RltdPties><RmtInf><Strd>""" + _prtry("7050123") + """</Strd></RmtInf></TxDtls>
<TxDtls><AmtDtls><TxAmt><Amt Ccy="SEK">1000.00</Amt></TxAmt></AmtDtls>
<RltdPties><Dbtr><Nm>Pär Engström</Nm></Dbtr></RltdPties><RmtInf><Strd>""" + _prtry("7050123") + """</Strd></RmtInf></TxDtls>
</NtryDtls></Ntry>
</Ntfctn>""")

_SW = dict(account="SE4580000832799434123456", currency="SEK", booking_date="2026-11-22", amount_minor=100000,
           reference="7050123", extra_references=None, extra_reference_amounts=None, payer_name="Pär Engström",
           payer_address=None, payer_org_number=None, payer_account=None, bank_ref="SWED-BG-20261122-01",
           message=None)
SWEDBANK_ROWS = [_SW, _SW]

# ------------------------------------------------------------------ Nordea, .001.08, one entry per payment
NORDEA_08 = _doc(NS08, """<Ntfctn><Id>NDEA-9</Id><CreDtTm>2026-11-23T06:00:00</CreDtTm>
<Acct><Id><Othr><Id>54029681</Id><SchmeNm><Prtry>BGNR</Prtry></SchmeNm></Othr></Id><Ccy>SEK</Ccy></Acct>
<Ntry><Amt Ccy="SEK">8127.90</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
<BookgDt><Dt>2026-11-23</Dt></BookgDt><AcctSvcrRef>NDEA-55001</AcctSvcrRef>
<NtryDtls><TxDtls><Refs><AcctSvcrRef>NDEA-55001</AcctSvcrRef><EndToEndId>E2E-1</EndToEndId></Refs>
<RltdPties><Dbtr><Pty><Nm>Agneta Nyberg</Nm></Pty></Dbtr></RltdPties>
<RmtInf><Strd>""" + _scor("7050057") + _doc_inf("CINV", "705005") + """</Strd></RmtInf></TxDtls></NtryDtls></Ntry>
<Ntry><Amt Ccy="SEK">6307.44</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>INFO</Cd></Sts>
<BookgDt><Dt>2026-11-23</Dt></BookgDt><AcctSvcrRef>NDEA-55002</AcctSvcrRef>
<NtryDtls><TxDtls><Refs><AcctSvcrRef>NDEA-55002</AcctSvcrRef></Refs><RmtInf><Strd>""" + _scor("7050065") + """</Strd>
</RmtInf></TxDtls></NtryDtls></Ntry>
</Ntfctn>""")

NORDEA_ROWS = [
    dict(account="54029681", currency="SEK", booking_date="2026-11-23", amount_minor=812790, reference="7050057",
         extra_references="705005", extra_reference_amounts=None, payer_name="Agneta Nyberg", payer_address=None,
         payer_org_number=None, payer_account=None, bank_ref="NDEA-55001", message=None),
]

FILES = {
    "handelsbanken_02": (HANDELSBANKEN_02, HANDELSBANKEN_ROWS, 1),
    "seb_08": (SEB_08, SEB_ROWS, 0),
    "swedbank_02": (SWEDBANK_02, SWEDBANK_ROWS, 0),
    "nordea_08": (NORDEA_08, NORDEA_ROWS, 1),
}
_COLUMNS = ["account", "currency", "booking_date", "amount_minor", "reference", "extra_references",
            "extra_reference_amounts", "payer_name", "payer_address", "payer_org_number", "payer_account", "bank_ref",
            "message"]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"camt054_{name}.xml"
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_payment_reads_as_the_bank_wrote_it(tmp_path: Path, name: str) -> None:
    text, expected, not_booked = FILES[name]
    result = read_source(_write(tmp_path, name, text), None)
    assert result.format == "camt054" and result.status == "ok", result.message
    booked = result.rows.filter(~pl.col("source_line").is_in(result.problems.get_column("source_line").implode()))
    got = booked.with_columns(pl.col("booking_date").cast(pl.String)).select(_COLUMNS).to_dicts()
    assert got == expected
    # An entry not booked is rejected with its reason, never a payment.
    assert result.problems.filter(pl.col("error_check") == "camt_not_booked").height == not_booked
    assert result.problems.height == not_booked


@pytest.mark.parametrize("name", sorted(FILES))
def test_keys_are_stable_and_one_per_transaction(tmp_path: Path, name: str) -> None:
    text, expected, _ = FILES[name]
    first = read_source(_write(tmp_path, name, text), None).rows.get_column("payment_key").to_list()
    again = read_source(_write(tmp_path, "copy_" + name, text), None).rows.get_column("payment_key").to_list()
    assert first == again
    assert len(set(first)) == len(first) and all(k.startswith("CAMT-") for k in first)


def test_the_same_payment_keeps_its_key_across_versions_and_prefixes(tmp_path: Path) -> None:
    """Handelsbanken's file rewritten as .001.08 with a prefix: the same payments, the same keys."""
    as08 = HANDELSBANKEN_02.replace(NS02, NS08)
    as08 = _doc(NS08, as08.split("</GrpHdr>\n", 1)[1].rsplit("\n</BkToCstmrDbtCdtNtfctn>", 1)[0], prefix="h")
    a = read_source(_write(tmp_path, "a", HANDELSBANKEN_02), None).rows
    b = read_source(_write(tmp_path, "b", as08), None).rows
    assert a.select(*_COLUMNS, "payment_key").equals(b.select(*_COLUMNS, "payment_key"))


@pytest.mark.parametrize("bad", ["1104,65", "1104.655", "-1104.65", "1,104.65", "1 104.65", "1.1e3"])
def test_an_amount_that_is_not_an_iso_amount_is_rejected_never_rounded(tmp_path: Path, bad: str) -> None:
    text = SEB_08.replace("<ns:Amt Ccy=\"SEK\">1210.50</ns:Amt>", f"<ns:Amt Ccy=\"SEK\">{bad}</ns:Amt>")
    assert text != SEB_08
    result = read_source(_write(tmp_path, "bad", text), None)
    problems = result.problems.filter(pl.col("error_check") == "camt_amount")
    assert problems.height == 1 and bad in problems.item(0, "error_message")
    row = result.rows.filter(pl.col("source_line") == problems.item(0, "source_line"))
    assert row.item(0, "amount_minor") is None  # nothing rounded or half-read
    # The other payment of the entry still reads.
    assert 630000 in result.rows.get_column("amount_minor").to_list()


@pytest.mark.parametrize("bad", ["2314,36", "2314.365"])
def test_a_remittance_amount_that_is_not_an_iso_amount_rejects_the_breakdown(tmp_path: Path, bad: str) -> None:
    text = SEB_08.replace(">2314.36<", f">{bad}<")
    result = read_source(_write(tmp_path, "bad_rmt", text), None)
    problems = result.problems.filter(pl.col("error_column") == "extra_reference_amounts")
    assert problems.height == 1 and bad in problems.item(0, "error_message")


@pytest.mark.parametrize("status", ["<Prtry>PDNG</Prtry>", "<Prtry>INFO</Prtry>", "<Cd>PDNG</Cd>"])
def test_an_entry_not_booked_is_never_a_payment_whichever_way_08_spells_its_status(tmp_path: Path,
                                                                                   status: str) -> None:
    """`.08` Sts is a choice of a code or a proprietary status: a proprietary PDNG is no more booked than a coded one."""
    text = NORDEA_08.replace("<Cd>INFO</Cd>", status)
    result = read_source(_write(tmp_path, "nordea_status", text), None)
    rejected = result.problems.filter(pl.col("error_check") == "camt_not_booked")
    assert rejected.height == 1 and "not booked" in rejected.item(0, "error_message")
    assert result.control["not_booked_entries"] == 1 and result.control["booked_entries"] == 1
    with_prtry_book = NORDEA_08.replace("<Cd>INFO</Cd>", "<Prtry>BOOK</Prtry>")
    assert read_source(_write(tmp_path, "nordea_book", with_prtry_book), None).problems.height == 0
