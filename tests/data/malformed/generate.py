"""Write the malformed-input corpus next to this script from the public samples in tests/data (fixed content).

Run `python tests/data/malformed/generate.py` after changing a case; manifest.json says what each file must
produce, one entry per file: `file`, `area` (whose reader), `about`, `status` (unreadable / held_back /
rejected_rows / unrecognised / ok), `line` (the line the message names, or the rejected row's; null when none),
`message` (a fragment of the one-line message, or of the reject reason), `exit_code` of `amili-etl validate FILE`.
Every case is written by a small function below; none holds real data.
"""

from __future__ import annotations

import io
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent
OCR1 = (DATA / "ocr_giro" / "ocr1.txt").read_text(encoding="latin-1").splitlines()
BGMAX4 = (DATA / "bgmax" / "BgMaxfil4.txt").read_bytes().decode("latin-1").splitlines()
SWEDISH = (DATA / "camt053" / "camt_053_swedish_account_statement.xml").read_text(encoding="utf-8")
V2 = (DATA / "camt054" / "camt054.v2.xml").read_text(encoding="utf-8")
RABO = (DATA / "mt940" / "rabobank-iban.sta").read_text(encoding="utf-8")
SB1 = (DATA / "bank_csv" / "sb1.csv").read_text(encoding="utf-8")


def _lines(lines: list[str], sep: str = "\n") -> bytes:
    return (sep.join(lines) + sep).encode("latin-1")


def _set(line: str, start: int, new: str) -> str:
    """`line` with `new` written at 1-based position `start`."""
    return line[: start - 1] + new + line[start - 1 + len(new) :]


def _xlsx(sheets: dict[str, list[list[object]]], merge: str | None = None) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
        if merge:
            ws.merge_cells(merge)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


_INVOICE_HEADER = ["invoice_number", "customer_number", "customer_name", "kid", "invoice_date", "due_date",
                   "currency", "amount_excl_vat", "vat_amount", "amount_incl_vat"]
_INVOICE = ["F-1001", "C-1", "Testkunde AS", "0000531", "2026-11-01", "2026-11-15", "NOK", "800.00", "200.00",
            "1000.00"]


def cases() -> dict[str, bytes]:
    """File name -> content."""
    ocr_cut = OCR1[:20] + [OCR1[20][:37]]
    ocr_total = list(OCR1)
    ocr_total[2] = _set(ocr_total[2], 33, "00000000000045000")
    ocr_long = list(OCR1)
    ocr_long[4] = ocr_long[4] + "9" * 2_000_000
    ocr_nul = list(OCR1)
    ocr_nul[4] = _set(ocr_nul[4], 40, "\x00")
    ocr_unknown = list(OCR1)
    ocr_unknown[5] = _set(ocr_unknown[5], 7, "77")
    bg_amount = list(BGMAX4)
    bg_amount[2] = _set(bg_amount[2], 38, "00000000001800x000")
    bg_deposit = list(BGMAX4)
    bg_deposit[13] = _set(bg_deposit[13], 38, "000000000000190001")
    bg_field = list(BGMAX4)
    bg_field[3] = bg_field[3] + "x" * 2_000_000  # a 2 MB TK25 text: read, cut to its field
    ragged = SB1.splitlines()
    ragged[3] = ragged[3] + ';"extra";"cells";"here"'
    ragged[5] = ragged[5].split(";")[0]
    entity_bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE Document [\n <!ENTITY a "' + "a" * 100 + '">\n'
        + "".join(f' <!ENTITY {n} "{("&" + p + ";") * 20}">\n' for p, n in zip("abcdefg", "bcdefgh"))
        + ']>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"><BkToCstmrDbtCdtNtfctn>'
        "<Ntfctn><Id>&h;</Id></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>\n"
    )
    xxe = SWEDISH.replace(
        '<?xml version="1.0"?>\n',
        '<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n',
    ).replace("<AddtlNtryInf>03121806428334</AddtlNtryInf>", "<AddtlNtryInf>&secret;</AddtlNtryInf>")
    camt_latin1 = SWEDISH.replace("Statement ID 1", "Kontoutdrag för Bolaget").encode("latin-1")
    camt_field = SWEDISH.replace(
        "<AddtlNtryInf>293234255751</AddtlNtryInf>", f"<AddtlNtryInf>{'U' * 2_000_000}</AddtlNtryInf>"
    )
    camt_nul = SWEDISH.replace("Entry Reference 2", "Entry\x00Reference 2")
    mt_garbage = RABO.replace(":61:130102D000000000010,00N154NONREF", ":61:1301XXD0000000000ZZ,00N154NONREF")
    return {
        "empty.txt": b"",
        "blank_lines.txt": b"\n  \n\t\n",
        "binary.bin": bytes(range(256)) * 64,
        "letter.txt": "Hei,\nvedlagt er fakturaen for november.\nHilsen Kari\n".encode(),
        "not_camt.xml": b'<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>\n',
        "csv_no_header.csv": "\n".join(SB1.splitlines()[1:]).encode("utf-8"),
        "csv_wrong_header.csv": SB1.replace("Beskrivelse", "Description", 1).encode("utf-8"),
        "csv_ragged_rows.csv": ("\n".join(ragged) + "\n").encode("utf-8"),
        "ocr_truncated.txt": ("\n".join(ocr_cut)).encode("latin-1"),
        "ocr_totals_do_not_tie.txt": _lines(ocr_total),
        "ocr_2mb_record.txt": _lines(ocr_long),
        "ocr_nul_byte.txt": _lines(ocr_nul),
        "ocr_unknown_record.txt": _lines(ocr_unknown),
        "bgmax_bad_amount.txt": _lines(bg_amount, "\r\n"),
        "bgmax_deposit_does_not_tie.txt": _lines(bg_deposit, "\r\n"),
        "bgmax_truncated.txt": _lines(BGMAX4[:30]),
        "bgmax_2mb_field.txt": _lines(bg_field, "\r\n"),
        "camt_entity_bomb.xml": entity_bomb.encode(),
        "camt_external_entity.xml": xxe.encode(),
        "camt_truncated.xml": SWEDISH.encode()[:6000],
        "camt_wrong_encoding.xml": camt_latin1,
        "camt_nul_byte.xml": camt_nul.encode(),
        "camt_balance_does_not_tie.xml": SWEDISH.replace("231403.80", "231403.90", 1).encode(),
        "camt_2mb_field.xml": camt_field.encode(),
        "mt940_truncated.sta": ("\n".join(RABO.splitlines()[:-1]) + "\n").encode(),
        "mt940_garbage_line.sta": mt_garbage.encode(),
        "invoices_several_sheets.xlsx": _xlsx(
            {"Notes": [["Exported by ERP"]], "Invoices": [_INVOICE_HEADER, _INVOICE]}
        ),
        "invoices_formula.xlsx": _xlsx({"Invoices": [_INVOICE_HEADER, [*_INVOICE[:9], "=H2+I2"]]}),
        "invoices_merged_cells.xlsx": _xlsx({"Invoices": [_INVOICE_HEADER, _INVOICE, _INVOICE]}, merge="A2:A3"),
        "invoices_dates_as_numbers.xlsx": _xlsx({"Invoices": [_INVOICE_HEADER, [*_INVOICE[:4], 46327, 46341,
                                                                                *_INVOICE[6:]]]}),
    }


