"""ISO 20022 camt.053 (statement) and camt.054 (notification), versions .001.02 to .001.08, streamed per entry.

lxml's iterparse walks the file once; every `Ntry` is turned into rows when it ends and then cleared (with the
siblings before it), so memory stays flat whatever the file size. Elements are matched by their local name: the
reader does not care which camt version's namespace (or none, or a prefix) the file declares.

One row per `TxDtls` (one per `Ntry` when it has none). The amount is the transaction's own (`TxDtls/Amt`, then
`AmtDtls/TxAmt/Amt`), the entry's only when the entry holds a single transaction; `AmtDtls/InstdAmt` is the
payer's instructed amount, possibly another currency, and never used. Sign from `CdtDbtInd` (the transaction's,
else the entry's). The first creditor reference (SCOR first) is `reference`; every other `CdtrRefInf/Ref` and
every `RfrdDocInf/Nb` (invoice numbers) go to `extra_references`, ';'-joined. Entries not booked (`Sts` PDNG,
INFO, FUTR) are not payments yet: skipped and counted in `control["skipped_entries"]`.

Checks (a file that does not tie is held back whole): per statement, opening (OPBD/PRCD) + booked entries =
closing (CLBD) and the `TxsSummry` count and net sum; per entry, its amount = the sum of its transactions'.

Safe parsing: a document type declaration (DTD) is refused before parsing, so entities are never expanded and
nothing is fetched (no entity bombs, no external entities); the parser also runs with resolve_entities=False,
no_network=True, load_dtd=False.
"""

from __future__ import annotations

import io
import re
from collections import deque
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
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
    "message", "payer_name", "payer_account", "bank_ref", "_key_ref",
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
    "RltdPties/InitgPty", "RltdPties/UltmtDbtr", "RltdPties/UltmtCdtr", "RltdPties/Dbtr/PstlAdr",
    "RltdPties/Cdtr/PstlAdr", "RltdPties/Dbtr/Pty/PstlAdr", "RltdPties/Cdtr/Pty/PstlAdr", "RltdPties/Dbtr/Id",
    "RltdPties/Cdtr/Id", "RltdPties/Dbtr/Pty/Id", "RltdPties/Cdtr/Pty/Id",
})
_DIGITS_ONLY = re.compile(r"[\d\s.\-]+")
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
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


def refuse_dtd(data: bytes) -> None:
    """Raise SourceError when the XML prolog declares a DTD or entities (entity bombs, external entities)."""
    first = _FIRST_ELEMENT.search(data)
    prolog = data[: first.start()] if first else data
    if m := _DTD.search(prolog):
        line = prolog.count(b"\n", 0, m.start()) + 1
        raise SourceError(
            "XML with a document type declaration (DOCTYPE/ENTITY) is refused: entities are never expanded "
            "or fetched (possible entity bomb or external entity)",
            line,
        )


def _minor(text: str | None) -> int | None:
    """'1387.60' -> 138760; None when absent, not a number, or finer than 1/100."""
    if text is None:
        return None
    try:
        value = Decimal(text) * 100
    except InvalidOperation:
        return None
    return int(value) if value == value.to_integral_value() and value.is_finite() else None


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


