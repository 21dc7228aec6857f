"""ISO 20022 camt.053 (statement) and camt.054 (notification), versions .001.02 to .001.08, streamed per entry.

lxml's iterparse walks the file once; every `Ntry` is turned into rows when it ends and then cleared (with the
siblings before it), so memory stays flat whatever the file size. Elements are matched by their local name: the
reader does not care which camt version's namespace (or none, or a prefix) the file declares.

One row per `TxDtls` (one per `Ntry` when it has none). The amount is the transaction's own (`TxDtls/Amt`, then
`AmtDtls/TxAmt/Amt`), the entry's only when the entry holds a single transaction; `AmtDtls/InstdAmt` is the
payer's instructed amount, possibly another currency, and never used. Sign from `CdtDbtInd` (the transaction's,
else the entry's). The first creditor reference (SCOR first) is `reference`; every other `CdtrRefInf/Ref` and
every `RfrdDocInf/Nb` (invoice numbers) go to `extra_references`, ';'-joined. When a `Strd` carries an amount
(`RfrdDocAmt/RmtdAmt`; a credit note's `CdtNoteAmt` negative), every Strd's references are listed with their signed
amounts instead, the first one too (`extra_reference_amounts`, as BgMax's; see `_remittance`). The payer's name,
postal address and organisation number come from `Dbtr` (`.08`: `Dbtr/Pty`).

Every entry is accounted for. Booked entries (`Sts` BOOK, `.08` `Sts/Cd` or `Sts/Prtry` BOOK) become rows. An entry with any other
status (PDNG pending, INFO informational, FUTR, ...) is not a payment yet: its rows are read the same way but each
is rejected with the reason (check `camt_not_booked`: "pending entry (Sts PDNG), not booked: not delivered"), so it
is in the rejects file with its raw values, the Rejects sheet and validate's counts (rows = valid + rejected), and
never delivered; the booked version comes in a later file. Not-booked entries are in neither the balance check nor
the entry-sum check, and never change a booked row's payment key. Counts in `control` (booked_entries,
not_booked_entries).

Amounts follow the ISO 20022 decimal type only (`_amount_minor`): digits, an optional point and fraction digits,
nothing else (no sign: that is CdtDbtInd; no exponent, spaces, commas); at most 2 significant fraction digits
(never rounded) and below 10^16. A transaction or entry amount that is not rejects its rows quoting the raw value.

Checks (a file that does not tie is held back whole): per statement, opening (OPBD/PRCD) + booked entries =
closing (CLBD) and the `TxsSummry` count and net sum; per entry, its amount = the sum of its transactions'.

Safe parsing, by the XML parser itself (never a text check): the prolog is parsed first by lxml with a target that
refuses at the DOCTYPE callback (before the internal subset is read), so no DTD, entity declaration, parameter
entity or external entity is ever expanded or fetched; without a DTD the only entities are XML's five predefined
ones (any other reference is not well-formed). The streaming parse then runs with resolve_entities=False,
no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False and checks the tree's docinfo again.

Encodings: the bytes go to lxml, which honours a BOM and the XML declaration (UTF-8, UTF-16 LE/BE, ISO-8859-1,
...). A UTF-16 file that read_source already turned into UTF-8 still declares UTF-16: that declaration is read as
UTF-8 (the bytes are; see `_declared_utf16_as_utf8`).
"""

from __future__ import annotations

import io
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from lxml import etree

from etl.money import format_minor
from etl.sources.base import BALANCE_SCHEMA, PROBLEM_SCHEMA, SourceResult, empty_frame
from etl.sources.common import SourceError, reader_result, verdict
from etl.sources.keys import occurrence_expr, stable_key_expr

__all__ = ["read_camt053", "read_camt054", "read_camt", "parse_options"]

_ROW_COLS = [
    "source_line", "account", "booking_date", "amount_minor", "currency", "reference", "extra_references",
    "extra_reference_amounts", "message", "payer_name", "payer_account", "payer_address", "payer_org_number",
    "bank_ref", "_key_ref", "_booked",
]
# The values as read, for the rejects file (one row per canonical row).
_RAW_COLS = [
    "source_line", "entry_line", "entry_amount", "entry_currency", "entry_cdt_dbt", "status", "booking_date",
    "entry_ref", "acct_svcr_ref", "end_to_end_id", "tx_id", "tx_amount", "tx_currency", "creditor_refs",
    "document_numbers", "unstructured",
]
_CHUNK = 50_000  # rows per polars chunk: lists of Python strings never grow past this
_BOOKED = {"BOOK", ""}
_OPENING = ("OPBD", "PRCD")
_CLOSING = ("CLBD",)
_NOT_PROVIDED = "NOTPROVIDED"
# Subtrees of a TxDtls / Ntry the reader never looks into (often the bulk of a real file's transaction).
_NOT_READ = frozenset({
    "BkTxCd", "RltdAgts", "RltdDts", "RltdPric", "RltdQties", "Chrgs", "Intrst", "Tax", "RtrInf", "CardTx",
    "AmtDtls/InstdAmt", "AmtDtls/CntrValAmt", "AmtDtls/AnncdPstngAmt", "AmtDtls/PrtryAmt", "AmtDtls/TxAmt/CcyXchg",
    "RltdPties/InitgPty", "RltdPties/UltmtDbtr", "RltdPties/UltmtCdtr", "RltdPties/Cdtr/PstlAdr",
    "RltdPties/Cdtr/Pty/PstlAdr", "RltdPties/Cdtr/Id", "RltdPties/Cdtr/Pty/Id",
    # The remittance's pieces read through their own Strd (see _remittance), not through the transaction's index.
    "RmtInf/Strd",
})
_DIGITS_ONLY = re.compile(r"[\d\s.\-]+")
# Where a DOCTYPE starts, for the refusal's line number only (the parser decides that there is one): comments
# and processing instructions are consumed whole, so a `<!DOCTYPE` inside a comment is never taken.
_PROLOG_TOKEN = re.compile(rb"<!--.*?-->|<\?.*?\?>|<!DOCTYPE", re.DOTALL)
_DTD_REFUSED = ("XML with a document type declaration (DOCTYPE/ENTITY) is refused: entities are never expanded "
                "or fetched (possible entity bomb or external entity)")
