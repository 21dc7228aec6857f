#!/usr/bin/env python3
"""Generate amili-etl's sample data reproducibly: `python sample_data/generate.py [OUT_DIR]`.

Two fictitious creditors (every name below is invented):
- Nordlys Energi AS (config `nordlys-no`, account 15062995960, ARM client 2218): an invoice export (.xlsx),
  a Nets OCR giro transmission and two overlapping SpareBank 1 CSV exports.
- Solkraft Sverige AB (config `solkraft-se`, bankgiro 5402-9681, ADA creditor 674dbeb208847b9501cc9138):
  an invoice export (.csv), its bank's camt.054 credit notification of the day's Bankgiro payments (one deposit
  entry, a TxDtls per payment, one of them paying two invoices with an amount each) and the sandbox seed with one
  ADA case per invoice. `bgmax_text` writes the same payments as a legacy Bankgirot BgMax file (Bg Max ended on
  27 November 2026; the tests use it for the transition months, when a payment came both ways).

Six problems are planted on purpose and listed in planted.json (the manifest the end-to-end tests check).
Everything comes from one random.Random(SEED) and fixed dates: no wall clock, so reruns are byte-identical
(the .xlsx too: fixed document properties and fixed zip entry times).
Record layouts follow docs/formats.md (positions 1-based inclusive); each writer asserts 80 characters.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # so `python sample_data/generate.py` finds the etl package
    sys.path.insert(0, str(HERE.parent))

from openpyxl import Workbook  # noqa: E402
from openpyxl.writer.excel import ExcelWriter  # noqa: E402

from etl.refs import mod10_check_digit, mod11_check_digit  # noqa: E402

SEED = 20261120
FIXED_TIME = dt.datetime(2026, 11, 20, 5, 30, 0)  # xlsx document properties and zip entry times

INVOICE_HEADER = [
    "invoice_number",
    "customer_number",
    "customer_name",
    "kid",
    "invoice_date",
    "due_date",
    "currency",
    "amount_excl_vat",
    "vat_amount",
    "amount_incl_vat",
]
SB1_HEADER = "Dato;Beskrivelse;Rentedato;Inn;Ut;Til konto;Fra konto;"

# Norway: Nordlys Energi AS
NO_ACCOUNT = "15062995960"
NO_INVOICES_FILE = "no/invoices_nordlys_2026-11-20.xlsx"
NO_OCR_FILE = "no/ocr_nordlys_2026-11-20.txt"
NO_SB1_FILES = ("no/sparebank1_2026-11-19.csv", "no/sparebank1_2026-11-20.csv")
NETS_DATE = "201126"  # DDMMYY: the settlement date of every OCR item
NETS_BANK_DATE = "191126"  # the payer's bank debited the day before

# Sweden: Solkraft Sverige AB
SE_BANKGIRO = "54029681"
SE_BANK_ACCOUNT = "832799434123456"  # the account the bankgiro deposits land on (TK15, zero-padded to 35)
SE_ADA_CREDITOR = "674dbeb208847b9501cc9138"
SE_INVOICES_FILE = "se/invoices_solkraft_2026-11-20.csv"
SE_BGMAX_FILE = "se/bgmax_solkraft_2026-11-20.txt"  # legacy: not in the sample any more (see bgmax_text)
SE_CAMT_FILE = "se/camt054_solkraft_2026-11-20.xml"
SE_MULTI_INVOICES = ("705013", "705014")  # paid by one payment, each with its amount in its own Strd
SE_MULTI_SERIAL = "990000000001"  # the bank's reference of that payment (outside the random serials' range)
BGMAX_TIMESTAMP = "20261120054211123456"  # YYYYMMDDHHMMSSffffff
BGMAX_PAYMENT_DATE = "20261120"

# The planted problems, declared once; the builders below plant them and record where they landed.
BROKEN_DATE_INVOICE = "100024"
BROKEN_DATE_TEXT = "2026-11-31"  # November has 30 days -> invalid_row
OVERPAID_INVOICE = "100011"
OVERPAYMENT_MINOR = 15_000  # 150.00 NOK too much -> overpayment
UNKNOWN_INVOICE = "100031"  # an invoice that does not exist: its KID is valid but matches nothing -> unmatched_payment
DUPLICATED_INVOICE = "100013"  # paid on 19.11, and that row is in both overlapping exports -> duplicate_payment
UNDERPAID_INVOICE = "705010"
UNDERPAID_PERCENT = 40  # only 40 % paid -> underpayment
BAD_REFERENCE_INVOICE = "705009"  # paid with a wrong Luhn digit, "Faktura 705009" in TK25 -> invalid_reference

NO_FIRST = ["Ingrid", "Kari", "Solveig", "Astrid", "Sigrid", "Ragnhild", "Marit", "Tone", "Hege", "Liv",
            "Ola", "Knut", "Arne", "Eirik", "Håkon", "Torbjørn", "Sverre", "Øystein", "Vegard", "Trond"]
NO_LAST = ["Haugland", "Brekke", "Solberg", "Nygård", "Fjeldstad", "Østby", "Myklebust", "Rønning",
           "Tveit", "Sæther", "Bakken", "Lunde", "Aasen", "Strand", "Dahle", "Moen"]
NO_COMPANIES = ["Fjordbakeriet AS", "Tindevik Regnskap AS", "Havbris Fiskeutstyr AS",
                "Nordkapp Snekkerverksted AS", "Lysglimt Frisør AS", "Polarlys Tannklinikk AS"]
SE_FIRST = ["Åsa", "Karin", "Britt", "Maja", "Elsa", "Linnea", "Agneta", "Lars", "Björn", "Göran",
            "Nils", "Sven", "Pär", "Mikael"]
SE_LAST = ["Lindqvist", "Ekström", "Sjöberg", "Holmgren", "Wikström", "Nyberg", "Lundgren", "Åkesson",
           "Björklund", "Engström", "Hedlund"]
SE_COMPANIES = ["Bröderna Ekbacka Bygg AB", "Västkustens Måleri AB", "Gröna Ängen Förskola AB",
                "Sjöbodens Fisk HB"]
# Outgoing rows on the Norwegian account (not customer payments): description, amount in øre (negative).
NO_OUTGOING = [
    ("KIWI 431 SJØGATA", -34_856),
    ("HUSLEIE NOVEMBER", -1_850_000),
    ("CIRCLE K STORGATA", -72_345),
    ("Overføring til skattetrekkskonto", -4_125_000),
    ("TELENOR NORGE AS", -62_900),
]


@dataclass(frozen=True)
class Customer:
    """A fictitious payer: number, name, and where they pay from."""

    number: str
    name: str
    account: str  # NO: 11-digit bank account; SE: bankgiro number or "" for a private person


@dataclass(frozen=True)
class Invoice:
    """One row of an invoice export, as written (dates as text: one is broken on purpose)."""

    invoice_number: str
    customer: Customer
    kid: str
    invoice_date: str
    due_date: str
    currency: str
    excl_minor: int
    vat_minor: int

    @property
    def amount_minor(self) -> int:
        """Amount including VAT, in minor units."""
        return self.excl_minor + self.vat_minor

    def row(self) -> list[str]:
        """The row in INVOICE_HEADER order, every cell as text."""
        return [
            self.invoice_number,
            self.customer.number,
            self.customer.name,
            self.kid,
            self.invoice_date,
            self.due_date,
            self.currency,
            decimal_point(self.excl_minor),
            decimal_point(self.vat_minor),
            decimal_point(self.amount_minor),
        ]


@dataclass(frozen=True)
class Planted:
    """One planted problem and where it sits: the manifest entry the end-to-end tests check."""

    category: str
    source_file: str  # relative to sample_data/
    source_line: int  # 1-based physical line (xlsx: sheet row; CSV: header is line 1)
    reference: str | None
    invoice_number: str | None
    amount_minor: int
    expected_minor: int | None

    def to_json(self) -> dict[str, object]:
        """The manifest entry, amounts as decimal strings."""
        return {
            "category": self.category,
            "source_file": self.source_file,
            "source_line": self.source_line,
            "reference": self.reference,
            "invoice_number": self.invoice_number,
            "amount": decimal_point(self.amount_minor),
            "expected_amount": None if self.expected_minor is None else decimal_point(self.expected_minor),
        }


@dataclass(frozen=True)
class OcrItem:
    """One Nets OCR giro transaction (records 30 + 31)."""

    transaction_type: int
    kid: str
    amount_minor: int
    form_number: str
    archive_reference: str
    debit_account: str


@dataclass(frozen=True)
class BankRow:
    """One SpareBank 1 CSV row: incoming when amount > 0."""

    date: dt.date
    text: str
    amount_minor: int
    to_account: str
    from_account: str


@dataclass(frozen=True)
class BgPayment:
    """One BgMax payment: TK20 plus optional TK25 and TK26."""

    sender_bankgiro: str
    reference: str
    reference_code: str  # "2" correct OCR, "3" unchecked text
    amount_minor: int
    channel: str
    serial: str
    info_text: str | None
    payer_name: str


# ---------------------------------------------------------------- small helpers


def decimal_point(minor: int) -> str:
    """Minor units -> '1234.50'."""
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def decimal_comma(minor: int) -> str:
    """Minor units -> '1234,50' / '-348,56' (SpareBank 1 style)."""
    return decimal_point(minor).replace(".", ",")


def vat_25(excl_minor: int) -> int:
    """25 % VAT in minor units, rounded half up."""
    return (excl_minor * 25 + 50) // 100


def luhn_append(body: str) -> str:
    """`body` with its Luhn (MOD10) check digit appended."""
    return body + mod10_check_digit(body)


def random_no_account(rng: random.Random) -> str:
    """A fictitious Norwegian 11-digit account number with a valid MOD11 check digit."""
    while True:
        body = f"{rng.randint(1200, 9799)}{rng.randint(10, 99)}{rng.randint(0, 9999):04d}"
        check = mod11_check_digit(body)
        if check != "-":
            return body + check


def random_bankgiro(rng: random.Random) -> str:
    """A fictitious 8-digit Swedish bankgiro number with a valid Luhn check digit."""
    return luhn_append(str(rng.randint(1_000_000, 9_999_999)))


def person_names(rng: random.Random, first: list[str], last: list[str], n: int) -> list[str]:
    """`n` distinct invented 'First Last' names."""
    names: list[str] = []
    while len(names) < n:
        name = f"{rng.choice(first)} {rng.choice(last)}"
        if name not in names:
            names.append(name)
    return names


def sorted_dates(rng: random.Random, start: dt.date, span_days: int, n: int) -> list[dt.date]:
    """`n` dates in [start, start + span_days], ascending (invoice numbers rise with dates)."""
    return sorted(start + dt.timedelta(days=rng.randint(0, span_days)) for _ in range(n))


def check80(record: str) -> str:
    """Assert a fixed-width record is exactly 80 characters and return it."""
    assert len(record) == 80, (len(record), record)
    return record


# ---------------------------------------------------------------- Nets OCR giro records


def ocr_rec10(transmitter: str, transmission_no: str, recipient: str) -> str:
    """Start transmission: 9-16 transmitter, 17-23 transmission number, 24-31 recipient."""
    return check80(f"NY000010{transmitter:0>8}{transmission_no:0>7}{recipient:0>8}{'':0<49}")


def ocr_rec20(agreement_id: str, assignment_no: str, account: str) -> str:
    """Start assignment (service 09): 9-17 agreement id, 18-24 assignment number, 25-35 account."""
    return check80(f"NY090020{agreement_id:0>9}{assignment_no:0>7}{account:0>11}{'':0<45}")


def ocr_rec30(item: OcrItem, seq: int, nets_date: str, partial: str, serial: str) -> str:
    """Amount item 1: type, number, Nets date, centre, day code, partial/serial, sign, amount, KID 50-74."""
    sign = "-" if item.amount_minor < 0 else "0"
    return check80(
        f"NY09{item.transaction_type:02d}30{seq:07d}{nets_date}01{nets_date[:2]}{partial}{serial:0>5}"
        f"{sign}{abs(item.amount_minor):017d}{item.kid:>25}000000"
    )


def ocr_rec31(item: OcrItem, seq: int, bank_date: str) -> str:
    """Amount item 2: number, form number, archive reference 26-34, bank date 42-47, debit account 48-58."""
    return check80(
        f"NY09{item.transaction_type:02d}31{seq:07d}{item.form_number:0>10}{item.archive_reference:0>9}"
        f"{'':0<7}{bank_date}{item.debit_account:0>11}{'':0<22}"
    )


def ocr_rec88(transactions: int, records: int, total_minor: int, nets_date: str, first: str, last: str) -> str:
    """End assignment: counts (records incl. 20 and 88), net total, Nets date, earliest and latest date."""
    return check80(f"NY090088{transactions:08d}{records:08d}{total_minor:017d}{nets_date}{first}{last}{'':0<21}")


def ocr_rec89(transactions: int, records: int, total_minor: int, nets_date: str) -> str:
    """End transmission: counts (records incl. 10 and 89), net total, Nets date."""
    return check80(f"NY000089{transactions:08d}{records:08d}{total_minor:017d}{nets_date}{'':0<33}")


# ---------------------------------------------------------------- Bankgirot BgMax posts


def bg_tk01(timestamp: str, mark: str) -> str:
    """Start: 3-22 BGMAX, 23-24 version 01, 25-44 timestamp, 45 test/production mark."""
    return check80(f"01{'BGMAX':<20}01{timestamp:<20}{mark}{'':<35}")


def bg_tk05(bankgiro: str, currency: str) -> str:
    """Deposit opening: 3-12 receiving bankgiro, 13-22 plusgiro (blank), 23-25 currency."""
    return check80(f"05{bankgiro:0>10}{'':<10}{currency}{'':<55}")


def bg_tk20(p: BgPayment) -> str:
    """Payment: sender bankgiro, reference 13-37 (OCR right-, text left-aligned), amount, codes, BGC serial."""
    ref = f"{p.reference:>25}" if p.reference_code == "2" else f"{p.reference:<25}"
    return check80(
        f"20{p.sender_bankgiro:0>10}{ref}{p.amount_minor:018d}{p.reference_code}{p.channel}{p.serial:0>12}0{'':<10}"
    )


def bg_tk22(sender_bankgiro: str, reference: str, amount_minor: int, serial: str) -> str:
    """Extra reference (positive), laid out as TK20: an OCR reference the payment also pays, with its amount."""
    return check80(f"22{sender_bankgiro:0>10}{reference:>25}{amount_minor:018d}21{serial:0>12}0{'':<10}")


def bg_tk25(text: str) -> str:
    """Information text in 3-52."""
    return check80(f"25{text:<50}{'':<28}")


def bg_tk26(name: str) -> str:
    """Payer name in 3-37 (extra name 38-72 left blank)."""
    return check80(f"26{name:<35}{'':<35}{'':<8}")


def bg_tk15(account: str, date: str, serial: str, amount_minor: int, currency: str, count: int) -> str:
    """Deposit: account 3-37, date 38-45, serial 46-50, amount 51-68, currency 69-71, count 72-79."""
    return check80(f"15{account:0>35}{date}{serial:0>5}{amount_minor:018d}{currency}{count:08d} ")


def bg_tk70(n20: int, n21: int, n22_23: int, n15: int) -> str:
    """End: counts of TK20, TK21, TK22+TK23, TK15."""
    return check80(f"70{n20:08d}{n21:08d}{n22_23:08d}{n15:08d}{'':<46}")


# ---------------------------------------------------------------- SpareBank 1 CSV rows


def sb1_line(row: BankRow) -> str:
    """One SpareBank 1 line: non-empty values quoted, Inn or Ut filled, trailing ';'."""
    inn = decimal_comma(row.amount_minor) if row.amount_minor > 0 else ""
    ut = decimal_comma(row.amount_minor) if row.amount_minor < 0 else ""
    cells = [row.date.strftime("%d.%m.%Y"), row.text, "", inn, ut, row.to_account, row.from_account]
    return ";".join(f'"{c}"' if c else "" for c in cells) + ";"


# ---------------------------------------------------------------- builders


def build_no_invoices(rng: random.Random) -> list[Invoice]:
    """24 Nordlys invoices 100001..100024; KID = customer(6) + invoice(6) + MOD10; one broken date."""
    names = person_names(rng, NO_FIRST, NO_LAST, 12) + rng.sample(NO_COMPANIES, 6)
    rng.shuffle(names)
    numbers = sorted(rng.sample(range(543201, 543300), len(names)))
    customers = [Customer(str(n), name, random_no_account(rng)) for n, name in zip(numbers, names)]
    dates = sorted_dates(rng, dt.date(2026, 10, 1), 36, 24)
    invoices = []
    for i, date in enumerate(dates):
        number = str(100001 + i)
        customer = rng.choice(customers)
        excl = rng.randint(38_000, 480_000)
        shown_date = BROKEN_DATE_TEXT if number == BROKEN_DATE_INVOICE else date.isoformat()
        invoices.append(
            Invoice(
                invoice_number=number,
                customer=customer,
                kid=luhn_append(customer.number + number),
                invoice_date=shown_date,
                due_date=(date + dt.timedelta(days=14)).isoformat(),
                currency="NOK",
                excl_minor=excl,
                vat_minor=vat_25(excl),
            )
        )
    return invoices


def build_ocr(rng: random.Random, invoices: list[Invoice]) -> tuple[list[str], list[Planted]]:
    """The OCR giro transmission: 10 exact payments, one overpayment, one valid KID for no invoice."""
    by_number = {inv.invoice_number: inv for inv in invoices}
    known_customers = {inv.customer.number for inv in invoices}
    stranger = next(str(n) for n in range(543299, 543200, -1) if str(n) not in known_customers)
    unknown_kid = luhn_append(stranger + UNKNOWN_INVOICE)
    assert unknown_kid not in {inv.kid for inv in invoices}

    # (kid, amount, debit account, planted category or None, invoice number, expected amount)
    wanted: list[tuple[str, int, str, str | None, str | None, int | None]] = []
    for n in range(100001, 100011):
        inv = by_number[str(n)]
        wanted.append((inv.kid, inv.amount_minor, inv.customer.account, None, inv.invoice_number, inv.amount_minor))
    over = by_number[OVERPAID_INVOICE]
    wanted.append((over.kid, over.amount_minor + OVERPAYMENT_MINOR, over.customer.account, "overpayment",
                   over.invoice_number, over.amount_minor))
    wanted.append((unknown_kid, rng.randint(40_000, 300_000), random_no_account(rng), "unmatched_payment", None, None))
    rng.shuffle(wanted)

    archive_refs = rng.sample(range(100_000_000, 1_000_000_000), len(wanted))
    lines = [ocr_rec10("00008080", "2011260", "00017760"), ocr_rec20("001776021", "0003291", NO_ACCOUNT)]
    planted: list[Planted] = []
    total = 0
    for seq, (kid, amount, account, category, number, expected) in enumerate(wanted, start=1):
        item = OcrItem(
            transaction_type=rng.choice([10, 10, 13, 14]),
            kid=kid,
            amount_minor=amount,
            form_number=f"{rng.randint(0, 9_999_999_999):010d}",
            archive_reference=str(archive_refs[seq - 1]),
            debit_account=account,
        )
        if category:
            planted.append(Planted(category, NO_OCR_FILE, len(lines) + 1, kid, number, amount, expected))
        lines.append(ocr_rec30(item, seq, NETS_DATE, "1", "48213"))
        lines.append(ocr_rec31(item, seq, NETS_BANK_DATE))
        total += amount
    n = len(wanted)
    lines.append(ocr_rec88(n, 2 * n + 2, total, NETS_DATE, NETS_DATE, NETS_DATE))
    lines.append(ocr_rec89(n, 2 * n + 4, total, NETS_DATE))
    return lines, planted


def build_sb1(rng: random.Random, invoices: list[Invoice]) -> tuple[dict[str, list[str]], list[Planted]]:
    """Two overlapping SpareBank 1 exports (18-19.11 and 19-20.11), newest first; the 19.11 payment is in both."""
    by_number = {inv.invoice_number: inv for inv in invoices}
    d18, d19, d20 = dt.date(2026, 11, 18), dt.date(2026, 11, 19), dt.date(2026, 11, 20)
    outgoing = rng.sample(NO_OUTGOING, 4)
    recipients = [random_no_account(rng) for _ in outgoing]

    def paid(number: str, date: dt.date, text: str) -> BankRow:
        """An incoming row paying `number` exactly."""
        inv = by_number[number]
        return BankRow(date, text, inv.amount_minor, NO_ACCOUNT, inv.customer.account)

    def spent(i: int, date: dt.date) -> BankRow:
        """An outgoing row (not a customer payment)."""
        text, amount = outgoing[i]
        return BankRow(date, text, amount, recipients[i], NO_ACCOUNT)

    inv12 = by_number["100012"]
    inv14 = by_number["100014"]
    # The 19.11 export has no outgoing rows dated 19.11, so the overlap is exactly the one planted duplicate.
    row_19 = paid(DUPLICATED_INVOICE, d19, f"Innbetaling faktura {DUPLICATED_INVOICE}")
    file_19 = [row_19, spent(0, d18), paid("100012", d18, f"Faktura 100012 {inv12.customer.name}"), spent(1, d18)]
    file_20 = [spent(2, d20), paid("100014", d20, f"Betaling faktura 100014 {inv14.customer.name}"), spent(3, d20),
               row_19]
    files = {
        NO_SB1_FILES[0]: [SB1_HEADER] + [sb1_line(r) for r in file_19],
        NO_SB1_FILES[1]: [SB1_HEADER] + [sb1_line(r) for r in file_20],
    }
    dup_line = file_20.index(row_19) + 2  # 1-based physical line: the header is line 1
    assert files[NO_SB1_FILES[1]][dup_line - 1] == files[NO_SB1_FILES[0]][file_19.index(row_19) + 1]
    dup = by_number[DUPLICATED_INVOICE]
    planted = [Planted("duplicate_payment", NO_SB1_FILES[1], dup_line, None, dup.invoice_number,
                       dup.amount_minor, None)]
    return files, planted


def build_se_invoices(rng: random.Random) -> list[Invoice]:
    """12 Solkraft invoices 705001..705012; OCR reference = invoice number + Luhn digit."""
    persons = person_names(rng, SE_FIRST, SE_LAST, 7)
    companies = rng.sample(SE_COMPANIES, 3)
    people = [(name, "") for name in persons] + [(name, random_bankgiro(rng)) for name in companies]
    rng.shuffle(people)
    numbers = sorted(rng.sample(range(773101, 773200), len(people)))
    customers = [Customer(str(n), name, bg) for n, (name, bg) in zip(numbers, people)]
    dates = sorted_dates(rng, dt.date(2026, 10, 1), 20, 12)
    invoices = []
    for i, date in enumerate(dates):
        number = str(705001 + i)
        excl = rng.randint(45_000, 980_000)
        invoices.append(
            Invoice(
                invoice_number=number,
                customer=rng.choice(customers),
                kid=luhn_append(number),
                invoice_date=date.isoformat(),
                due_date=(date + dt.timedelta(days=30)).isoformat(),
                currency="SEK",
                excl_minor=excl,
                vat_minor=vat_25(excl),
            )
        )
    return invoices


@dataclass(frozen=True)
class SePayment:
    """One Swedish Bankgiro payment, whichever file carries it: the BgMax post or the camt.054 TxDtls."""

    payment: BgPayment
    invoice: Invoice
    category: str | None  # the planted problem it carries, if any


def build_se_payments(rng: random.Random, invoices: list[Invoice]) -> list[SePayment]:
    """One deposit of 10 payments: 8 exact by OCR, one 40 % partial, one with a wrong Luhn digit."""
    by_number = {inv.invoice_number: inv for inv in invoices}
    bad = by_number[BAD_REFERENCE_INVOICE]
    wrong_digit = str((int(bad.kid[-1]) + 3) % 10)
    bad_reference = bad.invoice_number + wrong_digit
    assert bad_reference not in {inv.kid for inv in invoices}
    under = by_number[UNDERPAID_INVOICE]
    under_amount = (under.amount_minor * UNDERPAID_PERCENT + 50) // 100

    # (invoice, reference, reference code, amount, info text, planted category or None)
    wanted: list[tuple[Invoice, str, str, int, str | None, str | None]] = []
    for n in range(705001, 705009):
        inv = by_number[str(n)]
        info = f"Faktura {inv.invoice_number}" if rng.random() < 0.3 else None
        wanted.append((inv, inv.kid, "2", inv.amount_minor, info, None))
    wanted.append((under, under.kid, "2", under_amount, "Delbetalning, resten i december", "underpayment"))
    wanted.append((bad, bad_reference, "3", bad.amount_minor, f"Faktura {bad.invoice_number}", "invalid_reference"))
    rng.shuffle(wanted)

    serials = rng.sample(range(10**11, 10**12), len(wanted))
    assert int(SE_MULTI_SERIAL) not in serials
    payments = []
    for (inv, reference, code, amount, info, category), serial in zip(wanted, serials):
        company = bool(inv.customer.account)
        payment = BgPayment(
            sender_bankgiro=inv.customer.account or "0",
            reference=reference,
            reference_code=code,
            amount_minor=amount,
            channel="2" if company else rng.choice(["1", "1", "3"]),
            serial=str(serial),
            info_text=info,
            payer_name=inv.customer.name,
        )
        payments.append(SePayment(payment, inv, category))
    return payments


def bgmax_text(payments: list[SePayment], invoices: list[Invoice]) -> tuple[list[str], list[Planted]]:
    """The payments of camt054_text as a legacy BgMax file: one deposit (TK05 .. TK15), a TK20 (+TK25, TK26) per
    payment; the two-invoice payment as a TK20 followed by a TK22 per invoice with its amount."""
    lines = [bg_tk01(BGMAX_TIMESTAMP, "P"), bg_tk05(SE_BANKGIRO, "SEK")]
    planted: list[Planted] = []
    total = 0
    for se in payments:
        p = se.payment
        if se.category:
            planted.append(Planted(se.category, SE_BGMAX_FILE, len(lines) + 1, p.reference,
                                   se.invoice.invoice_number, p.amount_minor, se.invoice.amount_minor))
        lines.append(bg_tk20(p))
        if p.info_text:
            lines.append(bg_tk25(p.info_text))
        lines.append(bg_tk26(p.payer_name))
        total += p.amount_minor
    multi = multi_invoice_payment(invoices)
    lines.append(bg_tk20(multi))
    for number in SE_MULTI_INVOICES:
        inv = next(i for i in invoices if i.invoice_number == number)
        lines.append(bg_tk22(multi.sender_bankgiro, inv.kid, inv.amount_minor, multi.serial))
    lines.append(bg_tk26(multi.payer_name))
    total += multi.amount_minor
    lines.append(bg_tk15(SE_BANK_ACCOUNT, BGMAX_PAYMENT_DATE, "00047", total, "SEK", len(payments) + 1))
    lines.append(bg_tk70(len(payments) + 1, 0, len(SE_MULTI_INVOICES), 1))
    return lines, planted


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _sek(minor: int) -> str:
    return f'<Amt Ccy="SEK">{decimal_point(minor)}</Amt>'


def _camt_tx(p: BgPayment, strds: list[tuple[str, str | None, int | None]]) -> list[str]:
    """One TxDtls as the bank writes it for a Bankgiro payment: the BGC serial as AcctSvcrRef, the amount, the payer,
    one Strd per (OCR reference, invoice number, amount)."""
    lines = ["          <TxDtls>",
             f"            <Refs><AcctSvcrRef>{p.serial}</AcctSvcrRef></Refs>",
             f"            <AmtDtls><TxAmt>{_sek(p.amount_minor)}</TxAmt></AmtDtls>",
             "            <RltdPties>",
             f"              <Dbtr><Nm>{_xml(p.payer_name)}</Nm></Dbtr>"]
    if p.sender_bankgiro != "0":
        lines.append(f"              <DbtrAcct><Id><Othr><Id>{p.sender_bankgiro}</Id>"
                     "<SchmeNm><Prtry>BGNR</Prtry></SchmeNm></Othr></Id></DbtrAcct>")
    lines += ["            </RltdPties>", "            <RmtInf>"]
    if p.info_text:
        lines.append(f"              <Ustrd>{_xml(p.info_text)}</Ustrd>")
    for ocr, number, amount in strds:
        doc = (f"<RfrdDocInf><Tp><CdOrPrtry><Cd>CINV</Cd></CdOrPrtry></Tp><Nb>{number}</Nb></RfrdDocInf>"
               if number else "")
        rmtd = f"<RfrdDocAmt><RmtdAmt Ccy=\"SEK\">{decimal_point(amount)}</RmtdAmt></RfrdDocAmt>" if amount else ""
        lines.append(f"              <Strd>{doc}{rmtd}<CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
                     f"<Ref>{ocr}</Ref></CdtrRefInf></Strd>")
    lines += ["            </RmtInf>", "          </TxDtls>"]
    return lines


def build_se_multi_invoices(invoices: list[Invoice]) -> list[Invoice]:
    """SE_MULTI_INVOICES: two invoices of one company customer, billed after the others (fixed values, no random
    draw: every other file stays as it was)."""
    customer = next((i.customer for i in invoices if i.customer.account), invoices[0].customer)
    out = []
    for number, day, excl in zip(SE_MULTI_INVOICES, (dt.date(2026, 10, 22), dt.date(2026, 10, 29)), (412_000, 96_800)):
        out.append(Invoice(number, customer, luhn_append(number), day.isoformat(),
                           (day + dt.timedelta(days=30)).isoformat(), "SEK", excl, vat_25(excl)))
    return out


def build_se(rng: random.Random) -> tuple[list[Invoice], list[SePayment]]:
    """The Swedish creditor's invoices (with SE_MULTI_INVOICES last) and its payments of the day but the one paying
    two invoices (camt054_text and bgmax_text add it)."""
    invoices = build_se_invoices(rng)
    invoices += build_se_multi_invoices(invoices)
    return invoices, build_se_payments(rng, invoices)


def multi_invoice_payment(invoices: list[Invoice]) -> BgPayment:
    """The payment of SE_MULTI_INVOICES, each paid in full (no random draw: the other files stay as they were)."""
    first, second = (next(i for i in invoices if i.invoice_number == n) for n in SE_MULTI_INVOICES)
    return BgPayment(sender_bankgiro=first.customer.account or "0", reference=first.kid, reference_code="2",
                     amount_minor=first.amount_minor + second.amount_minor, channel="1", serial=SE_MULTI_SERIAL,
                     info_text=None, payer_name=first.customer.name)


def camt054_text(payments: list[SePayment], invoices: list[Invoice]) -> tuple[list[str], list[Planted]]:
    """The day's Bankgiro payments as the bank's camt.054.001.02 credit notification: the bankgiro as the account
    (Othr/Id, scheme BGNR), one booked entry for the deposit with a TxDtls per payment, then the payment of two
    invoices with an amount each."""
    multi = multi_invoice_payment(invoices)
    by_number = {i.invoice_number: i for i in invoices}
    total = sum(se.payment.amount_minor for se in payments) + multi.amount_minor
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">',
             "  <BkToCstmrDbtCdtNtfctn>",
             f"    <GrpHdr><MsgId>SOLKRAFT-{BGMAX_PAYMENT_DATE}-1</MsgId><CreDtTm>2026-11-20T05:42:11</CreDtTm></GrpHdr>",
             "    <Ntfctn>",
             f"      <Id>BG{SE_BANKGIRO}-{BGMAX_PAYMENT_DATE}-00047</Id>",
             "      <CreDtTm>2026-11-20T05:42:11</CreDtTm>",
             "      <Acct><Id><Othr><Id>5402-9681</Id><SchmeNm><Prtry>BGNR</Prtry></SchmeNm></Othr></Id>"
             "<Ccy>SEK</Ccy></Acct>",
             "      <Ntry>",
             f"        {_sek(total)}",
             "        <CdtDbtInd>CRDT</CdtDbtInd>",
             "        <Sts>BOOK</Sts>",
             "        <BookgDt><Dt>2026-11-20</Dt></BookgDt>",
             "        <ValDt><Dt>2026-11-20</Dt></ValDt>",
             f"        <AcctSvcrRef>{SE_BANKGIRO}BM00047</AcctSvcrRef>",
             "        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>",
             "        <NtryDtls>",
             f"          <Btch><NbOfTxs>{len(payments) + 1}</NbOfTxs></Btch>"]
    planted: list[Planted] = []
    for se in payments:
        p = se.payment
        if se.category:
            planted.append(Planted(se.category, SE_CAMT_FILE, len(lines) + 1, p.reference,
                                   se.invoice.invoice_number, p.amount_minor, se.invoice.amount_minor))
        lines += _camt_tx(p, [(p.reference, None, None)])
    lines += _camt_tx(multi, [(by_number[n].kid, n, by_number[n].amount_minor) for n in SE_MULTI_INVOICES])
    lines += ["        </NtryDtls>", "      </Ntry>", "    </Ntfctn>", "  </BkToCstmrDbtCdtNtfctn>", "</Document>"]
    return lines, planted


def build_seed(rng: random.Random, invoices: list[Invoice]) -> dict[str, list[dict[str, str]]]:
    """Sandbox seed: one ADA case per Swedish invoice (ObjectId-like ids: invoice-date seconds + random + counter)."""
    cases = []
    for i, inv in enumerate(invoices, start=1):
        seconds = int(dt.datetime.fromisoformat(inv.invoice_date).replace(tzinfo=dt.timezone.utc).timestamp())
        case_id = f"{seconds:08x}{rng.getrandbits(40):010x}{i:06x}"
        cases.append(
            {
                "case": case_id,
                "creditor": SE_ADA_CREDITOR,
                "invoice_number": inv.invoice_number,
                "amount": decimal_point(inv.amount_minor),
                "currency": inv.currency,
            }
        )
    return {"ada_cases": cases, "collection_invoices": [], "arm_documents": []}


def invalid_row_planted(invoices: list[Invoice]) -> Planted:
    """The invoice row with the broken date (sheet row = index + 2: the header is row 1)."""
    index = next(i for i, inv in enumerate(invoices) if inv.invoice_number == BROKEN_DATE_INVOICE)
    inv = invoices[index]
    assert inv.invoice_date == BROKEN_DATE_TEXT
    return Planted("invalid_row", NO_INVOICES_FILE, index + 2, inv.kid, inv.invoice_number, inv.amount_minor, None)


# ---------------------------------------------------------------- writers


class _FixedTimeZipFile(zipfile.ZipFile):
    """A ZipFile whose entries all carry FIXED_TIME, so the .xlsx bytes do not depend on the clock."""

    def writestr(
        self,
        zinfo_or_arcname: str | zipfile.ZipInfo,
        data: bytes | str,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        """Like ZipFile.writestr, with a fixed entry time for names given as strings."""
        if isinstance(zinfo_or_arcname, str):
            zinfo = zipfile.ZipInfo(zinfo_or_arcname, date_time=FIXED_TIME.timetuple()[:6])
            zinfo.compress_type = self.compression
            zinfo.external_attr = 0o600 << 16
            zinfo_or_arcname = zinfo
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(  # type: ignore[override]
        self,
        filename: str | Path,
        arcname: str | None = None,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        """Like ZipFile.write (openpyxl streams worksheets through a temp file), without the file's mtime."""
        self.writestr(arcname or Path(filename).name, Path(filename).read_bytes(), compress_type, compresslevel)


