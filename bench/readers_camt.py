"""Peak memory and time of `amili-etl validate` on a large generated camt.054 (500 MB by default): the reader
streams per entry, so memory must stay far below the file's own size times ten.

Usage:
    python bench/readers_camt.py [--mb 500] [--repeats 1] [--file PATH] [--shape no|se]

The file (cached under /tmp) is one camt.054.001.08 notification for one Norwegian account: entries of three
credit transactions each (KID in CdtrRefInf, an invoice number in RfrdDocInf, payer name and account, an
InstdAmt in EUR that must not be read), amounts that tie. `--shape se`: a Swedish Bankgiro notification instead
(the bankgiro as BGNR account; payer name, postal address and organisation number; two Strd blocks per
transaction, each an OCR reference, an invoice number and its RfrdDocAmt). Each measurement is a fresh process; its peak RSS and
CPU time come from wait4. The machine is shared: read the medians, not single runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from readers_measure import run_measured

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">
 <BkToCstmrDbtCdtNtfctn>
  <GrpHdr><MsgId>BENCH</MsgId><CreDtTm>2026-11-20T06:00:00</CreDtTm></GrpHdr>
  <Ntfctn>
   <Id>BENCH-1</Id>
   <Acct><Id><IBAN>NO9386011117947</IBAN></Id></Acct>
"""
_TAIL = """  </Ntfctn>
 </BkToCstmrDbtCdtNtfctn>
</Document>
"""
_TX = """     <TxDtls>
      <Refs><AcctSvcrRef>T{n}</AcctSvcrRef><EndToEndId>E2E-{n}</EndToEndId></Refs>
      <Amt Ccy="NOK">{amount}</Amt>
      <CdtDbtInd>CRDT</CdtDbtInd>
      <AmtDtls><InstdAmt><Amt Ccy="EUR">1.00</Amt></InstdAmt><TxAmt><Amt Ccy="NOK">{amount}</Amt></TxAmt></AmtDtls>
      <RltdPties><Dbtr><Pty><Nm>Betaler {n}</Nm></Pty></Dbtr>
       <DbtrAcct><Id><Othr><Id>12345678903</Id></Othr></Id></DbtrAcct></RltdPties>
      <RmtInf><Ustrd>Faktura {n}</Ustrd><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>
       <Ref>{n:013d}</Ref></CdtrRefInf>
       <RfrdDocInf><Tp><CdOrPrtry><Cd>CINV</Cd></CdOrPrtry></Tp><Nb>F-{n}</Nb></RfrdDocInf></Strd></RmtInf>
     </TxDtls>
"""


_SE_ACCT = "<Acct><Id><Othr><Id>5402-9681</Id><SchmeNm><Prtry>BGNR</Prtry></SchmeNm></Othr></Id></Acct>"
_SE_TX = """     <TxDtls>
      <Refs><AcctSvcrRef>{n:012d}</AcctSvcrRef></Refs>
      <AmtDtls><TxAmt><Amt Ccy="SEK">{amount}</Amt></TxAmt></AmtDtls>
      <RltdPties><Dbtr><Pty><Nm>Betalare {n} AB</Nm><PstlAdr><StrtNm>Storgatan</StrtNm><BldgNb>{b}</BldgNb>
       <PstCd>111 22</PstCd><TwnNm>Stockholm</TwnNm><Ctry>SE</Ctry></PstlAdr>
       <Id><OrgId><Othr><Id>556{n:07d}</Id></Othr></OrgId></Id></Pty></Dbtr>
       <DbtrAcct><Id><Othr><Id>{n:08d}</Id><SchmeNm><Prtry>BGNR</Prtry></SchmeNm></Othr></Id></DbtrAcct></RltdPties>
      <RmtInf><Strd><RfrdDocInf><Tp><CdOrPrtry><Cd>CINV</Cd></CdOrPrtry></Tp><Nb>F{n}A</Nb></RfrdDocInf>
       <RfrdDocAmt><RmtdAmt Ccy="SEK">{first}</RmtdAmt></RfrdDocAmt>
       <CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>{n:09d}1</Ref></CdtrRefInf></Strd>
       <Strd><RfrdDocInf><Tp><CdOrPrtry><Cd>CINV</Cd></CdOrPrtry></Tp><Nb>F{n}B</Nb></RfrdDocInf>
       <RfrdDocAmt><RmtdAmt Ccy="SEK">100.00</RmtdAmt></RfrdDocAmt>
       <CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>{n:09d}2</Ref></CdtrRefInf></Strd></RmtInf>
     </TxDtls>
"""
_SHAPE = "no"