# An XML declaration naming UTF-16 (or UCS-2) on bytes that are not UTF-16 (read_source turned them into UTF-8).
_UTF16_DECL = re.compile(
    rb"\A(?:\xef\xbb\xbf)?<\?xml[^>]*?\bencoding\s*=\s*[\"'](utf-?16(?:le|be)?|ucs-?2|unicode)[\"']", re.IGNORECASE)
# The ISO 20022 decimal (ActiveOrHistoricCurrencyAndAmount: xs:decimal, at most 18 digits, 5 of them fraction
# digits), unsigned: digits with an optional point (`1000`, `14384.6`, `1.`, and `.6` as Handelsbanken writes it).
# Nothing else: no sign (that is CdtDbtInd), exponent, space, comma or second point.
_ISO_AMOUNT = re.compile(r"([0-9]{1,18})(?:\.([0-9]{0,5}))?|\.([0-9]{1,5})")  # [0-9]: \d matches any script's digits
_MAX_MAJOR_DIGITS = 16  # below 10^16: the amount in minor units stays far inside a 64-bit integer
# Row problems kept: a broken 1M-entry file stays small (rows past it are still rejected by validation, for
# the amount they lack).
_MAX_PROBLEMS = 1000


def parse_options() -> dict[str, bool]:
    """The lxml parser options every XML read uses: nothing resolved, nothing fetched, no DTD."""
    return {"resolve_entities": False, "no_network": True, "load_dtd": False, "dtd_validation": False,
            "huge_tree": False}


def read_camt053(path: Path, data: bytes) -> SourceResult:
    """Read a camt.053 bank statement (see read_camt)."""
    return read_camt(path, data, "camt053")


def read_camt054(path: Path, data: bytes) -> SourceResult:
    """Read a camt.054 debit/credit notification (see read_camt)."""
    return read_camt(path, data, "camt054")


def _p(path: str) -> str:
    """'A/B' -> '{*}A/{*}B': any namespace."""
    return "/".join("{*}" + part for part in path.split("/"))


def _t(el: etree._Element, path: str) -> str | None:
    """Stripped text at `path` below `el`; None when absent or blank."""
    found = el.find(_p(path))
    if found is None or found.text is None:
        return None
    text = found.text.strip()
    return text or None


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


class _PrologEnd(Exception):
    """The root element started: the prolog had no DOCTYPE."""


class _DoctypeRefused(Exception):
    """The parser met a DOCTYPE."""


class _PrologGuard:
    """An lxml parser target: refuses at the DOCTYPE callback, which libxml2 makes before it reads the internal
    subset (so no entity is declared, expanded or fetched); stops the parse when the root element starts."""

    def doctype(self, name: str | None, pubid: str | None, system: str | None) -> None:
        raise _DoctypeRefused()

    def start(self, tag: str, attrib: object, nsmap: object = None) -> None:
        raise _PrologEnd()

    def close(self) -> None:
        return None


_GUARD_CHUNK = 1 << 16


def refuse_dtd(data: bytes) -> None:
    """Raise SourceError when the document has a document type declaration (DTD, entities), decided by lxml's own
    parser (a DOCTYPE after a comment, in UTF-16, anywhere in the prolog) before anything past the root's start
    tag is parsed. Broken XML is left to the streaming parse, which names the line."""
    parser = etree.XMLParser(target=_PrologGuard(), **parse_options())
    try:
        for at in range(0, len(data), _GUARD_CHUNK):
            parser.feed(data[at : at + _GUARD_CHUNK])
        parser.close()
    except _PrologEnd:
        return
    except _DoctypeRefused:
        raise SourceError(_DTD_REFUSED, _doctype_line(data)) from None
    except etree.XMLSyntaxError:
        return  # reported by the streaming parse, with its line


