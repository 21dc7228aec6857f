"""Write the hostile-input corpus (issue 14) into files/ and its expectations into manifest.json (fixed content).

Run `python tests/data/hostile/generate.py` after changing a case. Every file is built here from scratch or from
the public samples in tests/data by a small function; nothing is random but for seeded junk, so the bytes are
the same on every run. Files too big to commit (zip bombs, 10 MB files) and those that are not regular files
(symlink, FIFO) are written by `write_at_test_time(folder)`, which the tests and the bench call into a tmp folder.

manifest.json: a list of entries, one per file (schema in `Case` below); tests/test_hostile_corpus.py checks them.
None of these files is one of tests/data/malformed (the kinder corpus); a test compares their bytes.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import random
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
MANIFEST = HERE / "manifest.json"
DATA = HERE.parent
OCR1 = (DATA / "ocr_giro" / "ocr1.txt").read_text(encoding="latin-1").splitlines()
BGMAX4 = (DATA / "bgmax" / "BgMaxfil4.txt").read_bytes().decode("latin-1").splitlines()
RABO = (DATA / "mt940" / "rabobank-iban.sta").read_text(encoding="utf-8")
SB1_HEADER = "Dato;Beskrivelse;Rentedato;Inn;Ut;Til konto;Fra konto;"
DNB_HEADER = "Dato;Forklaring;Rentedato;Ut fra konto;Inn på konto"
INV_HEADER = ["invoice_number", "customer_number", "customer_name", "kid", "invoice_date", "due_date",
              "currency", "amount_excl_vat", "vat_amount", "amount_incl_vat"]
FNR_NAME = "OCR_fnr15076537108.txt"  # a (synthetic) Norwegian national id in a file name
FNR = "15076537108"
MT_ROWS = 4  # :61: entries in tests/data/mt940/rabobank-iban.sta
_ZIP_TIME = (2026, 1, 1, 0, 0, 0)  # fixed zip member timestamps: the same bytes on every run


@dataclass
class Case:
    """One hostile file and what it must produce (the manifest's schema).

    status / exit_code: one value, or a list of acceptable values where the issue leaves the choice open.
    rows / valid / rejected: the counts of `validate --json` (null: not checked).
    total_amount: the net sum of valid payment rows (payment formats; null: not checked).
    message_any: at least one must occur (case-insensitive) in the one-line message, or for rejected_rows in
    the rejects file; checked whenever the status is not ok. Empty: not checked.
    no_misread: the file holds a lying amount that must not be read as a number: at most `max_valid` rows are
    valid and, when any is, the valid total is `valid_total` (payment formats), so the lie is in no valid row.
    forbid_output: strings that must appear nowhere in stdout, stderr or written reports (e.g. /etc/passwd).
    single: run alone in its own `validate` process (a kind that aborted or blew up memory before the fixes).
    generated_at_test_time: not committed; `write_at_test_time` builds it (too big, or not a regular file).
    inbox_poison: also goes into the inbox test beside the good sample files (must end in failed/).
    """

    file: str
    kind: str  # the attack, in a few words
    pretends: str  # the format it pretends to be (a validate --json `format`, or "any")
    status: str | list[str]
    exit_code: int | list[int]
    rows: int | None = None
    valid: int | None = None
    rejected: int | None = None
    total_amount: str | None = None
    message_any: list[str] = field(default_factory=list)
    no_misread: bool = False
    max_valid: int | None = None
    valid_total: str | None = None
    forbid_output: list[str] = field(default_factory=list)
    single: bool = False
    generated_at_test_time: bool = False
    inbox_poison: bool = False
    invariants: list[str] = field(default_factory=lambda: ["no_traceback", "no_signal", "peak_rss_below_1gb"])


# ---------------------------------------------------------------------------------------------- builders


def _zip(members: dict[str, bytes], level: int = 9) -> bytes:
    """A deterministic zip (fixed timestamps, deflated)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in members.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, content, compresslevel=level)
    return buf.getvalue()


def _col(n: int) -> str:
    """Excel column letters of 0-based column n."""
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def _esc(v: str) -> str:
    return v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _sheet_xml(rows: list[list[object]], dimension: str | None = None, extra_cells: str = "",
               padding: bytes = b"") -> bytes:
    """A worksheet with inline strings (str) and numbers (int/float); `extra_cells` is raw XML after the rows."""
    out = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, v in enumerate(row):
            ref = f"{_col(c)}{r}"
            if v is None:
                continue
            if isinstance(v, (int, float)):
                cells.append(f'<c r="{ref}"><v>{v}</v></c>')
            else:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{_esc(str(v))}</t></is></c>')
        out.append(f'<row r="{r}">{"".join(cells)}</row>')
    if dimension is None:
        width = max((len(r) for r in rows), default=1)
        dimension = f"A1:{_col(width - 1)}{max(len(rows), 1)}"
    head = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f'<dimension ref="{dimension}"/><sheetData>').encode()
    return head + padding + ("".join(out) + extra_cells + "</sheetData></worksheet>").encode()


def _xlsx(sheets: dict[str, bytes], drop: tuple[str, ...] = (), extra: dict[str, bytes] | None = None,
          level: int = 9) -> bytes:
    """A minimal workbook around ready-made sheet XML (sheet name -> worksheet bytes); `drop` leaves parts out."""
    names = list(sheets)
    members = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
                      'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                      for i in range(1, len(names) + 1))
            + "</Types>").encode(),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="xl/workbook.xml"/></Relationships>').encode(),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
            + "".join(f'<sheet name="{_esc(n)}" sheetId="{i}" r:id="rId{i}"/>' for i, n in enumerate(names, 1))
            + "</sheets></workbook>").encode(),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                      f'relationships/worksheet" Target="worksheets/sheet{i}.xml"/>' for i in range(1, len(names) + 1))
            + "</Relationships>").encode(),
    }
    for i, n in enumerate(names, 1):
        members[f"xl/worksheets/sheet{i}.xml"] = sheets[n]
    members.update(extra or {})
    return _zip({k: v for k, v in members.items() if k not in drop}, level)


