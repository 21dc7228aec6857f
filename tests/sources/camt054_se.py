"""Swedish camt.054 credit notifications for Bankgiro receivables, written the way five banks structure them.

`python -m tests.sources.camt054_se OUT_DIR` writes one file per bank and version (.001.02 and .001.08) and
`truth.json`: every payment the files hold, with the columns the reader must give it. Everything comes from one
random.Random(SEED): the same files on every run.

What differs between the banks (after their camt.054 implementation guides for incoming Bankgiro payments):

| bank | account | entries | amount | OCR reference | bank reference |
|---|---|---|---|---|---|
| handelsbanken | bankgiro, `Othr/SchmeNm/Prtry` BGNR | one entry per deposit, many TxDtls | `AmtDtls/TxAmt/Amt` | `CdtrRefInf` SCOR | `TxDtls/Refs/AcctSvcrRef` (BGC serial) |
| seb | IBAN | one entry per deposit, many TxDtls | `TxDtls/Amt` (.08), `AmtDtls/TxAmt/Amt` (.02) | SCOR | `AcctSvcrRef` |
| swedbank | bankgiro, `Othr/SchmeNm/Cd` BGNR | one entry per deposit | `AmtDtls/TxAmt/Amt` | `CdtrRefInf/Tp/CdOrPrtry/Prtry` OCR | `AcctSvcrRef` |
| nordea | IBAN | one entry per payment | the entry's (single TxDtls, no amount of its own) | SCOR | `AcctSvcrRef` |
| danske | bankgiro, `Prtry` BGNR | one entry per deposit | `TxDtls/Amt` | SCOR | `AcctSvcrRef`, entry `AcctSvcrRef` too |

Every bank: payer name, postal address (structured, or `AdrLine` at Danske), organisation number
(`Id/OrgId/Othr/Id`); some payments pay several invoices, each `Strd` with its own `RfrdDocInf/Nb` and
`RfrdDocAmt/RmtdAmt`, credit notes as `CdtNoteAmt` (a CREN document); .08 puts the parties under `Pty`, the status
under `Sts/Cd`.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from etl.refs import mod10_check_digit

SEED = 16_2026
BANKS = ("handelsbanken", "seb", "swedbank", "nordea", "danske")
VERSIONS = ("02", "08")
BANKGIRO = "5402-9681"
IBAN = "SE4550000000058398257466"
CURRENCY = "SEK"
_NAMES = ["Björk Bygg AB", "Ängens Förskola", "Lindqvist & Söner HB", "Kalles Kaffe AB", "Örebro Måleri AB",
          "Nyström, Eva", "Tre Kronor Städ AB", "Vasa Fastigheter AB"]
_STREETS = ["Storgatan", "Kungsvägen", "Drottninggatan", "Sveavägen", "Ringvägen"]
_TOWNS = [("111 22", "Stockholm"), ("411 05", "Göteborg"), ("211 20", "Malmö"), ("702 10", "Örebro")]


@dataclass
class Strd:
    """One structured remittance block: an OCR reference and/or invoice numbers, with or without an amount."""

    ocr: str | None = None
    docs: list[str] = field(default_factory=list)
    amount_minor: int | None = None  # signed: a credit note is negative
    credit_note: bool = False


@dataclass
class Payment:
    """One incoming Bankgiro payment (one TxDtls)."""

    bank_ref: str
    amount_minor: int
    booking: dt.date
    payer_name: str
    street: str
    postcode: str
    town: str
    org_number: str
    payer_bankgiro: str
    strds: list[Strd]
    ustrd: str | None = None


def _luhn(body: str) -> str:
    """`body` with its Luhn check digit: a Bankgiro OCR reference that passes."""
    return body + mod10_check_digit(body)


def payments(rng: random.Random, count: int, booking: dt.date) -> list[Payment]:
    """`count` payments: single OCR payments, multi-invoice ones (2-4 invoices, each its amount), a credit note."""
    out = []
    for i in range(count):
        kind = i % 5
        name = rng.choice(_NAMES)
        postcode, town = rng.choice(_TOWNS)
        base = dict(bank_ref=f"{rng.randrange(10**11, 10**12):012d}", booking=booking, payer_name=name,
                    street=f"{rng.choice(_STREETS)} {rng.randrange(1, 90)}", postcode=postcode, town=town,
                    org_number=f"55{rng.randrange(10**7, 10**8)}", payer_bankgiro=f"{rng.randrange(10**6, 10**7)}")
        if kind in (0, 1, 2):  # one invoice, one OCR reference (the usual Bankgiro payment)
            amount = rng.randrange(10_000, 2_000_000)
            out.append(Payment(amount_minor=amount, strds=[Strd(ocr=_luhn(f"{rng.randrange(10**6, 10**7)}"))],
                               ustrd=None if kind else f"Faktura {rng.randrange(700000, 799999)}", **base))
        elif kind == 3:  # several invoices, each with its own amount
            strds = [Strd(ocr=_luhn(f"{rng.randrange(10**6, 10**7)}"), docs=[f"{rng.randrange(700000, 799999)}"],
                          amount_minor=rng.randrange(10_000, 500_000)) for _ in range(rng.randrange(2, 5))]
            out.append(Payment(amount_minor=sum(s.amount_minor or 0 for s in strds), strds=strds, **base))
        else:  # one invoice less a credit note
            inv = Strd(docs=[f"{rng.randrange(700000, 799999)}"], amount_minor=rng.randrange(200_000, 900_000))
            cn = Strd(docs=[f"K{rng.randrange(1000, 9999)}"], amount_minor=-rng.randrange(10_000, 100_000),
                      credit_note=True)
            out.append(Payment(amount_minor=(inv.amount_minor or 0) + (cn.amount_minor or 0), strds=[inv, cn], **base))
    return out


def _amt(minor: int) -> str:
    return f"{abs(minor) // 100}.{abs(minor) % 100:02d}"


def _account(bank: str) -> str:
    if bank in ("seb", "nordea"):
        return f"<Id><IBAN>{IBAN}</IBAN></Id>"
    scheme = "<Cd>BGNR</Cd>" if bank == "swedbank" else "<Prtry>BGNR</Prtry>"
    number = BANKGIRO.replace("-", "") if bank == "danske" else BANKGIRO
    return f"<Id><Othr><Id>{number}</Id><SchmeNm>{scheme}</SchmeNm></Othr></Id>"


def _strd(bank: str, s: Strd) -> str:
    parts = []
    for nb in s.docs:
        code = "CREN" if s.credit_note else "CINV"
        parts.append(f"<RfrdDocInf><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Nb>{nb}</Nb></RfrdDocInf>")
    if s.amount_minor is not None:
        tag = "CdtNoteAmt" if s.credit_note else "RmtdAmt"
        parts.append(f'<RfrdDocAmt><{tag} Ccy="{CURRENCY}">{_amt(s.amount_minor)}</{tag}></RfrdDocAmt>')
    if s.ocr:
        tp = "<Prtry>OCR</Prtry>" if bank == "swedbank" else "<Cd>SCOR</Cd>"
        parts.append(f"<CdtrRefInf><Tp><CdOrPrtry>{tp}</CdOrPrtry></Tp><Ref>{s.ocr}</Ref></CdtrRefInf>")
    return "<Strd>" + "".join(parts) + "</Strd>"


def _party(bank: str, version: str, p: Payment) -> str:
    if bank == "danske":
        adr = f"<PstlAdr><AdrLine>{escape(p.street)}</AdrLine><AdrLine>{p.postcode} {escape(p.town)}</AdrLine></PstlAdr>"
    else:
        adr = (f"<PstlAdr><StrtNm>{escape(p.street)}</StrtNm><PstCd>{p.postcode}</PstCd>"
               f"<TwnNm>{escape(p.town)}</TwnNm><Ctry>SE</Ctry></PstlAdr>")
    ident = f"<Id><OrgId><Othr><Id>{p.org_number}</Id></Othr></OrgId></Id>"
    inner = f"<Nm>{escape(p.payer_name)}</Nm>{adr}{ident}"
    dbtr = f"<Dbtr><Pty>{inner}</Pty></Dbtr>" if version == "08" else f"<Dbtr>{inner}</Dbtr>"
    acct = (f"<DbtrAcct><Id><Othr><Id>{p.payer_bankgiro}</Id><SchmeNm><Prtry>BGNR</Prtry></SchmeNm></Othr></Id>"
            "</DbtrAcct>")
    return f"<RltdPties>{dbtr}{acct}</RltdPties>"


def _tx(bank: str, version: str, p: Payment, single: bool) -> str:
    amount = f'<Amt Ccy="{CURRENCY}">{_amt(p.amount_minor)}</Amt>'
    if single:
        own = ""  # the entry's amount is this transaction's (Nordea)
    elif bank == "danske" or (bank == "seb" and version == "08"):
        own = amount + "<CdtDbtInd>CRDT</CdtDbtInd>"
    else:
        own = f"<AmtDtls><TxAmt>{amount}</TxAmt></AmtDtls>"
    rmt = "".join(_strd(bank, s) for s in p.strds)
    ustrd = f"<Ustrd>{escape(p.ustrd)}</Ustrd>" if p.ustrd else ""
    return (f"<TxDtls><Refs><AcctSvcrRef>{p.bank_ref}</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs>"
            f"{own}{_party(bank, version, p)}<RmtInf>{ustrd}{rmt}</RmtInf></TxDtls>")


def _entry(bank: str, version: str, pays: list[Payment], k: int) -> str:
    total = sum(p.amount_minor for p in pays)
    sts = "<Sts><Cd>BOOK</Cd></Sts>" if version == "08" else "<Sts>BOOK</Sts>"
    day = pays[0].booking.isoformat()
    ref = f"<AcctSvcrRef>{bank[:3].upper()}-D{k:05d}</AcctSvcrRef>"
    txs = "\n".join(_tx(bank, version, p, len(pays) == 1 and bank == "nordea") for p in pays)
    return (f'<Ntry><Amt Ccy="{CURRENCY}">{_amt(total)}</Amt><CdtDbtInd>CRDT</CdtDbtInd>{sts}'
            f"<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>{ref}"
            "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>BOOK</SubFmlyCd></Fmly></Domn>"
            f"<Prtry><Cd>BG</Cd><Issr>BGC</Issr></Prtry></BkTxCd>\n<NtryDtls>\n{txs}\n</NtryDtls></Ntry>")


def notification(bank: str, version: str, pays: list[Payment]) -> str:
    """The camt.054 document of `pays` as `bank` writes it in `version` (02 or 08)."""
    groups = [[p] for p in pays] if bank == "nordea" else [pays[i:i + 7] for i in range(0, len(pays), 7)]
    entries = "\n".join(_entry(bank, version, g, k + 1) for k, g in enumerate(groups))
    ns = f"urn:iso:std:iso:20022:tech:xsd:camt.054.001.{version}"
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{ns}">\n<BkToCstmrDbtCdtNtfctn>\n'
            f"<GrpHdr><MsgId>{bank.upper()}-{version}</MsgId><CreDtTm>2026-11-20T06:00:00</CreDtTm></GrpHdr>\n"
            f"<Ntfctn><Id>{bank.upper()}-N1</Id><CreDtTm>2026-11-20T06:00:00</CreDtTm>\n"
            f"<Acct>{_account(bank)}<Ccy>{CURRENCY}</Ccy></Acct>\n{entries}\n</Ntfctn>\n"
            "</BkToCstmrDbtCdtNtfctn>\n</Document>\n")


def expected(bank: str, p: Payment) -> dict[str, object]:
    """The canonical columns the reader must give `p` (account digits only, as creditors configure it)."""
    ocrs = [s.ocr for s in p.strds if s.ocr]
    docs = [d for s in p.strds for d in s.docs]
    itemised = any(s.amount_minor is not None for s in p.strds)
    items, amounts = [], []
    for s in p.strds:
        refs = ([s.ocr] if s.ocr else []) + s.docs
        for k, ref in enumerate(refs):
            items.append(ref)
            value = s.amount_minor if k == 0 and s.amount_minor is not None else 0
            amounts.append(("-" if s.credit_note else "+") + str(abs(value)))
    extra = items if itemised else ocrs[1:] + docs
    return {
        "account": IBAN if bank in ("seb", "nordea") else BANKGIRO.replace("-", ""),
        "booking_date": p.booking.isoformat(), "amount_minor": p.amount_minor, "currency": CURRENCY,
        "reference": ocrs[0] if ocrs else None, "extra_references": ";".join(extra) or None,
        "extra_reference_amounts": ";".join(amounts) if itemised else None, "message": p.ustrd,
        "payer_name": p.payer_name,
        "payer_address": (f"{p.street}, {p.postcode} {p.town}" if bank == "danske"
                          else f"{p.street}, {p.postcode} {p.town}, SE"),
        "payer_org_number": p.org_number, "payer_account": p.payer_bankgiro, "bank_ref": p.bank_ref,
    }


def write_all(out: Path, count: int = 23) -> dict[str, list[dict[str, object]]]:
    """Write every bank's file in both versions under `out`; return {file name: expected rows in file order}."""
    rng = random.Random(SEED)
    out.mkdir(parents=True, exist_ok=True)
    truth: dict[str, list[dict[str, object]]] = {}
    for bank in BANKS:
        pays = payments(rng, count, dt.date(2026, 11, 19))
        for version in VERSIONS:
            name = f"camt054_{bank}_{version}.xml"
            (out / name).write_text(notification(bank, version, pays), encoding="utf-8")
            truth[name] = [expected(bank, p) for p in pays]
    return truth


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "camt054_se")
    (target / "truth.json").parent.mkdir(parents=True, exist_ok=True)
    (target / "truth.json").write_text(json.dumps(write_all(target), indent=1, ensure_ascii=False), encoding="utf-8")
