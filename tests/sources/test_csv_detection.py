"""What a bank CSV reader must find out by itself: encoding, delimiter, decimal mark, date format, where the
header is, and which rows are not transactions yet."""

from __future__ import annotations

import codecs
import datetime as dt

import pytest

from etl.mapping import MappingSet, layout_from_dict
from etl.sources import read_source

from .conftest import DATA

SB1 = (DATA / "bank_csv" / "sb1.csv").read_text(encoding="utf-8")
TEXT = "Kjøp Ærlig Øst"  # æøå: decoded right or not at all


def _sb1_with(message: str) -> str:
    return SB1.replace("KIWI MAJORSTUEN", message, 1)


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", b""), ("utf-8", codecs.BOM_UTF8), ("cp1252", b""), ("latin-1", b""), ("utf-16-le", codecs.BOM_UTF16_LE),
     ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-16-le", b""), ("utf-16-be", b"")],
)
def test_encodings_are_detected(read, tmp_path, encoding, prefix):
    f = tmp_path / "export.csv"
    f.write_bytes(prefix + _sb1_with(TEXT).encode(encoding))
    r = read(f)
    assert (r.status, r.layout) == ("ok", "sparebank1"), r.message
    assert r.rows["message"][0] == TEXT
    assert r.rows.height == 15


def test_euro_sign_in_cp1252_and_in_a_declared_iso_8859_15_layout(mappings, tmp_path):
    f = tmp_path / "cp.csv"
    f.write_bytes(_sb1_with("Gebyr 5 €").encode("cp1252"))
    assert read_source(f, mappings).rows["message"][0] == "Gebyr 5 €"
    raw = {**_LAYOUT, "name": "latin9", "encoding": "iso-8859-15"}
    g = tmp_path / "l9.csv"
    g.write_bytes("Date;Text;Amount\n2026-11-05;Gebyr 5 €;-5,00\n".encode("iso-8859-15"))
    r = read_source(g, MappingSet((layout_from_dict(raw),)))
    assert r.rows["message"].to_list() == ["Gebyr 5 €"]


def test_binary_with_nul_bytes_is_not_taken_for_utf16(read, tmp_path):
    f = tmp_path / "blob.csv"
    f.write_bytes(bytes(range(256)) * 4)
    assert read(f).status == "unrecognised"


def test_invalid_utf8_in_a_utf8_layout_names_the_line(mappings, tmp_path):
    raw = {**_LAYOUT, "name": "strict", "encoding": "utf-8"}
    f = tmp_path / "bad.csv"
    f.write_bytes(b"Date;Text;Amount\n2026-11-05;ok;1,00\n2026-11-06;\xe6\xf8;2,00\n")
    r = read_source(f, MappingSet((layout_from_dict(raw),)))
    assert (r.status, r.message) == ("unreadable", f"{f}: line 3: not valid UTF-8 (is the layout's encoding right?)")


# A user's own layout, as a mapping file would describe it: no delimiter and an automatic decimal mark.
_LAYOUT = {
    "name": "mybank",
    "kind": "bank",
    "header": ["Date", "Text", "Amount"],
    "decimal": "auto",
    "date_format": ["%d.%m.%Y", "%d/%m/%Y", "%Y/%m/%d"],
    "currency": "NOK",
    "columns": {"booking_date": "Date", "message": "Text", "amount": "Amount"},
}


@pytest.mark.parametrize(
    ("sep", "amounts", "expected"),
    [
        (";", ["1 234,56", "-0,50", "2.000,00"], [123_456, -50, 200_000]),
        (",", ['"1,234.56"', "-0.50", "2000"], [123_456, -50, 200_000]),
        ("\t", ["1234.56", "-0.5", "2,000.00"], [123_456, -50, 200_000]),
        ("|", ["1\u00a0234,56 kr", "0,50-", "\u22122 000,00"], [123_456, -50, -200_000]),
    ],
)
def test_delimiter_and_decimal_mark_are_sniffed(tmp_path, sep, amounts, expected):
    dates = ["05.11.2026", "06/11/2026", "2026/11/07"]
    lines = [sep.join(["Date", "Text", "Amount"])] + [sep.join([d, "x", a]) for d, a in zip(dates, amounts, strict=True)]
    f = tmp_path / "mine.csv"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = read_source(f, MappingSet((layout_from_dict(_LAYOUT),)))
    assert (r.status, r.layout) == ("ok", "mybank"), r.message
    assert r.rows["amount_minor"].to_list() == expected
    assert r.rows["booking_date"].to_list() == [dt.date(2026, 11, 5), dt.date(2026, 11, 6), dt.date(2026, 11, 7)]


def test_lines_before_header_and_pending_rows(read):
    swed = read(DATA / "bank_csv" / "swedbank.csv")  # "* Transaktioner Period ..." before the header
    assert swed.rows["source_line"].to_list()[0] == 3
    nordea = read(DATA / "bank_csv" / "nordea_no.csv")  # "Reservert" in the date column: not booked yet
    assert 2 not in nordea.rows["source_line"].to_list() and nordea.raw["source_line"].to_list()[0] == 2


def test_unknown_date_format_becomes_null_for_validation(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("Date;Text;Amount\n11-05-2026;x;1,00\n", encoding="utf-8")
    r = read_source(f, MappingSet((layout_from_dict(_LAYOUT),)))
    assert r.rows["booking_date"].to_list() == [None] and r.raw["Date"].to_list() == ["11-05-2026"]


def test_accounts_keep_digits_and_ibans_stay_ibans(tmp_path):
    raw = {**_LAYOUT, "name": "acc", "header": ["Date", "Text", "Amount", "To"],
           "columns": {**_LAYOUT["columns"], "account": "To"}}
    f = tmp_path / "acc.csv"
    f.write_text("Date;Text;Amount;To\n05.11.2026;a;1,00;1506.29.95960\n05.11.2026;b;1,00;no93 8601 1117 947\n"
                 "05.11.2026;c;1,00;\n05.11.2026;d;1,00;15062995960\n", encoding="utf-8")
    r = read_source(f, MappingSet((layout_from_dict(raw),)))
    assert r.rows["account"].to_list() == ["15062995960", "NO9386011117947", None, "15062995960"]
