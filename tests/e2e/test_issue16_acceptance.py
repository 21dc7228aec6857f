"""Issue 16 acceptance, independently of the sample's generator: a Swedish creditor on ADA fed by camt.054 files
written here (a bank's .001.08 deposit notification with prefixes and a re-sent .001.02 notification) with planted
problems, each found with recall and precision 100 % per category over real HTTP; the same payments as Bg Max then
camt.054 (and the other way round), and Norway's OCR giro then camt.054, add nothing to the sandbox ledger on the
second file."""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from etl.pipeline import RunResult
from etl.refs import mod10_check_digit
from etl.sources import read_source
from tests.conftest import SAMPLE
from tests.e2e.test_two_formats import _ledger, _run

_spec = importlib.util.spec_from_file_location("sample_generate_issue16", SAMPLE / "generate.py")
gen = importlib.util.module_from_spec(_spec)
sys.modules["sample_generate_issue16"] = gen
_spec.loader.exec_module(gen)  # type: ignore[union-attr]  # only its Bg Max record writers (bg_tk*)

INVOICES = SAMPLE / "se" / "invoices_solkraft_2026-11-20.csv"
NO_OCR = SAMPLE / gen.NO_OCR_FILE
NO_INVOICES = SAMPLE / gen.NO_INVOICES_FILE
NIGHT = dt.datetime(2026, 11, 21, 5, 15, tzinfo=dt.timezone.utc)
WEEKS_LATER = dt.datetime(2026, 12, 14, 5, 15, tzinfo=dt.timezone.utc)
BAD_LUHN = "7050041"  # invoice 705004's OCR is 7050040
UNKNOWN_OCR = "999001" + mod10_check_digit("999001")  # a valid OCR no invoice carries
assert mod10_check_digit("705004") == "0"


@dataclass(frozen=True)
class Pay:
    serial: str  # Bankgirot's serial: BgMax TK20 and the bank's TxDtls/Refs/AcctSvcrRef
    amount: int
    strds: tuple[tuple[str, int | None], ...]  # (OCR, amount of that invoice or None)
    payer: str
    text: str | None = None
    category: str | None = None


PAYS = [
    Pay("100000000001", 391338, (("7050016", None),), "Linnea Wikström"),
    Pay("100000000002", 100000, (("7050024", None),), "Linnea Wikström", category="underpayment"),
    Pay("100000000003", 900000, (("7050032", None),), "Linnea Wikström", category="overpayment"),
    Pay("100000000004", 244203, ((BAD_LUHN, None),), "Agneta Nyberg", "Faktura 705004", "invalid_reference"),
    Pay("100000000005", 77700, ((UNKNOWN_OCR, None),), "Okänd Betalare", category="unmatched_payment"),
    Pay("100000000006", 636000, (("7050131", 515000), ("7050149", 121000)), "Gröna Ängen Förskola AB"),
    Pay("100000000007", 680000, (("7050073", 453909), ("7050081", 231436)), "Gröna Ängen Förskola AB",
        category="ambiguous_match"),  # the breakdown sums to 6853.45: reported, not guessed
    Pay("100000000008", 630744, (("7050065", None),), "Linnea Björklund"),
]
RESENT = Pay("100000000009", 618058, (("7050099", None),), "Bröderna Ekbacka Bygg AB")


