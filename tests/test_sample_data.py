"""The shipped sample data: it regenerates identically, its control totals tie, and only planted problems are in it.

Fixed-width fields are sliced here by their FORMATS.md positions, independently of sample_data/generate.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from xml.etree import ElementTree

import openpyxl
import pytest

from etl.refs import is_valid_reference

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
NO_INVOICES = SAMPLE / "no/invoices_nordlys_2026-11-20.xlsx"
OCR = SAMPLE / "no/ocr_nordlys_2026-11-20.txt"
SB1_19 = SAMPLE / "no/sparebank1_2026-11-19.csv"
SB1_20 = SAMPLE / "no/sparebank1_2026-11-20.csv"
SE_INVOICES = SAMPLE / "se/invoices_solkraft_2026-11-20.csv"
CAMT = SAMPLE / "se/camt054_solkraft_2026-11-20.xml"
NS = {"c": "urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"}
SEED = SAMPLE / "sandbox_seed.json"
PLANTED = SAMPLE / "planted.json"

INVOICE_HEADER = [
    "invoice_number", "customer_number", "customer_name", "kid", "invoice_date",
    "due_date", "currency", "amount_excl_vat", "vat_amount", "amount_incl_vat",
]
SB1_HEADER = "Dato;Beskrivelse;Rentedato;Inn;Ut;Til konto;Fra konto;"
CATEGORIES = ["invalid_row", "overpayment", "unmatched_payment", "duplicate_payment", "underpayment",
              "invalid_reference"]


def field(line: str, first: int, last: int) -> str:
    """The field at 1-based inclusive positions first..last."""
    return line[first - 1 : last]


def data_files(folder: Path) -> list[str]:
    """Relative paths of the generated files under folder (not the generator, the hand-written config, caches)."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.suffix != ".py" and p.name != "amili-etl.toml" and "__pycache__" not in p.parts
    )


def ocr_lines() -> list[str]:
    """The OCR giro records (LF, ISO-8859-1)."""
    text = OCR.read_bytes().decode("iso-8859-1")
    assert "\r" not in text and text.endswith("\n")
    return text[:-1].split("\n")


def camt_lines() -> list[str]:
    """The camt.054 file's lines (UTF-8, LF)."""
    text = CAMT.read_bytes().decode("utf-8")
    assert "\r" not in text and text.endswith("\n")
    return text[:-1].split("\n")


def camt_transactions() -> list[dict[str, object]]:
    """Every TxDtls of the camt.054 file: bank reference, amount (minor), references and Strd amounts, payer."""
    root = ElementTree.parse(CAMT).getroot()
    out = []
    for tx in root.iterfind(".//c:TxDtls", NS):
        strds = tx.findall("c:RmtInf/c:Strd", NS)
        out.append({
            "bank_ref": tx.findtext("c:Refs/c:AcctSvcrRef", namespaces=NS),
            "amount": minor(tx.findtext("c:AmtDtls/c:TxAmt/c:Amt", namespaces=NS)),
            "refs": [s.findtext("c:CdtrRefInf/c:Ref", namespaces=NS) for s in strds],
            "strd_amounts": [minor(a) if (a := s.findtext("c:RfrdDocAmt/c:RmtdAmt", namespaces=NS)) else None
                             for s in strds],
            "docs": [s.findtext("c:RfrdDocInf/c:Nb", namespaces=NS) for s in strds],
            "info": tx.findtext("c:RmtInf/c:Ustrd", namespaces=NS),
        })
    return out


def xlsx_rows(path: Path) -> list[tuple[object, ...]]:
    """All cell values of the single sheet 'Invoices'."""
    wb = openpyxl.load_workbook(path, read_only=True)
    assert wb.sheetnames == ["Invoices"]
    rows = [tuple(r) for r in wb["Invoices"].iter_rows(values_only=True)]
    wb.close()
    return rows


def se_invoice_rows() -> list[dict[str, str]]:
    """The Swedish invoice export as dicts."""
    with SE_INVOICES.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def no_invoice_rows() -> list[dict[str, object]]:
    """The Norwegian invoice export as dicts."""
    header, *rows = xlsx_rows(NO_INVOICES)
    return [dict(zip(header, r)) for r in rows]


def planted() -> dict[str, dict[str, object]]:
    """planted.json by category."""
    return {p["category"]: p for p in json.loads(PLANTED.read_text(encoding="utf-8"))}