class _Statement:
    """One Stmt / Ntfctn / Rpt: its account, balances, and what its booked entries add up to."""

    def __init__(self, line: int, ident: str | None) -> None:
        self.line = line
        self.ident = ident
        self.account: str | None = None
        self.currency: str | None = None
        self.balances: dict[str, tuple[int | None, str | None, str | None]] = {}
        self.net = 0
        self.entries = 0
        self.summary: tuple[int | None, int | None] | None = None


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
        self.skipped = 0
        self.entries = 0

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
        minor = _minor(amt.text.strip() if amt is not None and amt.text else None)
        if minor is None:
            self.checks.append(f"line {el.sourceline}: balance {code} has no valid amount")
            return
        ccy = amt.get("Ccy") if amt is not None else None
        self.statements[-1].balances.setdefault(code, (minor * _sign(_t(el, "CdtDbtInd")), _date(el, "Dt"), ccy))

    def summary(self, el: etree._Element) -> None:
        if not self.statements:
            return
        count = _t(el, "TtlNtries/NbOfNtries")
        net = _minor(_t(el, "TtlNtries/TtlNetNtryAmt"))
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
        """Rows of one Ntry: one per TxDtls (one for the entry when there is none)."""
        self.entries += 1
        line = ntry.sourceline
        e = _Index(ntry, skip="NtryDtls")
        status = e.t("Sts/Cd") or e.t("Sts") or ""
        if status.upper() not in _BOOKED:
            self.skipped += 1
            return
        amt_text, entry_ccy = e.amount("Amt")
        cdi = e.t("CdtDbtInd")
        entry_minor = _minor(amt_text)
        st = self.statements[-1] if self.statements else None
        if entry_minor is None:
            self.checks.append(f"line {line}: entry amount {amt_text!r} is not a valid amount")
            entry_signed = None
        else:
            entry_signed = entry_minor * _sign(cdi)
            if st is not None:
                st.net += entry_signed
        if st is not None:
            st.entries += 1
        entry = _Entry(
            line=line, account=st.account if st else None, booking=e.date("BookgDt") or e.date("ValDt"),
            amount_text=amt_text, currency=entry_ccy, cdi=cdi, status=status, ref=e.t("NtryRef"),
            svcr_ref=e.t("AcctSvcrRef"), info=e.t("AddtlNtryInf"),
        )
        txs = [tx for d in e.all_el("NtryDtls") for tx in d if _local(tx) == "TxDtls"]
        if not txs:
            self._row(line, entry, e, entry_signed, entry_ccy, None, None, None)
            return
        tx_sum, all_amounts, charged = 0, True, e.el("Chrgs") is not None
        for tx in txs:
            x = _Index(tx)
            tx_text, tx_ccy = x.amount("Amt")
            if tx_text is None:
                tx_text, tx_ccy = x.amount("AmtDtls/TxAmt/Amt")
            tx_minor = _minor(tx_text)
            tx_cdi = x.t("CdtDbtInd") or cdi
            charged = charged or x.el("Chrgs") is not None
            if tx_minor is not None:
                signed, ccy = tx_minor * _sign(tx_cdi), tx_ccy or entry_ccy
            elif tx_text is None and len(txs) == 1:
                signed, ccy = entry_signed, entry_ccy  # the entry is this one transaction
            else:
                signed, ccy = None, tx_ccy or entry_ccy
                what = f"amount {tx_text!r} is not a valid amount" if tx_text else (
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
        if all_amounts and not charged and entry_signed is not None and tx_sum != entry_signed:
            self.checks.append(
                f"line {line}: entry amount {format_minor(entry_signed)} {entry_ccy} != the sum of its "
                f"{len(txs)} transactions ({format_minor(tx_sum)})"
            )

    def _row(self, line: int, entry: _Entry, x: _Index, signed: int | None, ccy: str | None,
             tx_text: str | None, tx_ccy: str | None, tx_cdi: str | None) -> None:
        """One canonical row (and its raw values) from a TxDtls, or from the entry itself (tx_text None)."""
        scor, other_refs = [], []
        for cri in x.all_el("RmtInf/Strd/CdtrRefInf"):
            c = _Index(cri)
            if ref := c.t("Ref"):
                (scor if c.t("Tp/CdOrPrtry/Cd") == "SCOR" else other_refs).append(ref)
        refs = scor + other_refs
        docs = x.all("RmtInf/Strd/RfrdDocInf/Nb")
        ustrd = x.all("RmtInf/Ustrd")
        extra = refs[1:] + docs
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
        r["message"].append(text)
        r["payer_name"].append(name)
        r["payer_account"].append(other_account)
        r["bank_ref"].append(tx_svcr or entry.svcr_ref or prtry_ref or entry.ref)
        r["_key_ref"].append(tx_svcr or e2e or tx_id or prtry_ref or entry.svcr_ref or entry.ref)
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
}


def _walk(data: bytes, reader: _Reader) -> None:
    """Stream the document, handing each statement, account, balance, summary and entry to `reader`."""
    tags = ("{*}Stmt", "{*}Ntfctn", "{*}Rpt", "{*}Acct", "{*}Bal", "{*}TxsSummry", "{*}Ntry")
    events = etree.iterparse(io.BytesIO(data), events=("start", "end"), tag=tags, **parse_options())
    containers = {"Stmt", "Ntfctn", "Rpt"}
    for event, el in events:
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
    problems = (
        pl.DataFrame(reader.problems, schema=PROBLEM_SCHEMA, orient="row")
        if reader.problems
        else empty_frame(PROBLEM_SCHEMA)
    )
    net = int(rows["amount_minor"].sum() or 0) if rows.height else 0
    control = {"computed_count": rows.height, "computed_total_minor": net, "entries": reader.entries,
               "skipped_entries": reader.skipped}
    return reader_result(
        path, fmt, rows, raw,
        status=status,
        message=message,
        problems=problems,
        control=control,
        balances=_balances(reader.statements),
    )


def _rows(reader: _Reader) -> pl.DataFrame:
    """The canonical rows with dates parsed and the stable key: CAMT-<hash of account, booking date, the bank's
    reference (TxDtls AcctSvcrRef, EndToEndId, TxId, entry AcctSvcrRef), reference, amount, occurrence>."""
    if not reader.row_chunks:
        return pl.DataFrame(schema=_ROW_SCHEMA).with_columns(pl.col("booking_date").cast(pl.Date),
                                                            payment_key=pl.lit(None, dtype=pl.String))
    rows = pl.concat(reader.row_chunks)
    parts = [pl.col(c) for c in ("account", "booking_date", "_key_ref", "reference", "amount_minor")]
    return rows.with_columns(
        payment_key=stable_key_expr("CAMT", [*parts, occurrence_expr(parts)]),
        booking_date=pl.col("booking_date").str.strptime(pl.Date, "%Y-%m-%d", strict=False),
    ).drop("_key_ref")


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