def _doctype_line(data: bytes) -> int | None:
    """The line of the first `<!DOCTYPE` outside comments and processing instructions; None when not found
    (e.g. UTF-16 bytes)."""
    for m in _PROLOG_TOKEN.finditer(data):
        if m.group() == b"<!DOCTYPE":
            return data.count(b"\n", 0, m.start()) + 1
    return None


def _declared_utf16_as_utf8(data: bytes) -> bytes:
    """`data` with an XML declaration's UTF-16 encoding changed to UTF-8 when the bytes are not UTF-16 (no BOM, no
    NUL byte beside the first `<`): read_source turns UTF-16 files into UTF-8, and the declaration would make
    libxml2 read UTF-8 bytes as UTF-16 ("Blank needed here"). Real UTF-16 bytes pass unchanged (lxml reads them)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:2] in (b"<\x00", b"\x00<"):
        return data
    m = _UTF16_DECL.match(data)
    return data if m is None else data[: m.start(1)] + b"UTF-8" + data[m.end(1) :]


def _amount_minor(text: str | None) -> int | None:
    """An ISO 20022 amount ('1387.60') in minor units; None when absent or not such an amount: a sign, exponent
    (`1E+3`), space, comma, more than 2 significant fraction digits (never rounded: `1.005` is refused, `1.500`
    is 150) or 10^16 and above."""
    if text is None:
        return None
    m = _ISO_AMOUNT.fullmatch(text)
    if m is None:
        return None
    whole = (m.group(1) or "").lstrip("0") or "0"
    frac = (m.group(2) or m.group(3) or "").ljust(2, "0")
    if len(whole) > _MAX_MAJOR_DIGITS or frac[2:].strip("0"):
        return None
    return int(whole) * 100 + int(frac[:2])


def _amount_problem(text: str | None) -> str:
    """Why `text` is not an amount, in words (with the raw value)."""
    if text is None:
        return "has no amount"
    return (f"amount {text!r} is not an ISO 20022 amount (digits and a decimal point only, at most 2 decimals, "
            f"below 10^16; the sign is CdtDbtInd)")


_INDICATORS = ("CRDT", "DBIT")


def _sign(indicator: str | None) -> int:
    return -1 if indicator == "DBIT" else 1


def _account(acct: etree._Element | None) -> str | None:
    """The account of an `Acct` element (see _account_text)."""
    if acct is None:
        return None
    return _account_text(_t(acct, "Id/IBAN"), _t(acct, "Id/Othr/Id"))


def _account_text(iban: str | None, other: str | None) -> str | None:
    """IBAN (a Norwegian IBAN as its 11-digit BBAN, which creditors configure), else Othr/Id (digits only when
    it is a number: BBAN, bankgiro)."""
    if iban:
        iban = iban.replace(" ", "").upper()
        return iban[4:] if iban.startswith("NO") and len(iban) == 15 else iban
    if other and _DIGITS_ONLY.fullmatch(other):
        return re.sub(r"\D", "", other)
    return other


def _date(el: etree._Element, path: str) -> str | None:
    """ISO date text from `path/Dt` or the date part of `path/DtTm`."""
    return _t(el, path + "/Dt") or ((_t(el, path + "/DtTm") or "")[:10] or None)


class _Index:
    """Every element below `root` by its local path ('RmtInf/Strd/CdtrRefInf/Ref'), in document order, from one
    walk: far cheaper than a `{*}` path search per field (20+ fields per transaction)."""

    __slots__ = ("paths",)

    def __init__(self, root: etree._Element, skip: str | None = None) -> None:
        paths: dict[str, list[etree._Element]] = {}
        queue: deque[tuple[etree._Element, str]] = deque([(root, "")])
        while queue:  # breadth first: elements of one path come in document order
            node, prefix = queue.popleft()
            for child in node:
                tag = child.tag
                if not isinstance(tag, str):
                    continue  # comments, processing instructions
                path = prefix + tag[tag.find("}") + 1 :]
                if path in paths:
                    paths[path].append(child)
                else:
                    paths[path] = [child]
                if path != skip and path not in _NOT_READ and len(child):
                    queue.append((child, path + "/"))
        self.paths = paths

    def el(self, path: str) -> etree._Element | None:
        found = self.paths.get(path)
        return found[0] if found else None

    def all_el(self, path: str) -> list[etree._Element]:
        return self.paths.get(path, [])

    def t(self, path: str) -> str | None:
        """Stripped text of the first element at `path`; None when absent or blank."""
        found = self.paths.get(path)
        if not found or found[0].text is None:
            return None
        return found[0].text.strip() or None

    def all(self, path: str) -> list[str]:
        return [t.strip() for t in (e.text for e in self.paths.get(path, ())) if t and t.strip()]

    def amount(self, path: str) -> tuple[str | None, str | None]:
        """(amount text, Ccy attribute) of the element at `path`."""
        found = self.paths.get(path)
        if not found:
            return None, None
        return (found[0].text or "").strip() or None, found[0].get("Ccy")

    def date(self, path: str) -> str | None:
        """ISO date text from `path/Dt` or the date part of `path/DtTm`."""
        return self.t(path + "/Dt") or ((self.t(path + "/DtTm") or "")[:10] or None)


@dataclass(frozen=True, slots=True)
class _Entry:
    """What the rows of one Ntry share."""

    line: int
    account: str | None
    booking: str | None
    amount_text: str | None
    currency: str | None
    cdi: str | None
    status: str
    ref: str | None
    svcr_ref: str | None
    info: str | None
    booked: bool


class _Statement:
    """One Stmt / Ntfctn / Rpt: its account, balances, and what its booked entries add up to."""

    def __init__(self, line: int, ident: str | None) -> None:
        self.line = line
        self.ident = ident
        self.account: str | None = None
        self.currency: str | None = None
        self.balances: dict[str, tuple[int | None, str | None, str | None]] = {}
        self.net = 0
        self.entries = 0  # booked entries
        self.summary: tuple[int | None, int | None] | None = None
        # (line, raw amount) of the first booked entry without a valid amount: balances cannot be checked then.
        self.unverifiable: tuple[int, str | None] | None = None


@dataclass(frozen=True, slots=True)
class _Remittance:
    """A transaction's structured remittance: creditor references (SCOR first), invoice numbers, and, when any
    Strd carries an amount, one item per reference in Strd order with its signed amount (parallel lists)."""

    refs: list[str]
    docs: list[str]
    items: list[str]
    amounts: list[str]  # empty when no Strd carries an amount
    bad_amount: str | None  # the raw text of a Strd amount that is not an ISO 20022 amount


def _remittance(strds: list[etree._Element]) -> _Remittance:
    """Read every `Strd` on its own: its references, invoice numbers and amount (`RfrdDocAmt/RmtdAmt`; a credit
    note's `CdtNoteAmt`, or `RmtdAmt` of a CREN document, negative). An item's reference is the Strd's first
    creditor reference (OCR, KID), else its first invoice number; the Strd's other references follow with +0 (no
    amount of their own), as in BgMax's `extra_reference_amounts`."""
    scor: list[str] = []
    other: list[str] = []
    docs: list[str] = []
    items: list[str] = []
    amounts: list[str] = []
    any_amount, bad = False, None
    for strd in strds:
        # A Strd is shallow: its few children are read directly (an index per Strd cost a third of the read).
        strd_refs: list[str] = []
        strd_docs: list[str] = []
        text, negative = None, False
        for child in strd:
            name = _name(child)
            if name == "CdtrRefInf":
                parts = _kids(child)
                if ref := _text(parts.get("Ref")):
                    strd_refs.append(ref)
                    (scor if _code(parts) == "SCOR" else other).append(ref)
            elif name == "RfrdDocInf":
                parts = _kids(child)
                if nb := _text(parts.get("Nb")):
                    strd_docs.append(nb)
                negative = negative or _code(parts) == "CREN"
            elif name == "RfrdDocAmt":
                parts = _kids(child)
                remitted, credit = _text(parts.get("RmtdAmt")), _text(parts.get("CdtNoteAmt"))
                text = remitted if remitted is not None else credit
                negative = negative or (remitted is None and credit is not None)
        docs += strd_docs
        minor = _amount_minor(text)
        if text is not None and minor is None:
            bad = bad if bad is not None else text
        any_amount = any_amount or minor is not None
        for k, ref in enumerate(strd_refs + strd_docs):
            items.append(ref)
            value = minor if k == 0 and minor is not None else 0
            amounts.append(("-" if negative else "+") + str(value))
    return _Remittance(scor + other, docs, items, amounts if any_amount else [], bad)