def minor(amount: str) -> int:
    """'1234.50' or '1234,50' -> minor units."""
    return int(Decimal(amount.replace(",", ".")) * 100)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the generator as a script into a fresh folder (from another working directory)."""
    out = tmp_path_factory.mktemp("sample_data")
    subprocess.run([sys.executable, str(SAMPLE / "generate.py"), str(out)], check=True, cwd=out, capture_output=True)
    return out


def test_regenerates_the_same_files(regenerated: Path) -> None:
    """The generator writes exactly the committed set of files."""
    assert data_files(regenerated) == data_files(SAMPLE)
    assert len(data_files(SAMPLE)) == 8


def test_text_files_byte_identical(regenerated: Path) -> None:
    """Every text file regenerates byte-for-byte."""
    for name in data_files(SAMPLE):
        if not name.endswith(".xlsx"):
            assert (regenerated / name).read_bytes() == (SAMPLE / name).read_bytes(), name


def test_xlsx_cells_identical(regenerated: Path) -> None:
    """The workbook regenerates with identical cell content (bytes are not part of the contract)."""
    name = NO_INVOICES.relative_to(SAMPLE)
    assert xlsx_rows(regenerated / name) == xlsx_rows(NO_INVOICES)


def test_invoice_exports_shape_and_amounts() -> None:
    """Both exports: exact header, all text, 25 % VAT, incl = excl + vat, the right numbers and currencies."""
    no_header = list(xlsx_rows(NO_INVOICES)[0])
    assert no_header == INVOICE_HEADER
    assert SE_INVOICES.read_text(encoding="utf-8").splitlines()[0] == ",".join(INVOICE_HEADER)
    no_rows, se_rows = no_invoice_rows(), se_invoice_rows()
    assert [r["invoice_number"] for r in no_rows] == [str(n) for n in range(100001, 100025)]
    assert [r["invoice_number"] for r in se_rows] == [str(n) for n in range(705001, 705015)]
    for rows, currency in ((no_rows, "NOK"), (se_rows, "SEK")):
        for r in rows:
            assert all(isinstance(v, str) for v in r.values()), r
            assert r["currency"] == currency
            excl, vat, incl = (minor(str(r[c])) for c in ("amount_excl_vat", "vat_amount", "amount_incl_vat"))
            assert incl == excl + vat and vat == (excl * 25 + 50) // 100, r
            for c in ("amount_excl_vat", "vat_amount", "amount_incl_vat"):
                assert str(r[c]).split(".")[1].isdigit() and len(str(r[c]).split(".")[1]) == 2
    assert all(str(r["customer_number"]).startswith("5432") for r in no_rows)
    bad_dates = []
    for r in no_rows + se_rows:
        for c in ("invoice_date", "due_date"):
            try:
                d = dt.date.fromisoformat(str(r[c]))
                assert d.year == 2026 and d.month in (10, 11)
            except ValueError:
                bad_dates.append((r["invoice_number"], c, r[c]))
    assert bad_dates == [("100024", "invoice_date", "2026-11-31")]


def test_ocr_giro_control_totals_tie() -> None:
    """Records are 80 chars in the grammar 10 20 (30 31)+ 88 89, and the 88/89 counts and net totals tie."""
    lines = ocr_lines()
    assert all(len(line) == 80 and line.startswith("NY") for line in lines)
    types = [field(line, 7, 8) for line in lines]
    assert types[:2] == ["10", "20"] and types[-2:] == ["88", "89"]
    assert types[2:-2] == ["30", "31"] * ((len(lines) - 4) // 2)
    assert field(lines[1], 3, 4) == "09" and field(lines[1], 25, 35) == "15062995960"

    items = lines[2:-2]
    rec30, rec31 = items[0::2], items[1::2]
    total = sum(
        (-1 if field(r, 32, 32) == "-" else 1) * int(field(r, 33, 49)) for r in rec30
    )
    nets_dates = {field(r, 16, 21) for r in rec30}
    assert nets_dates == {"201126"}
    assert {field(r, 5, 6) for r in rec30} <= {"10", "13", "14"} and len({field(r, 5, 6) for r in rec30}) > 1
    for a, b in zip(rec30, rec31):
        assert field(a, 9, 15) == field(b, 9, 15) and field(a, 5, 6) == field(b, 5, 6)
        assert field(b, 48, 58).isdigit() and len(field(b, 48, 58)) == 11
    archive = [field(r, 26, 34) for r in rec31]
    assert len(set(archive)) == len(archive) and all(a.isdigit() for a in archive)

    rec88, rec89 = lines[-2], lines[-1]
    assert int(field(rec88, 9, 16)) == len(rec30) == 12
    assert int(field(rec88, 17, 24)) == len(items) + 2  # incl. 20 and 88
    assert int(field(rec88, 25, 41)) == total
    assert field(rec88, 42, 47) == field(rec88, 48, 53) == field(rec88, 54, 59) == "201126"
    assert int(field(rec89, 9, 16)) == len(rec30)
    assert int(field(rec89, 17, 24)) == len(lines)  # incl. 10 and 89
    assert int(field(rec89, 25, 41)) == total


def test_camt054_notification_ties() -> None:
    """One booked deposit entry on the bankgiro (BGNR): its amount = the sum of its TxDtls, the batch counts them;
    bank references unique; the two-invoice payment's Strd amounts add up to it."""
    root = ElementTree.parse(CAMT).getroot()
    acct = root.find(".//c:Ntfctn/c:Acct/c:Id/c:Othr", NS)
    assert acct.findtext("c:Id", namespaces=NS) == "5402-9681"
    assert acct.findtext("c:SchmeNm/c:Prtry", namespaces=NS) == "BGNR"
    entries = root.findall(".//c:Ntry", NS)
    assert len(entries) == 1
    entry = entries[0]
    assert entry.findtext("c:Sts", namespaces=NS) == "BOOK" and entry.findtext("c:CdtDbtInd", namespaces=NS) == "CRDT"
    assert entry.findtext("c:BookgDt/c:Dt", namespaces=NS) == "2026-11-20"
    txs = camt_transactions()
    assert len(txs) == 11 == int(entry.findtext("c:NtryDtls/c:Btch/c:NbOfTxs", namespaces=NS))
    assert minor(entry.findtext("c:Amt", namespaces=NS)) == sum(t["amount"] for t in txs)
    refs = [t["bank_ref"] for t in txs]
    assert len(set(refs)) == len(refs) and all(r.isdigit() and len(r) == 12 for r in refs)
    multi = [t for t in txs if len(t["refs"]) > 1]
    assert len(multi) == 1 and multi[0]["docs"] == ["705013", "705014"]
    assert sum(multi[0]["strd_amounts"]) == multi[0]["amount"]
    by_number = {r["invoice_number"]: r for r in se_invoice_rows()}
    assert multi[0]["strd_amounts"] == [minor(by_number[n]["amount_incl_vat"]) for n in ("705013", "705014")]