def _sek(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def _tx(p: Pay, v08: bool) -> str:
    strds = "".join(
        "<Strd>" + (f'<RfrdDocAmt><RmtdAmt Ccy="SEK">{_sek(a)}</RmtdAmt></RfrdDocAmt>' if a is not None else "")
        + (f"<RfrdDocInf><Tp><CdOrPrtry><Cd>CINV</Cd></CdOrPrtry></Tp><Nb>{ocr}</Nb></RfrdDocInf>" if len(ocr) == 6
           else f"<CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>{ocr}</Ref></CdtrRefInf>") + "</Strd>"
        for ocr, a in p.strds)  # a 6-digit reference is an invoice number (RfrdDocInf), else an OCR
    ustrd = f"<Ustrd>{p.text}</Ustrd>" if p.text else ""
    amount = (f'<Amt Ccy="SEK">{_sek(p.amount)}</Amt><CdtDbtInd>CRDT</CdtDbtInd>' if v08
              else f'<AmtDtls><TxAmt><Amt Ccy="SEK">{_sek(p.amount)}</Amt></TxAmt></AmtDtls>')
    name = f"<Pty><Nm>{p.payer}</Nm></Pty>" if v08 else f"<Nm>{p.payer}</Nm>"
    return (f"<TxDtls><Refs><AcctSvcrRef>{p.serial}</AcctSvcrRef></Refs>{amount}"
            f"<RltdPties><Dbtr>{name}</Dbtr></RltdPties><RmtInf>{ustrd}{strds}</RmtInf></TxDtls>")


def _camt(pays: list[Pay], v08: bool, extra_entries: str = "", prefix: str = "") -> str:
    """One notification for bankgiro 5402-9681: a booked deposit entry with a TxDtls (own line) per payment."""
    ns = "urn:iso:std:iso:20022:tech:xsd:camt.054.001." + ("08" if v08 else "02")
    sts = "<Sts><Cd>BOOK</Cd></Sts>" if v08 else "<Sts>BOOK</Sts>"
    scheme = "<Cd>BGNR</Cd>" if v08 else "<Prtry>BGNR</Prtry>"
    txs = "\n".join(_tx(p, v08) for p in pays)
    body = (f'<Document xmlns="{ns}"><BkToCstmrDbtCdtNtfctn>\n'
            "<GrpHdr><MsgId>BG-20261120</MsgId><CreDtTm>2026-11-20T06:00:00</CreDtTm></GrpHdr>\n"
            f"<Ntfctn><Id>N-1</Id><Acct><Id><Othr><Id>5402-9681</Id><SchmeNm>{scheme}</SchmeNm></Othr></Id></Acct>\n"
            f'<Ntry><Amt Ccy="SEK">{_sek(sum(p.amount for p in pays))}</Amt><CdtDbtInd>CRDT</CdtDbtInd>{sts}'
            "<BookgDt><Dt>2026-11-20</Dt></BookgDt><AcctSvcrRef>54029681BG00047</AcctSvcrRef>\n"
            f"<NtryDtls><Btch><NbOfTxs>{len(pays)}</NbOfTxs></Btch>\n{txs}\n</NtryDtls></Ntry>\n"
            f"{extra_entries}</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>\n")
    if prefix:
        body = re.sub(r"<(/?)([A-Za-z][A-Za-z0-9]*)", lambda m: f"<{m.group(1)}{prefix}:{m.group(2)}", body)
        body = body.replace(f'<{prefix}:Document xmlns="', f'<{prefix}:Document xmlns:{prefix}="')
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body


# A bank fee (a debit: never an incoming payment) and an entry the bank has not booked yet.
FEE = ('<Ntry><Amt Ccy="SEK">25.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>'
       "<BookgDt><Dt>2026-11-20</Dt></BookgDt><AcctSvcrRef>FEE-1</AcctSvcrRef><AddtlNtryInf>Avgift</AddtlNtryInf>"
       "</Ntry>\n")
PENDING = ('<Ntry><Amt Ccy="SEK">1077.86</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>PDNG</Cd></Sts>'
           "<BookgDt><Dt>2026-11-20</Dt></BookgDt>\n<NtryDtls><TxDtls><Refs><AcctSvcrRef>100000000010</AcctSvcrRef>"
           '</Refs><Amt Ccy="SEK">1077.86</Amt><CdtDbtInd>CRDT</CdtDbtInd><RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry>'
           "<Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>7050123</Ref></CdtrRefInf></Strd></RmtInf></TxDtls></NtryDtls></Ntry>\n")


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def _bgmax(pays: list[Pay]) -> str:
    """The same payments as Bankgirot's legacy Bg Max file (one deposit, TK22 per extra invoice with its amount)."""
    lines = [gen.bg_tk01("20261120054211123456", "P"), gen.bg_tk05("54029681", "SEK")]
    n22 = 0
    for p in pays:
        first = p.strds[0][0]
        lines.append(gen.bg_tk20(gen.BgPayment("0", first, "2", p.amount, "1", p.serial, None, p.payer)))
        if len(p.strds) > 1:
            for ocr, a in p.strds:
                lines.append(gen.bg_tk22("0", ocr, a, p.serial))
                n22 += 1
        if p.text:
            lines.append(gen.bg_tk25(p.text))
        lines.append(gen.bg_tk26(p.payer))
    lines.append(gen.bg_tk15("832799434123456", "20261120", "00047", sum(p.amount for p in pays), "SEK", len(pays)))
    lines.append(gen.bg_tk70(len(pays), 0, n22, 1))
    return "".join(line + "\r\n" for line in lines)


def _write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def _found(result: RunResult) -> set[tuple[str, str, int]]:
    d = result.discrepancies
    return {(c, Path(f).name, int(n)) for c, f, n in d.select("category", "source_file", "source_line").iter_rows()}


def test_swedish_camt054_planted_categories_recall_and_precision(tmp_path: Path, sandbox) -> None:
    day = _camt(PAYS, v08=True, extra_entries=FEE + PENDING, prefix="bk")
    resent = _camt([PAYS[0], RESENT], v08=False)  # the next notification repeats payment 1
    one = _write(tmp_path / "bank", "camt054_bg_2026-11-20.xml", day)
    two = _write(tmp_path / "bank", "camt054_bg_2026-11-20_2.xml", resent)
    result = _run(tmp_path, sandbox.base_url, (INVOICES, one, two), NIGHT, "r1")

    planted = {(p.category, one.name, _line_of(day, p.serial) ) for p in PAYS if p.category}
    planted.add(("duplicate_payment", two.name, _line_of(resent, PAYS[0].serial)))
    planted.add(("invalid_row", one.name, _line_of(day, "100000000010")))
    found = _found(result)
    for category in {c for c, _, _ in planted | found}:
        want = {x for x in planted if x[0] == category}
        got = {x for x in found if x[0] == category}
        assert got == want, (category, sorted(got - want), sorted(want - got))  # recall and precision 100 %

    ada = [i for i in _ledger(sandbox.base_url) if i["api"] == "ada.creditor-payments"]
    by_key = {i["key"]: i for i in ada}
    assert len(by_key) == len(ada)
    # The split payment: one ADA payment per invoice, each with the payer's amount, keys from the payment's key.
    split = sorted((k.split(":")[1], by_key[k]["amount"]) for k in by_key if ":" in k)
    assert split == [("7050131", "5150.00"), ("7050149", "1210.00")]
    assert len({k.split(":")[0] for k in by_key if ":" in k}) == 1
    # Sent: the clean, under-, over- and invalid-reference payments, the resent file's new one, the split's two.
    amounts = sorted(i["amount"] for i in ada)
    assert amounts == sorted(["3913.38", "1000.00", "9000.00", "2442.03", "6307.44", "6180.58", "5150.00",
                              "1210.00"])
    assert result.summary["totals"]["control"]["SEK"]["unexplained"] == "0.00"


def _pays_without_problems() -> list[Pay]:
    return [p for p in PAYS if p.category not in ("unmatched_payment", "ambiguous_match")] + [RESENT]


@pytest.mark.parametrize("first", ["bgmax", "camt054"])
def test_bgmax_and_camt054_of_the_same_payments_deliver_once(tmp_path: Path, sandbox, first: str) -> None:
    pays = _pays_without_problems()
    bgmax = _write(tmp_path / "legacy", "bgmax_2026-11-20.txt", _bgmax(pays), "iso-8859-1")
    camt = _write(tmp_path / "camt", "camt054_2026-11-20.xml", _camt(pays, v08=True, prefix="x"))
    a, b = (bgmax, camt) if first == "bgmax" else (camt, bgmax)
    r1 = _run(tmp_path, sandbox.base_url, (INVOICES, a), NIGHT, "r1")
    ledger = _ledger(sandbox.base_url)
    assert r1.summary["sent"]["ada.creditor-payments"] == len(pays) + 1 == len(ledger)  # the split: two
    r2 = _run(tmp_path, sandbox.base_url, (b,), WEEKS_LATER, "r2")
    assert _ledger(sandbox.base_url) == ledger
    assert r2.summary["sent"].get("ada.creditor-payments", 0) == 0
    assert r2.summary["counts"] == {"duplicate_payment": len(pays)}


def _no_camt(rows: pl.DataFrame) -> str:
    """Norway: the OCR giro payments as the bank's camt.054.001.02, one entry per payment, the Nets archive reference
    as the entry's AcctSvcrRef only, the KID as a proprietary reference, the account as a Norwegian IBAN."""
    entries = "".join(
        f'<Ntry><Amt Ccy="NOK">{_sek(r["amount_minor"])}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        f'<BookgDt><Dt>{r["booking_date"]}</Dt></BookgDt><AcctSvcrRef>{r["bank_ref"]}</AcctSvcrRef>'
        "<NtryDtls><TxDtls><RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Prtry>KID</Prtry></CdOrPrtry></Tp>"
        f'<Ref>{r["reference"]}</Ref></CdtrRefInf></Strd></RmtInf></TxDtls></NtryDtls></Ntry>\n'
        for r in rows.iter_rows(named=True))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"><BkToCstmrDbtCdtNtfctn>'
            "<GrpHdr><MsgId>NO-1</MsgId><CreDtTm>2026-11-20T06:00:00</CreDtTm></GrpHdr>\n"
            "<Ntfctn><Id>NO-N1</Id><Acct><Id><IBAN>NO9315062995960</IBAN></Id></Acct>\n"
            f"{entries}</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>\n")


