"""Nets OCR giro: round trips on the public samples, control totals, truncation, AvtaleGiro."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from etl.refs import reference_valid_expr
from etl.sources.base import PAYMENT_SCHEMA
from etl.sources.keys import stable_key

from .conftest import DATA

OCR = DATA / "ocr_giro"


def test_ocr1_spec_example_net_total_and_credit_notes(read):
    r = read(OCR / "ocr1.txt")
    assert (r.status, r.format, r.kind, r.message) == ("ok", "ocr_giro", "payments", "")
    assert r.rows.schema == pl.Schema(PAYMENT_SCHEMA)
    assert r.rows.height == 23
    assert r.rows["amount_minor"].sum() == 1_563_000  # 15 630.00 NOK, the 88/89 totals are NET
    credit_notes = r.rows.filter(pl.col("amount_minor") < 0)
    assert credit_notes["amount_minor"].to_list() == [-25_000, -40_000, -150_000]
    assert credit_notes["source_line"].to_list() == [31, 33, 35]
    assert r.control == {
        "declared_count": 23,
        "computed_count": 23,
        "declared_total_minor": 1_563_000,
        "computed_total_minor": 1_563_000,
        "declared_records": 50,
        "computed_records": 50,
    }
    assert set(r.rows["currency"]) == {"NOK"}
    assert set(r.rows["account"]) == {"99991111111"}
    assert r.rows["reference"].to_list()[0] == "33000083672049"
    # The specification's example KIDs pass MOD10.
    assert r.rows.select(reference_valid_expr("reference", "mod10").all()).item()


def test_ocr1_first_row_fields_and_key(read):
    r = read(OCR / "ocr1.txt")
    first = r.rows.row(0, named=True)
    assert first["source_line"] == 3  # the line of amount item 1
    assert first["booking_date"] == dt.date(2004, 3, 24)  # Nets date, DDMMYY with century window
    assert first["bank_ref"] == "094561154"  # archive reference (item 2, 26-34)
    assert first["payer_account"] == "88881011128"  # debit account (item 2, 48-58)
    assert first["payer_name"] is None and first["message"] is None
    assert first["source_file"] == str(OCR / "ocr1.txt")
    assert first["source_sheet"] is None and first["format"] == "ocr_giro"
    assert len(first["source_sha256"]) == 64
    # DESIGN.md: key from assignment account, Nets date, archive reference, KID, amount.
    assert first["payment_key"] == stable_key(
        "NETS", ["99991111111", "2004-03-24", "094561154", "33000083672049", 44000]
    )
    assert r.rows["payment_key"].n_unique() == 23


def test_ocr1_raw_keeps_every_line(read):
    r = read(OCR / "ocr1.txt")
    assert r.raw.columns == ["source_line", "record"]
    assert r.raw.height == 50
    assert r.raw["record"][0].startswith("NY000010") and r.raw["source_line"][-1] == 50


def test_netsgiro_transactions_round_trip(read):
    r = read(OCR / "ocr_giro_transactions.txt")
    assert r.status == "ok" and r.rows.height == 20
    assert r.rows["amount_minor"].sum() == 5_144_900
    first = r.rows.row(0, named=True)
    # As netsgiro's own test reads the same file.
    assert first["reference"] == "0000531"  # leading zeros kept
    assert first["bank_ref"] == "099038562"
    assert first["message"] == "Foo bar baz"  # amount item 3, free text
    assert first["payer_account"] == "99990512341"
    assert first["booking_date"] == dt.date(1992, 1, 20)
    # Both check-digit schemes occur: the 7-digit KIDs are MOD11, the 14-digit ones MOD10.
    assert r.rows.select(reference_valid_expr("reference", "either").all()).item()
    short = r.rows.filter(pl.col("reference").str.len_chars() == 7)
    assert short.height == 7 and short.select(reference_valid_expr("reference", "mod11").all()).item()
    assert r.rows["message"].drop_nulls().to_list() == ["Foo bar baz"]


def test_avtalegiro_files_are_not_payments(read):
    for name, count in [("avtalegiro_payment_request.txt", 6), ("avtalegiro_agreements.txt", 16)]:
        r = read(OCR / name)
        assert (r.status, r.format, r.rows.height) == ("ok", "ocr_giro", 0), r.message
        assert r.rows.schema == pl.Schema(PAYMENT_SCHEMA)
        assert r.control["declared_count"] == r.control["computed_count"] == count


def _edit(src: Path, dst: Path, line_no: int, start: int, new: str) -> Path:
    """Copy `src` to `dst` with `new` written at 1-based position `start` of line `line_no`."""
    lines = src.read_text(encoding="latin-1").splitlines()
    line = lines[line_no - 1]
    lines[line_no - 1] = line[: start - 1] + new + line[start - 1 + len(new) :]
    dst.write_text("\n".join(lines) + "\n", encoding="latin-1")
    return dst


def test_totals_that_do_not_tie_hold_the_file_back(read, tmp_path):
    # Line 3's amount 440.00 -> 450.00: the 88 (line 49) and 89 (line 50) no longer tie.
    bad = _edit(OCR / "ocr1.txt", tmp_path / "ocr_bad.txt", 3, 33, "00000000000045000")
    r = read(bad)
    assert r.status == "held_back"
    assert r.rows.height == 23  # rows still returned, for the report
    assert "line 49: assignment control totals (88) do not tie" in r.message
    assert "declared 23 transactions, 48 records, 15630.00; computed 23 transactions, 48 records, 15640.00" in r.message
    assert "line 50: transmission control totals (89) do not tie" in r.message
    assert r.message.startswith(str(bad))
    assert r.control["declared_total_minor"] == 1_563_000 and r.control["computed_total_minor"] == 1_564_000


def test_record_count_mismatch_is_held_back(read, tmp_path):
    bad = _edit(OCR / "ocr1.txt", tmp_path / "ocr_count.txt", 50, 17, "00000051")
    r = read(bad)
    assert r.status == "held_back"
    assert "line 50: transmission control totals (89)" in r.message and "51 records" in r.message


def test_truncated_file_is_held_back(read, tmp_path):
    lines = (OCR / "ocr1.txt").read_text(encoding="latin-1").splitlines()
    cut = tmp_path / "ocr_cut.txt"
    cut.write_text("\n".join(lines[:20]) + "\n" + lines[20][:37], encoding="latin-1")  # cut mid item 1
    r = read(cut)
    assert r.status == "held_back"
    assert r.message.endswith(
        "line 21: the file ends without an end-of-transmission record (89): truncated? (its last record is cut off)"
    )
    assert r.rows.height == 9  # the complete transactions before the cut


def test_truncated_inside_item_2(read, tmp_path):
    lines = (OCR / "ocr1.txt").read_text(encoding="latin-1").splitlines()
    cut = tmp_path / "ocr_cut3.txt"
    cut.write_text("\n".join(lines[:21]) + "\n" + lines[21][:40], encoding="latin-1")
    r = read(cut)
    assert r.status == "held_back" and "line 22:" in r.message and "left out" in r.message
    assert r.rows.height == 9 and r.rows["source_line"][-1] == 19


def test_invalid_nets_date_becomes_null_for_validation(read, tmp_path):
    bad = _edit(OCR / "ocr1.txt", tmp_path / "ocr_date.txt", 5, 16, "310203")  # 31 February
    r = read(bad)
    assert r.status == "ok"
    assert r.rows["booking_date"].null_count() == 1 and r.rows["booking_date"][1] is None


def test_truncated_between_records(read, tmp_path):
    lines = (OCR / "ocr1.txt").read_text(encoding="latin-1").splitlines()
    cut = tmp_path / "ocr_cut2.txt"
    cut.write_text("\n".join(lines[:31]), encoding="latin-1")  # ends after an item 1 (whole line, no newline)
    r = read(cut)
    assert r.status == "held_back" and "line 31:" in r.message and "left out" in r.message
    assert r.rows.height == 14


def test_crlf_no_final_newline_and_blank_lines(read, tmp_path):
    text = (OCR / "ocr1.txt").read_text(encoding="latin-1")
    crlf = tmp_path / "ocr_crlf.dat"
    crlf.write_bytes(text.rstrip("\n").replace("\n", "\r\n").encode("latin-1"))
    r = read(crlf)
    assert r.status == "ok" and r.rows["amount_minor"].sum() == 1_563_000
    blank = tmp_path / "ocr_blank.txt"
    blank.write_text(text + "\n   \n", encoding="latin-1")
    assert read(blank).status == "ok"


def test_broken_structure_is_unreadable_with_the_line(read, tmp_path):
    lines = (OCR / "ocr1.txt").read_text(encoding="latin-1").splitlines()
    del lines[3]  # item 2 of the first transaction
    bad = tmp_path / "ocr_no31.txt"
    bad.write_text("\n".join(lines) + "\n", encoding="latin-1")
    r = read(bad)
    assert r.status == "unreadable" and r.rows.height == 0
    assert (
        r.message
        == f"{bad}: line 3: amount item 1 (30) of transaction 0000001 is not followed by its amount item 2 (31)"
    )


def test_long_line_is_unreadable(read, tmp_path):
    lines = (OCR / "ocr1.txt").read_text(encoding="latin-1").splitlines()
    lines[4] += "0"
    bad = tmp_path / "ocr_long.txt"
    bad.write_text("\n".join(lines) + "\n", encoding="latin-1")
    r = read(bad)
    assert r.status == "unreadable" and "line 5: record type 30: record is not 80 characters long" in r.message


def test_free_text_in_latin1(read, tmp_path):
    lines = (OCR / "ocr_giro_transactions.txt").read_text(encoding="latin-1").splitlines()
    lines[4] = lines[4][:15] + "Blåbær og søt".ljust(40) + lines[4][55:]
    f = tmp_path / "ocr_latin1.txt"
    f.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    r = read(f)
    assert r.status == "ok" and r.rows["message"][0] == "Blåbær og søt"


def _ocr_lines(name: str) -> list[str]:
    return (OCR / name).read_text(encoding="latin-1").splitlines()


def _end_of_transmission(count: int, records: int, total: int, date: str = "240304") -> str:
    return f"NY000089{count:08d}{records:08d}{total:017d}{date}".ljust(80, "0")


def test_ocr_giro_and_avtalegiro_mixed_in_one_transmission(read, tmp_path):
    """Dispatch on the service code: the AvtaleGiro payment requests (service 21, with their 49 notice
    records) count in the 89 totals but are not payments."""
    ocr, avtale = _ocr_lines("ocr1.txt"), _ocr_lines("avtalegiro_payment_request.txt")
    body = ocr[1:-1] + avtale[1:-1]  # both assignments between one 10 and one 89
    records = len(body) + 2
    lines = [ocr[0], *body, _end_of_transmission(23 + 6, records, 1_563_000 + 600)]
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("\n".join(lines) + "\n", encoding="latin-1")
    r = read(mixed)
    assert (r.status, r.message) == ("ok", "")
    assert r.rows.height == 23 and r.rows["amount_minor"].sum() == 1_563_000
    assert set(r.rows["account"]) == {"99991111111"}
    assert r.control["declared_count"] == r.control["computed_count"] == 29
    assert r.control["declared_records"] == r.control["computed_records"] == records
    # The same file with the 89 counting only the OCR giro part does not tie: AvtaleGiro is counted.
    lines[-1] = _end_of_transmission(23, records, 1_563_000)
    mixed.write_text("\n".join(lines) + "\n", encoding="latin-1")
    held = read(mixed)
    assert held.status == "held_back" and "transmission control totals (89) do not tie" in held.message


def test_every_transaction_type_10_to_21_is_a_payment(read, tmp_path):
    lines = _ocr_lines("ocr1.txt")
    firsts = [k for k, line in enumerate(lines) if line[6:8] == "30"]
    types = [10 + n % 12 for n in range(len(firsts))]
    for k, ttype in zip(firsts, types, strict=True):
        lines[k] = lines[k][:4] + f"{ttype:02d}" + lines[k][6:]
        lines[k + 1] = lines[k + 1][:4] + f"{ttype:02d}" + lines[k + 1][6:]
    f = tmp_path / "types.txt"
    f.write_text("\n".join(lines) + "\n", encoding="latin-1")
    r = read(f)
    assert r.status == "ok" and r.rows.height == 23
    assert sorted({int(lines[k][4:6]) for k in firsts}) == list(range(10, 22))
    assert r.rows["amount_minor"].sum() == 1_563_000


def test_record_broken_in_two_where_the_line_ends_still_line_up(read, tmp_path):
    """A record split into two lines of 40 and 39 characters takes the 81 bytes of one line: every 81st byte is
    still a line end, but there is one line more than the fixed width makes. Read as lines, not as 80 columns."""
    lines = _ocr_lines("ocr1.txt")
    lines[4:5] = [lines[4][:40], lines[4][40:79]]
    f = tmp_path / "split.txt"
    f.write_text("\n".join(lines) + "\n", encoding="latin-1")
    assert len(f.read_bytes()) % 81 == 0
    r = read(f)
    # The second half does not start with NY: the first rule broken, in the order the rules are checked.
    assert r.status == "unreadable" and "line 6: record type 00: not an OCR giro record" in r.message


def test_fixed_width_and_line_by_line_reading_agree(read, tmp_path):
    """The same transmission as 80-byte lines (read as a byte matrix) and with a blank line and a trailing space
    line (read line by line): the same payments, keys and line numbers shifted by the blank line only."""
    text = (OCR / "ocr_giro_transactions.txt").read_text(encoding="latin-1")
    fixed, loose = tmp_path / "fixed.txt", tmp_path / "loose.txt"
    fixed.write_text(text, encoding="latin-1")
    first, rest = text.split("\n", 1)
    loose.write_text(first + "\n\n" + rest + "  \n", encoding="latin-1")
    a, b = read(fixed), read(loose)
    assert a.status == b.status == "ok" and a.rows.height == 20
    assert a.rows.drop("source_file", "source_sha256", "source_line").equals(
        b.rows.drop("source_file", "source_sha256", "source_line")
    )
    assert (b.rows["source_line"] - a.rows["source_line"]).to_list() == [1] * 20
    assert a.raw.height == b.raw.height - 2