def test_every_reference_valid_except_the_planted_one() -> None:
    """KIDs (MOD10) and OCR references (Luhn) all pass, except the one planted invalid_reference."""
    no_rows, se_rows = no_invoice_rows(), se_invoice_rows()
    for r in no_rows:
        kid = str(r["kid"])
        assert len(kid) == 13 and kid[:12] == f"{r['customer_number']}{r['invoice_number']}"
        assert is_valid_reference(kid, "mod10"), kid
    for r in se_rows:
        assert r["kid"][:-1] == r["invoice_number"] and is_valid_reference(r["kid"], "luhn"), r["kid"]

    ocr_kids = [field(r, 50, 74).strip() for r in ocr_lines() if field(r, 7, 8) == "30"]
    assert len(ocr_kids) == 12 and all(is_valid_reference(k, "mod10") for k in ocr_kids)
    assert all(field(r, 50, 74) == f"{k:>25}" for r, k in zip(
        [r for r in ocr_lines() if field(r, 7, 8) == "30"], ocr_kids))

    bad = planted()["invalid_reference"]["reference"]
    ocr_refs = [ref for t in camt_transactions() for ref in t["refs"]]
    assert len(ocr_refs) == 12
    assert [ref for ref in ocr_refs if not is_valid_reference(ref, "luhn")] == [bad]
    assert bad not in {r["kid"] for r in se_rows}


def test_sparebank1_exports() -> None:
    """Exact header, quoted values, decimal comma, newest first; the 19.11 payment row is in both exports."""
    files = {}
    for path in (SB1_19, SB1_20):
        text = path.read_bytes().decode("utf-8")
        assert not text.startswith("\ufeff") and "\r" not in text
        header, *rows = text.splitlines()
        assert header == SB1_HEADER
        dates = []
        for row in rows:
            assert row.endswith(";")
            cells = next(csv.reader([row[:-1]], delimiter=";"))
            assert len(cells) == 7
            dates.append(dt.datetime.strptime(cells[0], "%d.%m.%Y").date())
            inn, ut = cells[3], cells[4]
            assert bool(inn) != bool(ut)
            if inn:
                assert cells[5] == "15062995960" and "," in inn and minor(inn) > 0
            else:
                assert cells[6] == "15062995960" and ut.startswith("-") and minor(ut) < 0
        assert dates == sorted(dates, reverse=True)
        files[path.name] = rows
    assert {d.day for d in (dt.datetime.strptime(r[1:11], "%d.%m.%Y") for r in files[SB1_19.name])} == {18, 19}
    assert {d.day for d in (dt.datetime.strptime(r[1:11], "%d.%m.%Y") for r in files[SB1_20.name])} == {19, 20}
    overlap = set(files[SB1_19.name]) & set(files[SB1_20.name])
    assert len(overlap) == 1  # exactly the planted duplicate