_SB1_HEADER = SB1.splitlines()[0]
_SB1_GOOD = '"14.02.2025";"Innbetaling KID 1000124";;"1250,00";;"15062995960";"33374467307";'
_SB1_CELLS = ["14.02.2025", "Innbetaling", None, "1250,00", None, "15062995960", "33374467307"]


def table_cases() -> dict[str, bytes]:
    """Bank CSV / Excel cases (issue 4 part B): file name -> content."""
    head, good, cells = _SB1_HEADER, _SB1_GOOD, _SB1_CELLS
    names = head.rstrip(";").split(";")
    big = good.replace("Innbetaling KID 1000124", "x" * 2_000_000)
    full = _xlsx({"Transaksjoner": [names, cells]})
    return {
        "csv_2mb_field.csv": f"{head}\n{big}\n{good}\n".encode(),
        "csv_utf16_without_bom.csv": f"{head}\n{good}\n".encode("utf-16-le"),
        "csv_unclosed_quote.csv": f'{head}\n{good}\n"15.02.2025";"Innbetaling;;"10,00";;"1";"2";\n'.encode(),
        "csv_fewer_cells.csv": f'{head}\n{good}\n"15.02.2025";"Kort linje"\n'.encode(),
        "csv_nul_byte.csv": f"{head}\n{good.replace('Innbetaling', 'Inn' + chr(0) + 'betaling')}\n".encode(),
        "bank_xlsx_several_sheets.xlsx": _xlsx({"Info": [["Kontoutskrift"], ["Periode", "februar"]],
                                                "Transaksjoner": [names, cells]}),
        "bank_xlsx_formula.xlsx": _xlsx({"Transaksjoner": [names, cells, [*cells[:3], "=D2*2", *cells[4:]]]}),
        "bank_xlsx_merged_cells.xlsx": _xlsx({"Transaksjoner": [["Kontoutskrift"], names, cells, cells]}, merge="A3:A4"),
        "bank_xlsx_dates_as_numbers.xlsx": _xlsx({"Transaksjoner": [names, [45702, *cells[1:]]]}),
        "xlsx_truncated.xlsx": full[:1500],
        "xls_corrupt.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00garbage" * 100,
    }


def main() -> None:
    """Write every case."""
    for name, content in {**cases(), **table_cases()}.items():
        (HERE / name).write_bytes(content)


if __name__ == "__main__":
    main()