def _name(el: etree._Element) -> str:
    """The local name of an element ('' for comments and processing instructions)."""
    tag = el.tag
    return tag[tag.find("}") + 1 :] if isinstance(tag, str) else ""


def _kids(el: etree._Element) -> dict[str, etree._Element]:
    """The first child of each local name."""
    out: dict[str, etree._Element] = {}
    for child in el:
        tag = child.tag
        if isinstance(tag, str):
            out.setdefault(tag[tag.find("}") + 1 :], child)
    return out


def _text(el: etree._Element | None) -> str | None:
    """Stripped text of `el`; None when absent or blank."""
    if el is None or el.text is None:
        return None
    return el.text.strip() or None


def _code(parts: dict[str, etree._Element]) -> str | None:
    """`Tp/CdOrPrtry/Cd` of a CdtrRefInf or RfrdDocInf, from its children."""
    tp = parts.get("Tp")
    choice = _kids(tp).get("CdOrPrtry") if tp is not None else None
    return _text(_kids(choice).get("Cd")) if choice is not None else None


def _address(x: _Index, party: str) -> str | None:
    """The party's postal address as one line, `street, postcode city, country` (else its AdrLine lines)."""
    for base in (f"RltdPties/{party}/PstlAdr", f"RltdPties/{party}/Pty/PstlAdr"):
        if x.el(base) is None:
            continue
        street = " ".join(p for p in (x.t(base + "/StrtNm"), x.t(base + "/BldgNb")) if p)
        town = " ".join(p for p in (x.t(base + "/PstCd"), x.t(base + "/TwnNm")) if p)
        parts = [p for p in (street, town, x.t(base + "/Ctry")) if p]
        if street or town:
            return ", ".join(parts)
        lines = x.all(base + "/AdrLine") + ([parts[0]] if parts else [])
        return ", ".join(lines) or None
    return None