def _kid(n: int) -> str:
    """A MOD10 (Luhn) KID for invoice n: seven digits with leading zeros, unique per n."""
    base = f"{n:06d}"
    total = 0
    for i, d in enumerate(reversed(base)):
        v = int(d) * (2 if i % 2 == 0 else 1)
        total += v - 9 if v > 9 else v
    return base + str((10 - total % 10) % 10)


def _inv(n: int, amount: str = "1000.00", excl: str = "800.00", vat: str = "200.00", kid: str | None = None,
         currency: str = "NOK") -> list[str]:
    """One generic invoice row (invoice number 9000+n, KID unique per n: a file never repeats a KID)."""
    kid = _kid(n) if kid is None else kid
    return [f"H-{9000 + n}", f"C-{n}", f"Hostil Kunde {n} AS", kid, "2026-10-01", "2026-10-15", currency, excl,
            vat, amount]


def _inv_csv(rows: list[list[str]], sep: str = ",", header: list[str] | None = None, eol: str = "\n",
             quote: bool = False) -> str:
    """A generic invoice CSV as text."""
    def line(cells: list[str]) -> str:
        return sep.join(f'"{c}"' if quote else c for c in cells)
    return eol.join(line(r) for r in [header or INV_HEADER, *rows]) + eol


def _sb1(rows: list[tuple[str, str, str]], text_amount: bool = True) -> str:
    """A SpareBank 1 export: rows of (text, inn, ut), all into our account 15062995960."""
    out = [SB1_HEADER]
    for text, inn, ut in rows:
        out.append(f'"20.11.2026";"{text}";;"{inn}";"{ut}";"15062995960";"33374467307";')
    return "\n".join(out) + "\n"


_SB1_GOOD = ("Innbetaling KID 0000531", "10,00", "")


def _dnb(rows: list[tuple[str, str, str]]) -> str:
    """A DNB export with BOM: rows of (text, ut, inn)."""
    return "\ufeff" + "\n".join([DNB_HEADER, *(f"20.11.2026;{t};20.11.2026;{ut};{inn}" for t, ut, inn in rows)]) + "\n"


def _set(line: str, start: int, new: str) -> str:
    """`line` with `new` written at 1-based position `start`."""
    return line[: start - 1] + new + line[start - 1 + len(new):]


def _ocr(lines: list[str], eol: str = "\n") -> bytes:
    return (eol.join(lines) + eol).encode("latin-1")


_CAMT_NS = {"054": "urn:iso:std:iso:20022:tech:xsd:camt.054.001.02",
            "053": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"}


def _ntry(i: int, amount: str = "100.00", status: str = "BOOK", cdt: str | None = "CRDT", ccy: str = "NOK",
          amt_xml: str | None = None, status_xml: str | None = None) -> str:
    """One camt entry (a credit with a KID) as XML text."""
    amt = amt_xml if amt_xml is not None else f'<Amt Ccy="{ccy}">{amount}</Amt>'
    sts = status_xml if status_xml is not None else f"<Sts>{status}</Sts>"
    ind = f"<CdtDbtInd>{cdt}</CdtDbtInd>" if cdt else ""
    return (f"<Ntry><NtryRef>H{i}</NtryRef>{amt}{ind}{sts}<BookgDt><Dt>2026-11-20</Dt></BookgDt>"
            f"<ValDt><Dt>2026-11-20</Dt></ValDt><AcctSvcrRef>HOSTILE-{i:04d}</AcctSvcrRef>"
            "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
            f"<NtryDtls><TxDtls><Refs><EndToEndId>E2E-H{i}</EndToEndId></Refs>"
            f"<RltdPties><Dbtr><Nm>Betaler {i}</Nm></Dbtr></RltdPties>"
            "<RmtInf><Strd><CdtrRefInf><Ref>0000531</Ref></CdtrRefInf></Strd></RmtInf></TxDtls></NtryDtls></Ntry>\n")


def _camt054(entries: list[str], decl: str = '<?xml version="1.0" encoding="UTF-8"?>\n', prolog: str = "",
             pad: str = "") -> str:
    """A camt.054.001.02 notification on a Norwegian account holding `entries`."""
    return (decl + prolog + f'<Document xmlns="{_CAMT_NS["054"]}"><BkToCstmrDbtCdtNtfctn>\n'
            "<GrpHdr><MsgId>HOSTILE-054</MsgId><CreDtTm>2026-11-20T06:00:00</CreDtTm></GrpHdr>\n"
            "<Ntfctn><Id>HOSTILE-054-1</Id><CreDtTm>2026-11-20T06:00:00</CreDtTm>"
            "<Acct><Id><Othr><Id>15062995960</Id></Othr></Id><Ccy>NOK</Ccy></Acct>\n"
            + pad + "".join(entries) + "</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>\n")


def _camt053(entries: list[str], opening: str, closing: str) -> str:
    """A camt.053.001.02 statement with opening (OPBD) and closing (CLBD) balances around `entries`."""
    def bal(code: str, amount: str) -> str:
        return (f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="NOK">{amount}</Amt>'
                "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-20</Dt></Dt></Bal>\n")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<Document xmlns="{_CAMT_NS["053"]}"><BkToCstmrStmt>\n'
            "<GrpHdr><MsgId>HOSTILE-053</MsgId><CreDtTm>2026-11-20T06:00:00</CreDtTm></GrpHdr>\n"
            "<Stmt><Id>HOSTILE-053-1</Id><CreDtTm>2026-11-20T06:00:00</CreDtTm>"
            "<Acct><Id><Othr><Id>15062995960</Id></Othr></Id><Ccy>NOK</Ccy></Acct>\n"
            + bal("OPBD", opening) + bal("CLBD", closing) + "".join(entries)
            + "</Stmt></BkToCstmrStmt></Document>\n")


# ---------------------------------------------------------------------------------------------- cases

ContentFn = Callable[[], bytes]
CASES: list[tuple[Case, ContentFn]] = []


def case(**kw: object) -> Callable[[ContentFn], ContentFn]:
    """Register a file builder with its expectations."""
    def wrap(fn: ContentFn) -> ContentFn:
        CASES.append((Case(**kw), fn))  # type: ignore[arg-type]
        return fn
    return wrap


_GOOD_INV_SHEET = [INV_HEADER, _inv(1), _inv(2)]
_UNREAD = ["unreadable", "unrecognised"]  # either is a clear refusal (exit 3) where the issue does not choose