def _tx(n: int, a: int) -> str:
    if _SHAPE == "se":
        return _SE_TX.format(n=n, amount=f"{a + 100}.00", first=f"{a}.00", b=n % 90 + 1)
    return _TX.format(n=n, amount=f"{a}.00")


def _entry(k: int) -> str:
    amounts = [100 + (k * 3 + j) % 9000 for j in range(3)]
    if _SHAPE == "se":
        amounts = [a + 100 for a in amounts]  # each transaction: its first invoice's amount + the second's 100.00
        txs = "".join(_tx(k * 3 + j, a - 100) for j, a in enumerate(amounts))
    else:
        txs = "".join(_tx(k * 3 + j, a) for j, a in enumerate(amounts))
    return (
        f"   <Ntry>\n    <Amt Ccy=\"{'SEK' if _SHAPE == 'se' else 'NOK'}\">{sum(amounts)}.00</Amt>\n"
        "    <CdtDbtInd>CRDT</CdtDbtInd>\n"
        f"    <Sts><Cd>BOOK</Cd></Sts>\n    <BookgDt><Dt>2026-11-19</Dt></BookgDt>\n"
        f"    <AcctSvcrRef>E{k}</AcctSvcrRef>\n    <NtryDtls>\n{txs}    </NtryDtls>\n   </Ntry>\n"
    )


def ensure_file(mb: int, path: Path | None) -> tuple[Path, int]:
    """(the benchmark file, its number of transactions), generated once per size."""
    path = path or Path(f"/tmp/amili-bench-camt-{_SHAPE}-{mb}mb.xml")
    per_entry = len(_entry(10**6).encode())
    entries = max(1, mb * 1_000_000 // per_entry)
    if not path.exists():
        tmp = path.with_suffix(".part")
        with tmp.open("w", encoding="utf-8") as out:
            out.write(_HEAD if _SHAPE == "no" else _HEAD.replace(
                "<Acct><Id><IBAN>NO9386011117947</IBAN></Id></Acct>", _SE_ACCT))
            for k in range(entries):
                out.write(_entry(k))
            out.write(_TAIL)
        tmp.replace(path)
    return path, entries * 3


def main() -> None:
    """Generate, measure, report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--file", type=Path)
    ap.add_argument("--shape", choices=("no", "se"), default="no")
    args = ap.parse_args()
    global _SHAPE
    _SHAPE = args.shape
    path, transactions = ensure_file(args.mb, args.file)
    size = path.stat().st_size / 1e6
    print(f"file: {path} ({size:.0f} MB, {transactions} transactions)", flush=True)
    cmd = [sys.executable, "-m", "etl", "validate", "--out", "/tmp/amili-bench-camt-reports", str(path)]
    runs = []
    for k in range(args.repeats):
        runs.append(run_measured(cmd))
        t, mb, cpu = runs[-1]
        print(f"  run {k + 1}: {t:.1f} s wall, {cpu:.1f} s CPU, peak {mb:.0f} MB", flush=True)
    peak = max(r[1] for r in runs)
    wall = statistics.median(r[0] for r in runs)
    print(f"amili-etl validate: median {wall:.1f} s wall, {transactions / wall:,.0f} transactions/s, "
          f"peak {peak:.0f} MB = {peak / size:.2f}x the file (limit: 10x; meaningful for large files: the process "
          "alone, with polars and pandera loaded, starts at about 120 MB)")


if __name__ == "__main__":
    main()