def xlsx_bytes(sheet: str, header: list[str], rows: list[list[str]]) -> bytes:
    """A single-sheet workbook of text cells, with fixed document properties and zip times."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(header)
    for row in rows:
        ws.append(row)
    for letter, width in zip("ABCDEFGHIJ", [15, 16, 30, 16, 13, 12, 9, 16, 12, 16]):
        ws.column_dimensions[letter].width = width
    wb.properties.creator = "Nordlys Energi AS (ERP export)"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    buf = io.BytesIO()
    # openpyxl's save_workbook() stamps `modified` with the clock; ExcelWriter alone keeps ours.
    with _FixedTimeZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).write_data()
    return buf.getvalue()


def invoices_csv_text(invoices: list[Invoice]) -> str:
    """The generic invoice export as CSV text (',' delimiter, LF)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(INVOICE_HEADER)
    writer.writerows(inv.row() for inv in invoices)
    return buf.getvalue()


def json_text(value: object) -> str:
    """Stable, readable JSON with a final newline."""
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def write(out: Path, relative: str, data: bytes) -> None:
    """Write bytes to out/relative, creating folders."""
    path = out / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def generate(out: Path) -> list[Planted]:
    """Build and write every sample file under `out`; return the planted problems."""
    rng = random.Random(SEED)
    no_invoices = build_no_invoices(rng)
    ocr_lines, ocr_planted = build_ocr(rng, no_invoices)
    sb1_files, sb1_planted = build_sb1(rng, no_invoices)
    se_invoices, se_payments = build_se(rng)
    camt_lines, camt_planted = camt054_text(se_payments, se_invoices)
    seed = build_seed(rng, se_invoices)

    by_category = {p.category: p for p in [invalid_row_planted(no_invoices), *ocr_planted, *sb1_planted,
                                           *camt_planted]}
    order = ["invalid_row", "overpayment", "unmatched_payment", "duplicate_payment", "underpayment",
             "invalid_reference"]
    assert sorted(by_category) == sorted(order)
    planted = [by_category[c] for c in order]

    write(out, NO_INVOICES_FILE, xlsx_bytes("Invoices", INVOICE_HEADER, [inv.row() for inv in no_invoices]))
    write(out, NO_OCR_FILE, "".join(line + "\n" for line in ocr_lines).encode("iso-8859-1"))
    for name, lines in sb1_files.items():
        write(out, name, "".join(line + "\n" for line in lines).encode("utf-8"))
    write(out, SE_INVOICES_FILE, invoices_csv_text(se_invoices).encode("utf-8"))
    write(out, SE_CAMT_FILE, "".join(line + "\n" for line in camt_lines).encode("utf-8"))
    write(out, "sandbox_seed.json", json_text(seed).encode("utf-8"))
    write(out, "planted.json", json_text([p.to_json() for p in planted]).encode("utf-8"))
    return planted


def main(argv: list[str] | None = None) -> int:
    """Entry point: generate into the folder given as the only argument, default this script's folder."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        print("usage: generate.py [OUT_DIR]", file=sys.stderr)
        return 2
    out = Path(args[0]) if args else HERE
    planted = generate(out)
    print(f"wrote sample data to {out} ({len(planted)} planted problems)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