# --- .xlsx / .xls: the reader must never abort or blow up --------------------------------------------------

@case(file="xlsx_far_cell_XFD1048576.xlsx", kind="far cell XFD1048576 (512 GiB dense allocation)",
      pretends="invoices_xlsx", status=_UNREAD, exit_code=3, rows=0, valid=0, single=True, inbox_poison=True)
def _far_cell() -> bytes:
    far = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    return _xlsx({"Invoices": _sheet_xml(_GOOD_INV_SHEET, dimension="A1:XFD1048576", extra_cells=far)})


@case(file="xlsx_far_cell_no_dimension.xlsx", kind="far cell XFD1048576 without a <dimension> element",
      pretends="bank_xlsx", status=_UNREAD, exit_code=3, rows=0, valid=0, single=True, inbox_poison=True)
def _far_cell_nodim() -> bytes:
    xml = _sheet_xml([["Dato", "Beskrivelse", "Rentedato", "Inn", "Ut", "Til konto", "Fra konto"]],
                     extra_cells='<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
    return _xlsx({"Transaksjoner": xml.replace(b'<dimension ref="A1:G1"/>', b"")})


@case(file="xlsx_dimension_understated.xlsx", kind="declared dimension A1:J2 lies: 30 data rows follow",
      pretends="invoices_xlsx", status="ok", exit_code=0, rows=30, valid=30, rejected=0)
def _dim_under() -> bytes:
    rows = [INV_HEADER, *[_inv(i) for i in range(1, 31)]]
    return _xlsx({"Invoices": _sheet_xml(rows, dimension="A1:J2")})


@case(file="xlsx_dimension_overstated.xlsx", kind="declared dimension A1:XFD1048576 over two real rows",
      pretends="invoices_xlsx", status=["ok", "unreadable", "unrecognised"], exit_code=[0, 3], single=True,
      inbox_poison=True)
def _dim_over() -> bytes:
    return _xlsx({"Invoices": _sheet_xml(_GOOD_INV_SHEET, dimension="A1:XFD1048576")})


@case(file="xlsx_zip_bomb_small.xlsx", kind="zip bomb: ~100 KB sheet inflating to 100 MB of row padding",
      pretends="invoices_xlsx", status=_UNREAD, exit_code=3, rows=0, valid=0,
      message_any=["zip", "compress", "ratio", "inflat", "too large", "size"], single=True, inbox_poison=True)
def _bomb_small() -> bytes:
    # Whitespace between rows is legal XML: only the inflated size and the ratio give it away.
    return _xlsx({"Invoices": _sheet_xml(_GOOD_INV_SHEET, padding=b" " * 100_000_000)})


@case(file="xlsx_zip_bomb_shared_strings.xlsx", kind="zip bomb in xl/sharedStrings.xml (one 60 MB string)",
      pretends="invoices_xlsx", status=_UNREAD, exit_code=3, rows=0, valid=0,
      message_any=["zip", "compress", "ratio", "inflat", "too large", "size"], single=True)
def _bomb_sst() -> bytes:
    sst = (b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
           b'2006/main" count="1" uniqueCount="1"><si><t>' + b"A" * 60_000_000 + b"</t></si></sst>")
    sheet = _sheet_xml(_GOOD_INV_SHEET, extra_cells='<row r="4"><c r="A4" t="s"><v>0</v></c></row>')
    return _xlsx({"Invoices": sheet}, extra={"xl/sharedStrings.xml": sst})


@case(file="xlsx_not_a_zip.xlsx", kind="zip magic then junk (not a zip)", pretends="invoices_xlsx",
      status=_UNREAD, exit_code=3, rows=0, valid=0)
def _not_zip() -> bytes:
    return b"PK\x03\x04" + random.Random(1403).randbytes(3000)


@case(file="xlsx_missing_workbook.xlsx", kind="a zip without xl/workbook.xml", pretends="invoices_xlsx",
      status=_UNREAD, exit_code=3, rows=0, valid=0)
def _no_workbook() -> bytes:
    return _xlsx({"Invoices": _sheet_xml(_GOOD_INV_SHEET)}, drop=("xl/workbook.xml",))


@case(file="xlsx_missing_sheet_part.xlsx", kind="workbook lists a sheet whose part is missing",
      pretends="invoices_xlsx", status=_UNREAD, exit_code=3, rows=0, valid=0)
def _no_sheet() -> bytes:
    return _xlsx({"Invoices": _sheet_xml(_GOOD_INV_SHEET)}, drop=("xl/worksheets/sheet1.xml",))


@case(file="xls_garbage.xls", kind="OLE2 compound header, a FAT pointing nowhere, seeded junk",
      pretends="invoices_xlsx", status=_UNREAD, exit_code=3, rows=0, valid=0)
def _xls() -> bytes:
    head = bytearray(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + b"\x3e\x00\x03\x00\xfe\xff\x09\x00")
    head += b"\x06\x00" + b"\x00" * 10 + b"\xff\xff\xff\x7f" * 4  # absurd sector counts
    return bytes(head) + random.Random(1404).randbytes(4096 - len(head))


@case(file="invoices_two_months_oktober_november.xlsx", kind="invoice workbook: sheets Oktober and November",
      pretends="invoices_xlsx", status="ok", exit_code=0, rows=5, valid=5, rejected=0)
def _two_months() -> bytes:
    okt = [INV_HEADER, _inv(11), _inv(12)]
    nov = [INV_HEADER, _inv(21), _inv(22), _inv(23)]
    return _xlsx({"Oktober": _sheet_xml(okt), "November": _sheet_xml(nov)})


@case(file="invoices_known_and_unknown_sheet.xlsx",
      kind="a known invoice sheet beside a sheet of data under an unknown header ('Kreditnotaer')",
      pretends="invoices_xlsx", status=["unreadable", "unrecognised"], exit_code=3, valid=0,
      message_any=["Kreditnotaer"])
def _unknown_sheet() -> bytes:
    credit = [["Nr", "Kunde", "Beløp"], ["K-1", "C-1", "-250.00"], ["K-2", "C-2", "-99.00"]]
    return _xlsx({"Fakturaer": _sheet_xml(_GOOD_INV_SHEET), "Kreditnotaer": _sheet_xml(credit)})


@case(file="invoices_xlsx_repeated_amount_column.xlsx", kind="repeated header amount_incl_vat in .xlsx",
      pretends="invoices_xlsx", status=["unreadable", "unrecognised"], exit_code=3, valid=0,
      message_any=["amount_incl_vat"])
def _xlsx_repeat() -> bytes:
    rows = [[*INV_HEADER, "amount_incl_vat"], [*_inv(1), "9999.00"]]
    return _xlsx({"Invoices": _sheet_xml(rows)})


@case(file="invoices_xlsx_kid_as_number.xlsx", kind="KID 0000539 stored by Excel as the number 539",
      pretends="invoices_xlsx", status="ok", exit_code=0, rows=1, valid=1, rejected=0)
def _xlsx_kid_number() -> bytes:
    row: list[object] = _inv(53)
    row[3] = int(_kid(53))
    return _xlsx({"Invoices": _sheet_xml([INV_HEADER, row])})


@case(file="invoices_xlsx_amount_563.04.00.xlsx", kind="text amount 563.04.00 in an .xlsx cell",
      pretends="invoices_xlsx", status="rejected_rows", exit_code=1, rows=2, valid=1, rejected=1,
      message_any=["563.04.00"], no_misread=True, max_valid=1)
def _xlsx_amount_text() -> bytes:
    return _xlsx({"Invoices": _sheet_xml([INV_HEADER, _inv(1), _inv(2, amount="563.04.00", excl="450.43",
                                                                     vat="112.61")])})


@case(file="invoices_xlsx_amount_1e20.xlsx", kind="numeric cell 1E+20 (beyond any bound)",
      pretends="invoices_xlsx", status="rejected_rows", exit_code=1, rows=2, valid=1, rejected=1,
      message_any=["1e+20", "1E20", "100000000000000000000", "bound", "too large"], no_misread=True,
      max_valid=1)
def _xlsx_amount_huge() -> bytes:
    row: list[object] = _inv(2)
    row[7], row[8], row[9] = 1e20, 0, 1e20
    return _xlsx({"Invoices": _sheet_xml([INV_HEADER, _inv(1), row])})


# --- generic invoice CSV: what Excel does to it ---------------------------------------------------------------

_TWO = [_inv(1), _inv(2)]


@case(file="invoices_excel_bom_semicolon.csv", kind="Excel 'CSV UTF-8': BOM and ';'", pretends="invoices_csv",
      status="ok", exit_code=0, rows=2, valid=2, rejected=0)
def _bom_semi() -> bytes:
    return ("\ufeff" + _inv_csv(_TWO, ";", eol="\r\n")).encode()


@case(file="invoices_tab_separated.txt", kind="TAB-separated export", pretends="invoices_csv", status="ok",
      exit_code=0, rows=2, valid=2, rejected=0)
def _tab() -> bytes:
    return _inv_csv(_TWO, "\t").encode()


@case(file="invoices_excel_unicode_text_utf16le.txt", kind="Excel 'Unicode text': UTF-16LE BOM, TAB, CRLF",
      pretends="invoices_csv", status="ok", exit_code=0, rows=2, valid=2, rejected=0)
def _utf16le() -> bytes:
    return codecs.BOM_UTF16_LE + _inv_csv(_TWO, "\t", eol="\r\n").encode("utf-16-le")


@case(file="invoices_utf16be_bom.csv", kind="UTF-16BE with BOM, ','", pretends="invoices_csv", status="ok",
      exit_code=0, rows=2, valid=2, rejected=0)
def _utf16be() -> bytes:
    return codecs.BOM_UTF16_BE + _inv_csv(_TWO).encode("utf-16-be")


@case(file="invoices_crlf.csv", kind="CRLF line ends", pretends="invoices_csv", status="ok", exit_code=0, rows=2,
      valid=2, rejected=0)
def _crlf() -> bytes:
    return _inv_csv(_TWO, eol="\r\n").encode()


@case(file="invoices_quoted_headers.csv", kind="every header and cell quoted", pretends="invoices_csv",
      status="ok", exit_code=0, rows=2, valid=2, rejected=0)
def _quoted() -> bytes:
    return _inv_csv(_TWO, quote=True).encode()


@case(file="invoices_trailing_empty_columns.csv", kind="trailing empty columns (',,,') on every line",
      pretends="invoices_csv", status="ok", exit_code=0, rows=2, valid=2, rejected=0)
def _trailing() -> bytes:
    return "".join(line + ",,,\n" for line in _inv_csv(_TWO).splitlines()).encode()


@case(file="invoices_pipe_separated.csv", kind="known header, separator '|' (not the layout's)", pretends="invoices_csv",
      status="ok", exit_code=0, rows=2, valid=2)
def _pipe() -> bytes:
    return _inv_csv(_TWO, "|").encode()


@case(file="invoices_near_miss_header.csv", kind="near-miss header 'amount incl vat'", pretends="invoices_csv",
      status=["unrecognised", "unreadable"], exit_code=3, valid=0, message_any=["amount_incl_vat"])
def _near_miss() -> bytes:
    return _inv_csv(_TWO, header=[*INV_HEADER[:9], "amount incl vat"]).encode()


@case(file="invoices_repeated_amount_incl_vat.csv", kind="repeated header amount_incl_vat (second differs)",
      pretends="invoices_csv", status=["unreadable", "unrecognised"], exit_code=3, valid=0,
      message_any=["amount_incl_vat"])
def _repeat_inv() -> bytes:
    return _inv_csv([[*_inv(1), "1.00"], [*_inv(2), "2.00"]], header=[*INV_HEADER, "amount_incl_vat"]).encode()


@case(file="invoices_kid_zeros_stripped.csv", kind="KIDs whose leading zeros Excel stripped (539 for 0000539, 547 for 0000547)",
      pretends="invoices_csv", status="ok", exit_code=0, rows=2, valid=2, rejected=0)
def _kid_stripped() -> bytes:
    return _inv_csv([_inv(1, kid=_kid(53)[4:]), _inv(2, kid=_kid(54)[4:])]).encode()


@case(file="invoices_kid_scientific.csv", kind="KID shown by Excel as 1.23457E+10 (digits lost)",
      pretends="invoices_csv", status="rejected_rows", exit_code=1, rows=2, valid=1, rejected=1,
      message_any=["1.23457E+10"])
def _kid_sci() -> bytes:
    return _inv_csv([_inv(1), _inv(2, kid="1.23457E+10")]).encode()


def _amount_case(name: str, raw: str, kind: str, column: str = "incl") -> None:
    """A generic invoice CSV: one good row, one whose amount is `raw` (must be rejected quoting it)."""
    def build() -> bytes:
        bad = _inv(2, amount=raw, excl="800.00", vat="200.00") if column == "incl" else _inv(2, excl=raw)
        return _inv_csv([_inv(1), bad]).encode()
    case(file=name, kind=kind, pretends="invoices_csv", status="rejected_rows", exit_code=1, rows=2, valid=1,
         rejected=1, message_any=[raw], no_misread=True, max_valid=1)(build)


_amount_case("invoices_amount_2pow64_wrap.csv", "184467440737095517", "amount 184467440737095517 (wrapped to 0.84)",
             column="excl")
_amount_case("invoices_amount_1E+3.csv", "1E+3", "amount in exponent notation 1E+3")
_amount_case("invoices_amount_12e3.csv", "12e3", "amount in exponent notation 12e3")
_amount_case("invoices_amount_three_decimals.csv", "1000.005", "amount with 3 decimals in NOK")
_amount_case("invoices_amount_huge_negative.csv", "-99999999999999999999999.99", "huge negative amount")


# --- bank CSV ------------------------------------------------------------------------------------------------

@case(file="bank_sb1_repeated_Inn_column.csv", kind="repeated header 'Inn;Inn'", pretends="bank_csv",
      status=["unreadable", "unrecognised"], exit_code=3, valid=0, message_any=["Inn"])
def _inn_inn() -> bytes:
    head = "Dato;Beskrivelse;Rentedato;Inn;Inn;Ut;Til konto;Fra konto;"
    return (head + '\n"20.11.2026";"Innbetaling";;"10,00";"99999,00";;"15062995960";"33374467307";\n').encode()


def _bank_amount_case(name: str, raw: str, kind: str, layout: str = "sb1") -> None:
    """A bank CSV with one good 10,00 payment and one whose amount is `raw` (rejected quoting it; total 10.00)."""
    def build() -> bytes:
        if layout == "dnb":
            return _dnb([("Innbetaling KID 0000531", "", "10,00"), ("Innbetaling KID 0000549", "", raw)]).encode()
        return _sb1([_SB1_GOOD, ("Innbetaling KID 0000549", raw, "")]).encode()
    case(file=name, kind=kind, pretends="bank_csv", status="rejected_rows", exit_code=1, rows=2, valid=1,
         rejected=1, total_amount="10.00", message_any=[raw], no_misread=True,
         max_valid=1, valid_total="10.00")(build)


_bank_amount_case("bank_dnb_amount_563.04.00.csv", "563.04.00", "DNB amount 563.04.00 (read as 5,630,400.00)", "dnb")
_bank_amount_case("bank_dnb_amount_1.234,56,78.csv", "1.234,56,78", "amount with two decimal commas", "dnb")
_bank_amount_case("bank_sb1_amount_NaN.csv", "NaN", "amount NaN")
_bank_amount_case("bank_sb1_amount_inf.csv", "inf", "amount inf")
_bank_amount_case("bank_sb1_amount_double_minus.csv", "--5", "amount --5")
_bank_amount_case("bank_sb1_amount_arabic_indic_digits.csv", "١٢٣,٤٥", "non-ASCII (Arabic-Indic) digits")
_bank_amount_case("bank_sb1_amount_fullwidth_digits.csv", "１２３,４５", "non-ASCII (fullwidth) digits")


@case(file="bank_sb1_forbidden_xml_chars.csv",
      kind="U+FFFF, U+FFFE and C0 controls in the text (report workbook must stay valid XML)",
      pretends="bank_csv", status="ok", exit_code=0, rows=2, valid=2, rejected=0, total_amount="20.00")
def _xml_chars() -> bytes:
    bad = "Betaling \uffff fra \ufffe Kari \x01\x02\x0b\x0c\x1b\x1f slutt"
    return _sb1([_SB1_GOOD, (bad, "10,00", "")]).encode()


@case(file="bank_sb1_nul_padded_tail.csv", kind="good rows then 8 KB of NUL bytes (preallocated file)",
      pretends="bank_csv", status=["unreadable", "unrecognised"], exit_code=3, valid=0)
def _nul_tail() -> bytes:
    return _sb1([_SB1_GOOD]).encode() + b"\x00" * 8192


@case(file="bank_sb1_mixed_encodings.csv", kind="UTF-8 file with latin-1 bytes in one row", pretends="bank_csv",
      status=["ok", "unreadable"], exit_code=[0, 3])
def _mixed() -> bytes:
    return _sb1([("Innbetaling Bjørn", "10,00", "")]).encode() + \
        '"20.11.2026";"Innbetaling S\xf8rensen";;"10,00";;"15062995960";"33374467307";\n'.encode("latin-1")


@case(file="bank_sb1_cr_only_line_ends.csv", kind="classic Mac CR-only line ends", pretends="bank_csv",
      status="ok", exit_code=0, rows=2, valid=2, rejected=0, total_amount="20.00")
def _cr_only() -> bytes:
    return _sb1([_SB1_GOOD, ("Innbetaling KID 0000549", "10,00", "")]).replace("\n", "\r").encode()


# --- Nets OCR giro ---------------------------------------------------------------------------------------------

@case(file="ocr_utf8_bom.txt", kind="OCR giro with a UTF-8 BOM", pretends="ocr_giro", status="ok", exit_code=0,
      rows=23, valid=23, rejected=0, total_amount="15630.00")
def _ocr_bom() -> bytes:
    return codecs.BOM_UTF8 + _ocr(OCR1, "\r\n")


@case(file="ocr_record_cut_midfile.txt", kind="a transaction record cut to 41 characters mid-file",
      pretends="ocr_giro", status=["unreadable", "held_back"], exit_code=3, valid=0, message_any=["line 7"])
def _ocr_cut() -> bytes:
    lines = list(OCR1)
    lines[6] = lines[6][:41]
    return _ocr(lines)


@case(file="ocr_amount_not_digits.txt", kind="letters in an amount field", pretends="ocr_giro",
      status=["unreadable", "held_back", "rejected_rows"], exit_code=[1, 3], message_any=["line 5", "12A45"],
      no_misread=True, max_valid=22, valid_total="15550.00")
def _ocr_amount() -> bytes:
    lines = list(OCR1)
    lines[4] = _set(lines[4], 39, "12A45")
    return _ocr(lines)


@case(file="ocr_overlong_record.txt", kind="one 81-character record (one extra digit)", pretends="ocr_giro",
      status=["unreadable", "held_back"], exit_code=3, valid=0, message_any=["line 4"])
def _ocr_long() -> bytes:
    lines = list(OCR1)
    lines[3] = lines[3] + "7"
    return _ocr(lines)


@case(file="ocr_end_record_wrong_counts.txt", kind="end-of-transmission (89) counts 99 transactions, 23 present",
      pretends="ocr_giro", status="held_back", exit_code=3, message_any=["89"])
def _ocr_counts() -> bytes:
    lines = list(OCR1)
    lines[-1] = _set(lines[-1], 9, "00000099")
    return _ocr(lines)


@case(file="ocr_binary_junk_after_start.bin", kind="a valid start record, then 6 KB of seeded binary junk",
      pretends="ocr_giro", status=["unreadable", "held_back"], exit_code=3, valid=0)
def _ocr_junk() -> bytes:
    return _ocr(OCR1[:2]) + random.Random(1405).randbytes(6000)


@case(file="ocr_bom_only.txt", kind="empty but for a UTF-8 BOM and a CRLF", pretends="ocr_giro",
      status="unreadable", exit_code=3, rows=0, valid=0, message_any=["empty"])
def _ocr_empty() -> bytes:
    return codecs.BOM_UTF8 + b"\r\n"


@case(file="ocr_only_start_and_end.txt", kind="start (10) and end (89) of transmission, no assignment",
      pretends="ocr_giro", status=["ok", "unreadable", "held_back"], exit_code=[0, 3], rows=0, valid=0)
def _ocr_start_end() -> bytes:
    end = _set(_set(_set(OCR1[-1], 9, "00000000"), 17, "00000002"), 25, "0" * 17)
    return _ocr([OCR1[0], end])


@case(file=FNR_NAME, kind="a national id (fnr) in the file name; content a good OCR giro",
      pretends="ocr_giro", status="ok", exit_code=0, rows=23, valid=23, rejected=0, forbid_output=[FNR],
      single=True)  # alone: the id must be masked in this run's terminal output and reports
def _ocr_fnr() -> bytes:
    return _ocr(OCR1, "\r\n")


# --- Bankgirot BgMax -------------------------------------------------------------------------------------------

def _bg(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def _bg_currency(lines: list[str], tk: str, ccy: str) -> list[str]:
    out = list(lines)
    for i, line in enumerate(out):
        if line.startswith(tk):
            out[i] = line.replace("SEK", ccy, 1)
    return out


@case(file="bgmax_currency_XYZ.txt", kind="currency XYZ in TK05 and TK15", pretends="bgmax", status="held_back",
      exit_code=3, message_any=["XYZ"])
def _bg_xyz() -> bytes:
    return _bg(_bg_currency(_bg_currency(BGMAX4, "05", "XYZ"), "15", "XYZ"))


@case(file="bgmax_tk05_EUR_tk15_SEK.txt", kind="TK05 opens in EUR, TK15 closes in SEK", pretends="bgmax",
      status="held_back", exit_code=3, message_any=["EUR"])
def _bg_eur() -> bytes:
    return _bg(_bg_currency(BGMAX4, "05", "EUR"))


@case(file="bgmax_tk70_wrong_counts.txt", kind="TK70 counts 99 payments", pretends="bgmax", status="held_back",
      exit_code=3, message_any=["TK70", "70"])
def _bg_counts() -> bytes:
    lines = list(BGMAX4)
    i = next(i for i, line in enumerate(lines) if line.startswith("70"))
    lines[i] = _set(lines[i], 3, "00000099")
    return _bg(lines)


@case(file="bgmax_utf8_bom.txt", kind="BgMax with a UTF-8 BOM", pretends="bgmax", status="ok", exit_code=0,
      rejected=0)
def _bg_bom() -> bytes:
    return codecs.BOM_UTF8 + _bg(BGMAX4)


@case(file="bgmax_amount_18_nines.txt", kind="a TK20 amount of 18 nines (beyond any bound), deposit tied",
      pretends="bgmax", status=["rejected_rows", "held_back", "unreadable"], exit_code=[1, 3],
      message_any=["999999999999999999", "bound", "too large"], no_misread=True,
      max_valid=0)
def _bg_nines() -> bytes:
    lines = [line.rstrip("\r") for line in (DATA / "bgmax" / "minimal.txt").read_text(encoding="latin-1").splitlines()]
    lines[2] = _set(lines[2], 38, "999999999999999999")
    lines[3] = _set(lines[3], 51, "999999999999999999")  # TK15 deposit amount (51-68): the deposit ties
    return _bg(lines)


# --- camt ------------------------------------------------------------------------------------------------------

@case(file="camt054_pending_beside_booked.xml", kind="entries PDNG and PDNG beside one BOOK", pretends="camt054",
      status=["held_back", "rejected_rows"], exit_code=[1, 3], rows=3, valid=1, total_amount="100.00",
      message_any=["PDNG", "pending"])
def _pdng() -> bytes:
    return _camt054([_ntry(1), _ntry(2, "200.00", "PDNG"), _ntry(3, "300.00", "PDNG")]).encode()


@case(file="camt054_info_entry.xml", kind="an INFO entry beside a BOOK (v8 style <Sts><Cd>)", pretends="camt054",
      status=["held_back", "rejected_rows"], exit_code=[1, 3], rows=2, valid=1, total_amount="100.00",
      message_any=["INFO", "informational"])
def _info() -> bytes:
    return _camt054([_ntry(1, status_xml="<Sts><Cd>BOOK</Cd></Sts>"),
                     _ntry(2, "700.00", status_xml="<Sts><Cd>INFO</Cd></Sts>")]).encode()


@case(file="camt054_doctype_after_comment.xml",
      kind="DOCTYPE after a comment that contains <Document> (text check bypass)", pretends="camt054",
      status="unreadable", exit_code=3, rows=0, valid=0, message_any=["DOCTYPE", "DTD"],
      forbid_output=["root:x:0"])
def _doctype_comment() -> bytes:
    prolog = ('<!-- <Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"> -->\n'
              '<!DOCTYPE Document [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n')
    text = _camt054([_ntry(1)], prolog=prolog).replace("<Nm>Betaler 1</Nm>", "<Nm>&x;</Nm>")
    return text.encode()


@case(file="camt054_billion_laughs.xml", kind="billion laughs (10 levels x 10) in the internal subset",
      pretends="camt054", status="unreadable", exit_code=3, rows=0, valid=0,
      message_any=["DOCTYPE", "DTD", "entit"], single=True, inbox_poison=True)
def _lol() -> bytes:
    ents = '<!ENTITY lol0 "lol">\n' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">\n' for i in range(1, 10))
    text = _camt054([_ntry(1)], prolog=f"<!DOCTYPE Document [\n{ents}]>\n")
    return text.replace("<Nm>Betaler 1</Nm>", "<Nm>&lol9;</Nm>").encode()


@case(file="camt054_external_entity_passwd.xml", kind="external entity SYSTEM file:///etc/passwd in a camt.054",
      pretends="camt054", status="unreadable", exit_code=3, rows=0, valid=0, message_any=["DOCTYPE", "DTD", "entit"],
      forbid_output=["root:x:0", "/bin/bash", "nologin"])
def _xxe() -> bytes:
    text = _camt054([_ntry(1)], prolog='<!DOCTYPE Document SYSTEM "file:///etc/passwd">\n')
    return text.encode()


@case(file="camt054_parameter_entity.xml", kind="external parameter entity (%) fetching file:///etc/passwd",
      pretends="camt054", status="unreadable", exit_code=3, rows=0, valid=0, message_any=["DOCTYPE", "DTD", "entit"],
      forbid_output=["root:x:0"])
def _pe() -> bytes:
    prolog = '<!DOCTYPE Document [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>\n'
    return _camt054([_ntry(1)], prolog=prolog).encode()


@case(file="camt054_utf16le.xml", kind="camt.054 in UTF-16LE with BOM and encoding declaration",
      pretends="camt054", status=["ok", "unreadable"], exit_code=[0, 3], message_any=["UTF-16", "utf-16", "utf16"])
def _camt_utf16() -> bytes:
    text = _camt054([_ntry(1), _ntry(2)], decl='<?xml version="1.0" encoding="UTF-16"?>\n')
    return codecs.BOM_UTF16_LE + text.encode("utf-16-le")


def _camt_amount_case(name: str, raw_xml: str, raw: str, kind: str) -> None:
    """A camt.054 with a good 100.00 entry and one whose Amt is `raw_xml` (rejected quoting `raw`)."""
    def build() -> bytes:
        return _camt054([_ntry(1), _ntry(2, amt_xml=raw_xml)]).encode()
    case(file=name, kind=kind, pretends="camt054", status=["rejected_rows", "unreadable", "held_back"],
         exit_code=[1, 3], message_any=[raw], no_misread=True, max_valid=1, valid_total="100.00")(build)


_camt_amount_case("camt054_amount_1E+3.xml", '<Amt Ccy="NOK">1E+3</Amt>', "1E+3", "Amt 1E+3 (not an ISO decimal)")
_camt_amount_case("camt054_amount_comma.xml", '<Amt Ccy="NOK">1000,00</Amt>', "1000,00", "Amt with a decimal comma")
_camt_amount_case("camt054_amount_negative.xml", '<Amt Ccy="NOK">-100.00</Amt>', "-100.00",
                  "negative Amt (sign belongs in CdtDbtInd)")
_camt_amount_case("camt054_amount_three_decimals.xml", '<Amt Ccy="NOK">100.005</Amt>', "100.005",
                  "Amt with 3 decimals in NOK")


@case(file="camt054_missing_cdtdbtind.xml", kind="an entry without CdtDbtInd", pretends="camt054",
      status=["rejected_rows", "unreadable", "held_back"], exit_code=[1, 3], message_any=["CdtDbtInd"],
      no_misread=True, max_valid=1, valid_total="100.00")
def _no_ind() -> bytes:
    return _camt054([_ntry(1), _ntry(2, "555.00", cdt=None)]).encode()


@case(file="camt054_deep_nesting.xml", kind="7,000 nested elements inside an entry (past libxml2 and Python recursion limits)", pretends="camt054",
      status="unreadable", exit_code=3, rows=0, valid=0, single=True)
def _deep() -> bytes:
    depth = 7_000
    inner = "<Nest>" * depth + "x" + "</Nest>" * depth
    return _camt054([_ntry(1).replace("<NtryDtls>", f"<AddtlNtryInf>{inner}</AddtlNtryInf><NtryDtls>")]).encode()


@case(file="camt054_truncated_in_entry.xml", kind="camt.054 cut inside the second entry's amount",
      pretends="camt054", status="unreadable", exit_code=3, rows=0, valid=0)
def _camt_cut() -> bytes:
    text = _camt054([_ntry(1), _ntry(2, "4321.00")])
    return text[: text.index("4321") + 2].encode()


@case(file="camt053_closing_balance_wrong.xml", kind="camt.053: OPBD 1000.00 + 300.00 in, CLBD says 1400.00",
      pretends="camt053", status="held_back", exit_code=3, message_any=["1400.00"])
def _camt_bal() -> bytes:
    return _camt053([_ntry(1), _ntry(2, "200.00")], "1000.00", "1400.00").encode()


# --- MT940 -----------------------------------------------------------------------------------------------------

@case(file="mt940_broken_61_amount.sta", kind=":61: amount '9,,50' (two commas)", pretends="mt940",
      status=["unreadable", "held_back", "rejected_rows"], exit_code=[1, 3], message_any=["9,,50", ":61:"],
      no_misread=True, max_valid=MT_ROWS - 1)
def _mt_amount() -> bytes:
    return RABO.replace(":61:130102D000000000010,00N154NONREF", ":61:130102D9,,50N154NONREF", 1).encode()


@case(file="mt940_missing_62F.sta", kind="no :62F: closing balance anywhere (middle statement too)",
      pretends="mt940", status=["held_back", "unreadable"], exit_code=3, message_any=["62F", "62M", "closing"])
def _mt_no_62() -> bytes:
    return "".join(line for line in RABO.splitlines(keepends=True) if not line.startswith(":62F:")).encode()


@case(file="mt940_balances_do_not_tie.sta", kind=":62F: off by 1000.00", pretends="mt940", status="held_back",
      exit_code=3, message_any=["balance"])
def _mt_bal() -> bytes:
    lines = RABO.splitlines(keepends=True)
    i = next(i for i, line in enumerate(lines) if line.startswith(":62F:"))
    tag, amount = lines[i].rstrip("\r\n").rsplit(",", 1)[0], lines[i].rstrip("\r\n").rsplit(",", 1)[1]
    head, digits = tag[:15], tag[15:]
    lines[i] = f"{head}{int(digits) + 1000},{amount}\n"
    return "".join(lines).encode()


# --- generated at test time: too big to commit, or not a regular file ------------------------------------------

TEST_TIME: list[Case] = [
    Case(file="xlsx_zip_bomb_1_5GB.xlsx", kind="zip bomb: ~1.5 MB inflating to 1.5 GB", pretends="invoices_xlsx",
         status=_UNREAD, exit_code=3, rows=0, valid=0,
         message_any=["zip", "compress", "ratio", "inflat", "too large", "size"], single=True,
         generated_at_test_time=True, inbox_poison=True),
    Case(file="bank_csv_10MB_single_line.csv", kind="10 MB on one line, no newline", pretends="bank_csv",
         status=_UNREAD, exit_code=3, rows=0, valid=0, single=True, generated_at_test_time=True),
    Case(file="camt054_10MB_whitespace.xml", kind="10 MB of whitespace between two good entries (read, or refused "
         "clearly as too large a text node)", pretends="camt054", status=["ok", "unreadable"], exit_code=[0, 3],
         no_misread=True, max_valid=2, valid_total="300.00", single=True,
         generated_at_test_time=True),
    Case(file="xlsx_10MB_many_rows.xlsx", kind="a 10 MB workbook of 150,000 rows with one far cell XFD1048576",
         pretends="invoices_xlsx", status=_UNREAD, exit_code=3, valid=0, single=True, generated_at_test_time=True),
    Case(file="symlink_to_etc_passwd.csv", kind="a symlink in the input folder pointing at /etc/passwd",
         pretends="any", status=["skipped", "unrecognised", "unreadable"], exit_code=[0, 3],
         forbid_output=["root:x:0"], generated_at_test_time=True),
    Case(file="fifo_in_inbox.txt", kind="a FIFO (named pipe) in the input folder: must not hang",
         pretends="any", status=["skipped", "unrecognised", "unreadable"], exit_code=[0, 3],
         generated_at_test_time=True),
]


def _write_big_bomb(path: Path, padding: int) -> None:
    """A workbook whose sheet inflates to `padding` bytes of whitespace, streamed (never held in memory)."""
    small = _xlsx({"Invoices": _sheet_xml(_GOOD_INV_SHEET)})
    sheet = _sheet_xml(_GOOD_INV_SHEET)
    cut = sheet.index(b"<sheetData>") + len(b"<sheetData>")
    chunk = b" " * 16_000_000
    with zipfile.ZipFile(io.BytesIO(small)) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            if item.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(info, src.read(item), compresslevel=9)
                continue
            with dst.open(info, "w", force_zip64=True) as out:
                out.write(sheet[:cut])
                for _ in range(padding // len(chunk)):
                    out.write(chunk)
                out.write(sheet[cut:])


def write_at_test_time(folder: Path, names: set[str] | None = None) -> dict[str, Path]:
    """Build the test-time files (all, or those in `names`) in `folder`; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def want(name: str) -> bool:
        return names is None or name in names

    if want(n := "xlsx_zip_bomb_1_5GB.xlsx"):
        out[n] = folder / n
        _write_big_bomb(out[n], 1_500_000_000)
    if want(n := "bank_csv_10MB_single_line.csv"):
        out[n] = folder / n
        out[n].write_bytes((SB1_HEADER.replace(";", "x") * 400_000)[:10_000_000].encode())
    if want(n := "camt054_10MB_whitespace.xml"):
        out[n] = folder / n
        out[n].write_bytes(_camt054([_ntry(1), " \n\t" * 3_400_000, _ntry(2, "200.00")]).encode())
    if want(n := "xlsx_10MB_many_rows.xlsx"):
        rows = [INV_HEADER, *[_inv(i) for i in range(1, 150_001)]]
        far = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
        out[n] = folder / n
        out[n].write_bytes(_xlsx({"Invoices": _sheet_xml(rows, extra_cells=far)}, level=1))
    if want(n := "symlink_to_etc_passwd.csv"):
        out[n] = folder / n
        os.symlink("/etc/passwd", out[n])
    if want(n := "fifo_in_inbox.txt"):
        out[n] = folder / n
        os.mkfifo(out[n])
    return out


def manifest() -> list[dict[str, object]]:
    """Every case's expectations, committed ones first."""
    return [asdict(c) for c, _ in CASES] + [asdict(c) for c in TEST_TIME]


def main() -> None:
    """Write every committed case and the manifest."""
    FILES.mkdir(exist_ok=True)
    for old in FILES.iterdir():
        old.unlink()
    for c, build in CASES:
        (FILES / c.file).write_bytes(build())
    MANIFEST.write_text(json.dumps(manifest(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    import sys

    # `generate.py --at-test-time DIR [NAME...]`: the big files, built in a process of their own so that the
    # caller's peak RSS (which every child it forks inherits as a floor of ru_maxrss) stays small.
    if sys.argv[1:2] == ["--at-test-time"]:
        write_at_test_time(Path(sys.argv[2]), set(sys.argv[3:]) or None)
    else:
        main()