def test_norway_ocr_giro_then_camt054_adds_nothing(tmp_path: Path, sandbox) -> None:
    rows = read_source(NO_OCR, None).rows.with_columns(pl.col("booking_date").cast(pl.String))
    camt = _write(tmp_path / "camt", "camt054_no_2026-11-20.xml", _no_camt(rows))
    ocr = tmp_path / "ocr" / NO_OCR.name
    ocr.parent.mkdir()
    ocr.write_bytes(NO_OCR.read_bytes())
    r1 = _run(tmp_path, sandbox.base_url, (NO_INVOICES, ocr), NIGHT, "r1")
    ledger = _ledger(sandbox.base_url)
    assert len(ledger) > 0 and r1.summary["sent"]
    r2 = _run(tmp_path, sandbox.base_url, (camt,), WEEKS_LATER, "r2")
    assert _ledger(sandbox.base_url) == ledger
    assert r2.summary["counts"].get("duplicate_payment") == rows.filter(pl.col("amount_minor") > 0).height


def test_a_split_payment_is_judged_per_invoice(tmp_path: Path, sandbox) -> None:
    """The payer's parts add up to both invoices' total, but give 705013 850.00 too much and 705014 850.00 too little
    (invoice numbers in RfrdDocInf this time): delivered as the payer said, and reported, not passed as clean."""
    pay = Pay("300000000001", 636000, (("705013", 600000), ("705014", 36000)), "Gröna Ängen Förskola AB")
    right = Pay("300000000002", 391338 + 110465, (("705001", 391338), ("705002", 110465)), "Linnea Wikström")
    text = _camt([pay, right], v08=False)
    camt = _write(tmp_path / "bank", "camt054_parts.xml", text)
    result = _run(tmp_path, sandbox.base_url, (INVOICES, camt), NIGHT, "r1")
    parts = sorted((i["key"].split(":")[1], i["amount"]) for i in _ledger(sandbox.base_url) if ":" in i["key"])
    assert parts == [("705001", "3913.38"), ("705002", "1104.65"), ("705013", "6000.00"), ("705014", "360.00")]
    breaks = result.discrepancies.filter(pl.col("category").is_in(["overpayment", "underpayment"]))
    assert breaks.select("category", "source_line", "invoice_number", "amount_minor", "expected_minor").rows() == [
        ("overpayment", _line_of(text, pay.serial), "705013", 600000, 515000)]
    assert "705014: paid 360.00, 1210.00 was open" in breaks.item(0, "detail")
    # ADA settled only what was open on 705013: a note on the payment's one row, not a second break.
    assert "also: Amili settled 5150.00 of 6000.00 sent" in breaks.item(0, "detail")
    assert result.summary["counts"] == {"overpayment": 1}