def test_planted_entries_point_at_their_rows() -> None:
    """Each manifest entry names a line that holds its reference, invoice and amount."""
    entries = json.loads(PLANTED.read_text(encoding="utf-8"))
    assert [e["category"] for e in entries] == CATEGORIES
    for e in entries:
        assert set(e) == {"category", "source_file", "source_line", "reference", "invoice_number", "amount",
                          "expected_amount"}
        assert (SAMPLE / e["source_file"]).is_file()
    p = planted()
    no_by_number = {r["invoice_number"]: r for r in no_invoice_rows()}
    se_by_number = {r["invoice_number"]: r for r in se_invoice_rows()}

    row = xlsx_rows(NO_INVOICES)[p["invalid_row"]["source_line"] - 1]
    assert row[0] == p["invalid_row"]["invoice_number"] and row[3] == p["invalid_row"]["reference"]
    assert row[4] == "2026-11-31" and row[9] == p["invalid_row"]["amount"]

    lines = ocr_lines()
    for cat in ("overpayment", "unmatched_payment"):
        rec = lines[p[cat]["source_line"] - 1]
        assert field(rec, 7, 8) == "30" and field(rec, 50, 74).strip() == p[cat]["reference"]
        assert int(field(rec, 33, 49)) == minor(p[cat]["amount"])
    over = p["overpayment"]
    assert minor(over["expected_amount"]) == minor(str(no_by_number[over["invoice_number"]]["amount_incl_vat"]))
    assert minor(over["amount"]) - minor(over["expected_amount"]) == 15000
    assert p["unmatched_payment"]["reference"] not in {r["kid"] for r in no_by_number.values()}
    assert p["unmatched_payment"]["invoice_number"] is None and p["unmatched_payment"]["expected_amount"] is None

    dup = p["duplicate_payment"]
    dup_row = SB1_20.read_text(encoding="utf-8").splitlines()[dup["source_line"] - 1]
    assert dup_row in SB1_19.read_text(encoding="utf-8").splitlines()
    assert f";\"{dup['amount'].replace('.', ',')}\";" in dup_row and dup["invoice_number"] in dup_row
    assert dup["amount"] == no_by_number[dup["invoice_number"]]["amount_incl_vat"]

    lines = camt_lines()
    starts = [i + 1 for i, line in enumerate(lines) if line.strip() == "<TxDtls>"]
    txs = dict(zip(starts, camt_transactions()))
    for cat in ("underpayment", "invalid_reference"):
        assert p[cat]["source_line"] in txs  # the line of the payment's TxDtls
        tx = txs[p[cat]["source_line"]]
        assert tx["refs"] == [p[cat]["reference"]] and tx["amount"] == minor(p[cat]["amount"])
        assert p[cat]["expected_amount"] == se_by_number[p[cat]["invoice_number"]]["amount_incl_vat"]
    under = p["underpayment"]
    assert minor(under["amount"]) == (minor(under["expected_amount"]) * 40 + 50) // 100
    bad = p["invalid_reference"]
    assert txs[bad["source_line"]]["info"] == f"Faktura {bad['invoice_number']}"
    assert bad["amount"] == bad["expected_amount"]


def test_sandbox_seed_has_a_case_per_swedish_invoice() -> None:
    """One ADA case per SE invoice with its amount; case ids are distinct 24-hex strings."""
    seed = json.loads(SEED.read_text(encoding="utf-8"))
    assert seed["collection_invoices"] == [] and seed["arm_documents"] == []
    cases = seed["ada_cases"]
    expected = [(r["invoice_number"], r["amount_incl_vat"]) for r in se_invoice_rows()]
    assert [(c["invoice_number"], c["amount"]) for c in cases] == expected
    assert {c["creditor"] for c in cases} == {"674dbeb208847b9501cc9138"}
    assert {c["currency"] for c in cases} == {"SEK"}
    ids = [c["case"] for c in cases]
    assert len(set(ids)) == len(ids) and all(len(i) == 24 and int(i, 16) >= 0 for i in ids)