def _org_number(x: _Index, party: str) -> str | None:
    """The party's organisation number (`Id/OrgId/Othr/Id`), else its person number (`Id/PrvtId/Othr/Id`)."""
    for base in (f"RltdPties/{party}/Id", f"RltdPties/{party}/Pty/Id"):
        found = x.t(base + "/OrgId/Othr/Id") or x.t(base + "/PrvtId/Othr/Id")
        if found:
            return found
    return None


class _Reader:
    """The streaming state: rows and raw values in column lists (flushed to polars in chunks), checks, problems."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.rows: dict[str, list] = {c: [] for c in _ROW_COLS}
        self.raw: dict[str, list] = {c: [] for c in _RAW_COLS}
        self.row_chunks: list[pl.DataFrame] = []
        self.raw_chunks: list[pl.DataFrame] = []
        self.checks: list[str] = []  # file-level: the file is held back
        self.problems: list[tuple[int, str, str, str]] = []  # row-level: the row is rejected
        self.statements: list[_Statement] = []
        self.entries = 0
        self.booked = 0
        self.not_booked = 0

    # -- per element -----------------------------------------------------------------------------------------
    def statement_start(self, el: etree._Element) -> None:
        self.statements.append(_Statement(el.sourceline, None))

    def account(self, el: etree._Element) -> None:
        if self.statements:
            st = self.statements[-1]
            st.account = _account(el)
            st.currency = _t(el, "Ccy")
            parent = el.getparent()  # the statement's Id precedes Acct and is freed with it: read it now
            st.ident = _t(parent, "Id") if parent is not None else None

    def balance(self, el: etree._Element) -> None:
        if not self.statements:
            return
        code = _t(el, "Tp/CdOrPrtry/Cd") or _t(el, "Tp/CdOrPrtry/Prtry") or ""
        amt = el.find(_p("Amt"))
        minor = _amount_minor(amt.text.strip() if amt is not None and amt.text else None)
        if minor is None:
            self.checks.append(f"line {el.sourceline}: balance {code} has no valid amount")
            return
        ccy = amt.get("Ccy") if amt is not None else None
        self.statements[-1].balances.setdefault(code, (minor * _sign(_t(el, "CdtDbtInd")), _date(el, "Dt"), ccy))

    def summary(self, el: etree._Element) -> None:
        if not self.statements:
            return
        count = _t(el, "TtlNtries/NbOfNtries")
        net = _amount_minor(_t(el, "TtlNtries/TtlNetNtryAmt"))
        if count is None and net is None:
            return
        signed = net * _sign(_t(el, "TtlNtries/CdtDbtInd")) if net is not None else None
        self.statements[-1].summary = (int(count) if count and count.isdigit() else None, signed)

    def statement_end(self, el: etree._Element) -> None:
        if not self.statements:
            return
        st = self.statements[-1]
        st.ident = st.ident or _t(el, "Id")
        opening = next((st.balances[c] for c in _OPENING if c in st.balances), None)
        closing = next((st.balances[c] for c in _CLOSING if c in st.balances), None)
        where = f"line {st.line}: statement {st.ident or '?'}"
        if st.unverifiable and ((opening and closing) or st.summary):
            at, text = st.unverifiable
            self.checks.append(f"{where}: balances not checked: the entry at line {at} has no valid amount ({text!r})")
            return
        if opening and closing and opening[0] + st.net != closing[0]:
            self.checks.append(
                f"{where}: balances do not tie: opening {format_minor(opening[0])} + entries {format_minor(st.net)} "
                f"= {format_minor(opening[0] + st.net)}, but closing is {format_minor(closing[0])}"
            )
        if st.summary:
            count, net = st.summary
            if count is not None and count != st.entries:
                self.checks.append(f"{where}: TxsSummry says {count} entries; the statement has {st.entries}")
            if net is not None and net != st.net:
                self.checks.append(
                    f"{where}: TxsSummry net amount {format_minor(net)} != the entries' {format_minor(st.net)}"
                )

    def entry(self, ntry: etree._Element) -> None:
        """Rows of one Ntry: one per TxDtls (one for the entry when there is none). A booked entry's rows go on;
        the rows of an entry not booked are rejected (see _not_booked) and stay out of every check."""
        self.entries += 1
        line = ntry.sourceline
        e = _Index(ntry, skip="NtryDtls")
        status = e.t("Sts/Cd") or e.t("Sts/Prtry") or e.t("Sts") or ""  # .08: a code or a proprietary status
        booked = status.upper() in _BOOKED
        amt_text, entry_ccy = e.amount("Amt")
        cdi = e.t("CdtDbtInd")
        # Without CRDT/DBIT the amount's sign is unknown: never guessed as a credit (the amount is left unread).
        entry_minor = _amount_minor(amt_text) if cdi in _INDICATORS else None
        st = self.statements[-1] if self.statements else None
        entry_signed = entry_minor * _sign(cdi) if entry_minor is not None else None
        if booked:
            self.booked += 1
            if st is not None:
                st.entries += 1
                if entry_signed is None:
                    st.unverifiable = st.unverifiable or (line, amt_text)
                else:
                    st.net += entry_signed
        else:
            self.not_booked += 1
        entry = _Entry(
            line=line, account=st.account if st else None, booking=e.date("BookgDt") or e.date("ValDt"),
            amount_text=amt_text, currency=entry_ccy, cdi=cdi, status=status, ref=e.t("NtryRef"),
            svcr_ref=e.t("AcctSvcrRef"), info=e.t("AddtlNtryInf"), booked=booked,
        )
        txs = [tx for d in e.all_el("NtryDtls") for tx in d if _local(tx) == "TxDtls"]
        if entry_minor is None:
            # The entry's own amount is not an amount (or has no sign): none of its rows can be trusted (the raw
            # value is in the rejects file's entry_amount).
            what = _amount_problem(amt_text) if cdi in _INDICATORS else (
                f"amount {amt_text!r} has no CdtDbtInd (CRDT or DBIT): credit or debit cannot be told"
                if cdi is None else f"CdtDbtInd {cdi!r} is neither CRDT nor DBIT")
            for row_line in [tx.sourceline for tx in txs] or [line]:
                self._problem(row_line, "amount_minor", "camt_amount", f"entry {what}")
        if not txs:
            self._row(line, entry, e, entry_signed, entry_ccy, None, None, None)
            return
        tx_sum, all_amounts, charged = 0, True, e.el("Chrgs") is not None
        for tx in txs:
            x = _Index(tx)
            tx_text, tx_ccy = x.amount("Amt")
            if tx_text is None:
                tx_text, tx_ccy = x.amount("AmtDtls/TxAmt/Amt")
            tx_minor = _amount_minor(tx_text)
            tx_cdi = x.t("CdtDbtInd") or cdi
            charged = charged or x.el("Chrgs") is not None
            if tx_minor is not None:
                signed, ccy = tx_minor * _sign(tx_cdi), tx_ccy or entry_ccy
            elif tx_text is None and len(txs) == 1:
                signed, ccy = entry_signed, entry_ccy  # the entry is this one transaction
            else:
                signed, ccy = None, tx_ccy or entry_ccy
                what = _amount_problem(tx_text) if tx_text else (
                    f"has no amount of its own (the entry at line {line} holds {len(txs)} transactions, "
                    f"{amt_text} {entry_ccy} in all)"
                )
                self._problem(tx.sourceline, "amount_minor", "camt_amount", f"transaction {what}")
            if signed is None or ccy != entry_ccy:
                all_amounts = False
            else:
                tx_sum += signed
            self._row(tx.sourceline, entry, x, signed, ccy, tx_text, tx_ccy, tx_cdi)
        # Charges make the entry differ from its transactions by design (who bears them varies): no check then.
        # An entry not booked is never delivered: its sums are not checked.
        if booked and all_amounts and not charged and entry_signed is not None and tx_sum != entry_signed:
            self.checks.append(
                f"line {line}: entry amount {format_minor(entry_signed)} {entry_ccy} != the sum of its "
                f"{len(txs)} transactions ({format_minor(tx_sum)})"
            )

    def _row(self, line: int, entry: _Entry, x: _Index, signed: int | None, ccy: str | None,
             tx_text: str | None, tx_ccy: str | None, tx_cdi: str | None) -> None:
        """One canonical row (and its raw values) from a TxDtls, or from the entry itself (tx_text None)."""
        rem = _remittance(x.all_el("RmtInf/Strd"))
        refs, docs = rem.refs, rem.docs
        if rem.bad_amount is not None:
            self._problem(line, "extra_reference_amounts", "camt_amount",
                          f"remittance amount {_amount_problem(rem.bad_amount)}: the payer's breakdown cannot be read")
        ustrd = x.all("RmtInf/Ustrd")
        # With amounts per Strd, every Strd's reference is listed with its amount (the first one too: its amount is
        # part of the breakdown); without any, as before: the references after the first, then the invoice numbers.
        extra = rem.items if rem.amounts else refs[1:] + docs
        party = "Dbtr" if (tx_cdi or entry.cdi) != "DBIT" else "Cdtr"  # the other side: who paid us / whom we paid
        name = x.t(f"RltdPties/{party}/Nm") or x.t(f"RltdPties/{party}/Pty/Nm")
        other_account = _account_text(x.t(f"RltdPties/{party}Acct/Id/IBAN"), x.t(f"RltdPties/{party}Acct/Id/Othr/Id"))
        e2e = x.t("Refs/EndToEndId")
        e2e = None if e2e and e2e.upper() == _NOT_PROVIDED else e2e
        tx_svcr, tx_id, prtry_ref = x.t("Refs/AcctSvcrRef"), x.t("Refs/TxId"), x.t("Refs/Prtry/Ref")
        text = " ".join(ustrd) or x.t("AddtlTxInf") or entry.info
        r = self.rows
        r["source_line"].append(line)
        r["account"].append(entry.account)
        r["booking_date"].append(entry.booking)
        r["amount_minor"].append(signed)
        r["currency"].append(ccy)
        r["reference"].append(refs[0] if refs else None)
        r["extra_references"].append(";".join(extra) if extra else None)
        r["extra_reference_amounts"].append(";".join(rem.amounts) if rem.amounts else None)
        r["message"].append(text)
        r["payer_name"].append(name)
        r["payer_account"].append(other_account)
        r["payer_address"].append(_address(x, party) if party == "Dbtr" else None)
        r["payer_org_number"].append(_org_number(x, party) if party == "Dbtr" else None)
        r["bank_ref"].append(tx_svcr or entry.svcr_ref or prtry_ref or entry.ref)
        r["_key_ref"].append(tx_svcr or e2e or tx_id or prtry_ref or entry.svcr_ref or entry.ref)
        r["_booked"].append(entry.booked)
        w = self.raw
        for col, value in zip(
            _RAW_COLS,
            (line, entry.line, entry.amount_text, entry.currency, entry.cdi, entry.status, entry.booking, entry.ref,
             tx_svcr or entry.svcr_ref, e2e, tx_id, tx_text, tx_ccy, ";".join(refs) or None, ";".join(docs) or None,
             " | ".join(ustrd) or None),
            strict=True,
        ):
            w[col].append(value)
        if len(r["source_line"]) >= _CHUNK:
            self.flush()

    def _problem(self, line: int, column: str, check: str, message: str) -> None:
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append((line, column, check, message))

    def flush(self) -> None:
        """Move the buffered rows into a polars chunk."""
        if not self.rows["source_line"]:
            return
        self.row_chunks.append(pl.DataFrame(self.rows, schema=_ROW_SCHEMA, strict=False))
        self.raw_chunks.append(pl.DataFrame(self.raw, schema={c: (pl.Int64 if c.endswith("line") else pl.String)
                                                               for c in _RAW_COLS}, strict=False))
        self.rows = {c: [] for c in _ROW_COLS}
        self.raw = {c: [] for c in _RAW_COLS}


_ROW_SCHEMA = {
    **{c: pl.String for c in _ROW_COLS},
    "source_line": pl.Int64,
    "amount_minor": pl.Int64,
    "_booked": pl.Boolean,
}


def _walk(data: bytes, reader: _Reader) -> None:
    """Stream the document, handing each statement, account, balance, summary and entry to `reader`."""
    tags = ("{*}Stmt", "{*}Ntfctn", "{*}Rpt", "{*}Acct", "{*}Bal", "{*}TxsSummry", "{*}Ntry")
    events = etree.iterparse(io.BytesIO(data), events=("start", "end"), tag=tags, **parse_options())
    containers = {"Stmt", "Ntfctn", "Rpt"}
    checked = False
    for event, el in events:
        if not checked:  # the prolog is behind us: the parser's own record of a DTD (refuse_dtd ran first)
            info = el.getroottree().docinfo
            if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
                raise SourceError(_DTD_REFUSED, 1)
            checked = True
        name = _local(el)
        if event == "start":
            if name in containers:
                reader.statement_start(el)
            continue
        parent = el.getparent()
        pname = _local(parent) if parent is not None else ""
        if name == "Ntry" and pname in containers:
            reader.entry(el)
        elif name in containers:
            reader.statement_end(el)
        elif pname not in containers:
            continue  # e.g. a Bal or Acct somewhere else: not the statement's
        elif name == "Acct":
            reader.account(el)
        elif name == "Bal":
            reader.balance(el)
        elif name == "TxsSummry":
            reader.summary(el)
        else:
            continue
        # Done with this element: free it and everything before it (streaming, flat memory).
        el.clear(keep_tail=False)
        if parent is not None:
            while el.getprevious() is not None:
                del parent[0]


def read_camt(path: Path, data: bytes, fmt: str) -> SourceResult:
    """Read a camt.053 / camt.054 file: one payment row per TxDtls, balances and entry sums checked."""
    data = _declared_utf16_as_utf8(data)
    refuse_dtd(data)
    reader = _Reader(fmt)
    try:
        _walk(data, reader)
    except etree.XMLSyntaxError as exc:
        # iterparse sometimes reports only "no element found" (line 0); the cause is then the latest entry of
        # its error log (which also holds earlier parses' errors: never take the first).
        last = exc.error_log.last_error if not exc.lineno else None
        msg = (last.message if last is not None else (exc.msg or str(exc)).split(", line ")[0]).strip()
        line = last.line if last is not None else exc.lineno
        raise SourceError(f"not well-formed XML: {msg}", line or None) from None
    reader.flush()
    if not reader.statements:
        raise SourceError(f"no statement, notification or report (Stmt/Ntfctn/Rpt) found in this {fmt} file")
    rows = _rows(reader)
    raw = pl.concat(reader.raw_chunks) if reader.raw_chunks else pl.DataFrame(
        schema={c: (pl.Int64 if c.endswith("line") else pl.String) for c in _RAW_COLS})
    status, message = verdict(path, reader.checks)
    problems = pl.concat([
        pl.DataFrame(reader.problems, schema=PROBLEM_SCHEMA, orient="row") if reader.problems
        else empty_frame(PROBLEM_SCHEMA),
        _not_booked(raw),
    ]).sort("source_line", maintain_order=True)
    if reader.not_booked:
        note = (f"{reader.not_booked} of {reader.entries} entries not booked ({_by_status(raw)}): not delivered, "
                "in the rejects file")
        message = f"{message}; {note}" if message else f"{path}: {note}"
    net = int(rows["amount_minor"].sum() or 0) if rows.height else 0
    control = {"computed_count": rows.height, "computed_total_minor": net, "entries": reader.entries,
               "booked_entries": reader.booked, "not_booked_entries": reader.not_booked}
    return reader_result(
        path, fmt, rows, raw,
        status=status,
        message=message,
        problems=problems,
        control=control,
        balances=_balances(reader.statements),
    )


def _not_booked_mask() -> pl.Expr:
    return ~pl.col("status").fill_null("").str.to_uppercase().is_in(list(_BOOKED))


def _not_booked(raw: pl.DataFrame) -> pl.DataFrame:
    """One problem per row of an entry not booked (PDNG, INFO, any status but BOOK): the row is rejected, with
    the reason, never delivered nor dropped. Vectorised from the raw rows: no cap, whatever their number."""
    status = pl.col("status").fill_null("")
    code = status.str.to_uppercase()
    kind = (pl.when(code == "PDNG").then(pl.lit("pending entry"))
            .when(code == "INFO").then(pl.lit("informational entry"))
            .otherwise(pl.lit("entry")))
    return raw.filter(_not_booked_mask()).select(
        pl.col("source_line").cast(pl.Int64),
        error_column=pl.lit("status", dtype=pl.String),
        error_check=pl.lit("camt_not_booked"),
        error_message=pl.concat_str([kind, pl.lit(" (Sts "), status, pl.lit("), not booked: held back, not delivered "
                                     "(the bank's booked entry comes in a later file)")]),
    )


def _by_status(raw: pl.DataFrame) -> str:
    """'1 PDNG, 1 INFO': entries not booked, by status (an entry's rows share its line)."""
    entries = (raw.filter(_not_booked_mask()).unique("entry_line", maintain_order=True)
               .group_by("status", maintain_order=True).len())
    return ", ".join(f"{n} {s or '(no status)'}" for s, n in entries.iter_rows())


def _rows(reader: _Reader) -> pl.DataFrame:
    """The canonical rows with dates parsed and the stable key: CAMT-<hash of account, booking date, the bank's
    reference (TxDtls AcctSvcrRef, EndToEndId, TxId, entry AcctSvcrRef), reference, amount, occurrence>."""
    if not reader.row_chunks:
        return pl.DataFrame(schema=_ROW_SCHEMA).with_columns(pl.col("booking_date").cast(pl.Date),
                                                            payment_key=pl.lit(None, dtype=pl.String)).drop("_booked")
    rows = pl.concat(reader.row_chunks)
    parts = [pl.col(c) for c in ("account", "booking_date", "_key_ref", "reference", "amount_minor")]
    # Twins are counted among rows of the same kind (booked or not): an entry not booked never shifts the
    # occurrence, and so the key, of a booked row.
    return rows.with_columns(
        payment_key=stable_key_expr("CAMT", [*parts, occurrence_expr([*parts, pl.col("_booked")])]),
        booking_date=pl.col("booking_date").str.strptime(pl.Date, "%Y-%m-%d", strict=False),
    ).drop("_key_ref", "_booked")


def _balances(statements: list[_Statement]) -> pl.DataFrame:
    """One BALANCE_SCHEMA row per statement that declares an opening or closing balance."""
    out = []
    for st in statements:
        opening = next((st.balances[c] for c in _OPENING if c in st.balances), (None, None, None))
        closing = next((st.balances[c] for c in _CLOSING if c in st.balances), (None, None, None))
        if opening[0] is None and closing[0] is None:
            continue
        out.append({
            "source_line": st.line, "statement_id": st.ident, "account": st.account,
            "currency": closing[2] or opening[2] or st.currency, "opening_minor": opening[0],
            "closing_minor": closing[0], "opening_date": opening[1], "closing_date": closing[1],
            "entries_minor": st.net, "entries": st.entries,
        })
    if not out:
        return empty_frame(BALANCE_SCHEMA)
    frame = pl.DataFrame(out, schema={**BALANCE_SCHEMA, "opening_date": pl.String, "closing_date": pl.String})
    return frame.with_columns(pl.col("opening_date", "closing_date").str.strptime(pl.Date, "%Y-%m-%d", strict=False))
