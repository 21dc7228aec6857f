"""BgMax extra references (TK22 +, TK23 - deducted): their amounts and signs kept, matched and reported as such."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.cli import cli
from etl.match import allocations, match_payments
from etl.sources.bgmax import read_bgmax

from .conftest import DATA

BG = DATA / "bgmax"
OFFICIAL = BG / "bankgiroinbetalningar_exempelfil_avtal-om-ocr-kontroll_checksiffra_langd_sv.txt"
RECEIVER = "54029681"  # solkraft-se's bankgiro in the sample config
SENDER = "0001234567"  # a synthetic payer bankgiro


# ---------------------------------------------------------------- a synthetic BgMax file, post by post


def _post(text: str) -> str:
    assert len(text) <= 80, text
    return text.ljust(80)


def _tk20(amount: int, serial: int, reference: str = "", tk: str = "20") -> str:
    """Payment (TK20) or extra reference (TK22/23): sender 3-12, reference 13-37, amount 38-55, codes, serial 58-69."""
    return _post(f"{tk}{SENDER}{reference:>25}{amount:018d}23{serial:012d}0")


def _file(payments: list[tuple[int, list[tuple[str, str, int]]]], date: str = "20261120") -> bytes:
    """One SEK deposit to RECEIVER: each payment is (TK20 amount, [(tk, reference, amount) of its TK22/23 posts])."""
    lines = [_post("01BGMAX               0120261120054211123456T"), _post(f"05{RECEIVER:0>10}          SEK")]
    for serial, (amount, extras) in enumerate(payments, start=1):
        lines.append(_tk20(amount, serial))
        lines += [_tk20(a, serial, ref, tk) for tk, ref, a in extras]
        lines.append(_post("26Testbetalare AB"))
    total = sum(a for a, _ in payments)
    lines.append(_post(f"15{'':0>35}{date}00001{total:018d}SEK{len(payments):08d}"))
    n_extra = sum(len(e) for _, e in payments)
    lines.append(_post(f"70{len(payments):08d}{0:08d}{n_extra:08d}{1:08d}"))
    return "".join(line + "\r\n" for line in lines).encode("latin-1")


def _read(tmp_path: Path, data: bytes, name: str = "bg.txt"):
    path = tmp_path / name
    path.write_bytes(data)
    return read_bgmax(path, data)


def _signed(amounts: str | None) -> list[int]:
    return [int(a) for a in amounts.split(";")] if amounts else []


# ---------------------------------------------------------------- the public example files (golden)


def test_bgmaxfil4_keeps_every_extra_reference_amount_and_the_tk23_sign(read):
    r = read(BG / "BgMaxfil4.txt")
    got = r.rows.filter(pl.col("extra_references").is_not_null()).select(
        "source_line", "amount_minor", "extra_references", "extra_reference_amounts").rows()
    assert got == [
        (3, 180_000, "665760;665869;665661;657775", "+0;+0;+0;+0"),  # references without amounts of their own
        (21, 200_000, "573964;573865", "+170000;+30000"),
        (41, 140_000, "7495575;695668;8988777;74450", "+100000;+50000;+40000;-50000"),  # the last is the TK23
        (52, 300_000, "8012577;8013575;8014573", "+0;+0;+0"),
    ]
    # Where the references carry amounts, the payment is their net sum (TK22 - TK23): 1000 + 500 + 400 - 500 = 1400.
    for _, amount, _, amounts in got:
        assert sum(_signed(amounts)) in (0, amount)
    assert r.rows.filter(pl.col("extra_references").is_null())["extra_reference_amounts"].null_count() == 5
    assert r.problems.height == 0 and r.status == "ok"


def test_bgmaxfil4_has_a_tk23_and_no_tk21_sources_md_is_wrong_there():
    """SOURCES.md says BgMaxfil4 has a TK21 deduction: it has none (its TK70 says so too); its deduction is a TK23.
    The TK21 is in Bankgirot's official example file."""
    codes = [line[:2] for line in (BG / "BgMaxfil4.txt").read_text(encoding="latin-1").splitlines()]
    assert codes.count("21") == 0 and codes.count("23") == 1
    end = next(line for line in (BG / "BgMaxfil4.txt").read_text(encoding="latin-1").splitlines() if line[:2] == "70")
    assert int(end[10:18]) == 0  # TK21 count
    official = [line[:2] for line in OFFICIAL.read_text(encoding="latin-1").splitlines()]
    assert official.count("21") == 1 and official.count("23") == 0


def test_official_example_extra_references_have_no_amounts_and_text_is_unchanged(read):
    rows = read(OFFICIAL).rows.filter(pl.col("extra_references").is_not_null())
    assert rows.select("source_line", "extra_references", "extra_reference_amounts").rows() == [
        (13, "657866;658765;657767;657965", "+0;+0;+0;+0"),  # incl. the short lines and the TAB line
        (40, "658369;658468", "+0;+0"),
        (51, "801266;801365;801464", "+0;+0;+0"),
    ]
    assert read(BG / "minimal.txt").rows["extra_reference_amounts"].to_list() == [None]


# ---------------------------------------------------------------- a planted file with TK22 and TK23


def test_planted_tk22_and_tk23_amounts_and_signs(tmp_path):
    data = _file([(150_000, [("22", "880011", 120_000), ("22", "880012", 50_000), ("23", "880013", 20_000)]),
                  (99_900, [])])
    r = _read(tmp_path, data)
    assert r.status == "ok", r.message
    first, second = r.rows.rows(named=True)
    assert first["extra_references"] == "880011;880012;880013"  # the TK23's text as before: the sign is beside it
    assert first["extra_reference_amounts"] == "+120000;+50000;-20000"
    assert (first["amount_minor"], first["reference"]) == (150_000, None)
    assert (second["extra_references"], second["extra_reference_amounts"]) == (None, None)
    # Key values do not depend on the extra references.
    assert first["payment_key"] == "BGC-54029681-20261120-00001-000000000001"
    assert r.control == {"computed_count": 2, "computed_total_minor": 249_900, "declared_total_minor": 249_900,
                         "declared_count": 2}


def test_a_tk23_with_zero_amount_keeps_its_sign(tmp_path):
    r = _read(tmp_path, _file([(10_000, [("22", "880011", 0), ("23", "880099", 0)])]))
    assert r.rows["extra_reference_amounts"].to_list() == ["+0;-0"]


def test_payment_that_differs_from_its_references_amounts_is_not_held_back(tmp_path):
    """Nothing in the specification makes TK20 = sum(TK22) - sum(TK23) a control: the file is read as it is."""
    r = _read(tmp_path, _file([(100_000, [("22", "880011", 120_000), ("23", "880013", 5_000)])]))
    assert (r.status, r.message, r.problems.height) == ("ok", "", 0)
    assert r.rows["amount_minor"].to_list() == [100_000]


def test_extra_reference_with_a_garbled_amount_keeps_its_reference_and_says_so(tmp_path):
    lines = _file([(10_000, [("22", "880011", 10_000), ("22", "880012", 0)])]).decode("latin-1").split("\r\n")
    assert lines[4].startswith("22")
    lines[4] = lines[4][:37] + "00000000000000X000" + lines[4][55:]
    r = _read(tmp_path, "\r\n".join(lines).encode("latin-1"))
    assert r.status == "ok"
    row = r.rows.row(0, named=True)
    assert (row["extra_references"], row["extra_reference_amounts"]) == ("880011;880012", "+10000;+0")
    assert r.problems.select("source_line", "error_message").rows() == [
        (5, "TK22: the amount (positions 38-55) is not a number: reference kept without it")]


_EXTRA = st.tuples(st.sampled_from(["22", "23"]), st.from_regex(r"[0-9A-Z]{1,25}", fullmatch=True),
                   st.integers(0, 10**12))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10**12), st.lists(_EXTRA, max_size=6)), min_size=1, max_size=5))
def test_amounts_are_parallel_to_the_references_with_their_signs(tmp_path_factory, payments):
    r = _read(tmp_path_factory.mktemp("bg"), _file(payments))
    assert r.status == "ok", r.message
    for row, (amount, extras) in zip(r.rows.rows(named=True), payments, strict=True):
        assert row["amount_minor"] == amount
        if not extras:
            assert row["extra_references"] is None and row["extra_reference_amounts"] is None
            continue
        assert row["extra_references"].split(";") == [ref for _, ref, _ in extras]
        signs = row["extra_reference_amounts"].split(";")
        assert [s[0] for s in signs] == ["-" if tk == "23" else "+" for tk, _, _ in extras]
        assert [abs(int(s)) for s in signs] == [a for _, _, a in extras]


# ---------------------------------------------------------------- matching: a deduction is not an invoice paid


def _inv(rows: list[tuple[str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"creditor": "solkraft-se", "invoice_number": n, "kid": None, "amount_minor": a, "outstanding_minor": a,
          "currency": "SEK", "customer_number": "C1", "customer_name": "Testbetalare AB",
          "invoice_date": dt.date(2026, 10, 1), "due_date": dt.date(2026, 11, 1)} for n, a in rows])


def _match(tmp_path: Path, payments, invoices) -> tuple[dict, pl.DataFrame]:
    rows = _read(tmp_path, _file(payments)).rows.with_columns(pl.lit("solkraft-se").alias("creditor"))
    m = match_payments(rows, _inv(invoices))
    return m.row(0, named=True), allocations(m).sort("invoice_number").select("invoice_number", "amount_minor")


def test_a_deducted_reference_is_never_the_invoice_paid(tmp_path):
    """TK22 names an unknown number, TK23 names an open invoice: the payment does not pay the TK23's invoice."""
    m, alloc = _match(tmp_path, [(50_000, [("22", "770001", 70_000), ("23", "880013", 20_000)])], [("880013", 20_000)])
    assert (m["rule"], m["invoice_number"], alloc.height) == ("none", None, 0)
    # The same reference as a TK22 would be matched (it is what the payment pays).
    m, _ = _match(tmp_path, [(20_000, [("22", "880013", 20_000)])], [("880013", 20_000)])
    assert (m["rule"], m["invoice_number"]) == ("invoice_number", "880013")


def test_a_deducted_credit_note_nets_off_in_a_multi_invoice_match(tmp_path):
    """1200 + 500 - 200 (a credit note the creditor issued) = 1500: the three items, the credit note negative."""
    m, alloc = _match(tmp_path, [(150_000, [("22", "880011", 120_000), ("22", "880012", 50_000),
                                            ("23", "880013", 20_000)])],
                      [("880011", 120_000), ("880012", 50_000), ("880013", -20_000)])
    assert (m["rule"], m["invoice_numbers"]) == ("multi_invoice", "880011, 880012, 880013")
    assert "deduction_reference=invoice_number" in m["fields"]
    assert alloc.rows() == [("880011", 120_000), ("880012", 50_000), ("880013", -20_000)]


def test_a_deducted_number_also_in_the_text_is_still_not_the_invoice_paid(tmp_path):
    rows = _read(tmp_path, _file([(50_000, [("22", "770001", 70_000), ("23", "880013", 20_000)])])).rows
    rows = rows.with_columns(pl.lit("solkraft-se").alias("creditor"), pl.lit("Avdrag faktura 880013").alias("message"))
    assert match_payments(rows, _inv([("880013", 20_000)])).row(0, named=True)["rule"] == "none"
    plain = rows.with_columns(pl.lit(None, pl.String).alias("extra_reference_amounts"))  # no signs: as before
    assert match_payments(plain, _inv([("880013", 20_000)])).row(0, named=True)["rule"] == "invoice_number"


def test_a_credit_note_named_only_by_a_deduction_is_not_matched_alone(tmp_path):
    m, _ = _match(tmp_path, [(20_000, [("22", "770001", 40_000), ("23", "880013", 20_000)])], [("880013", -20_000)])
    assert m["rule"] == "none"


def test_two_tk22_references_covering_the_payment_are_one_multi_invoice_match(tmp_path):
    """TK22 A 1200 + TK22 B 300 = the payment of 1500: the multi-invoice rule already covers both."""
    m, alloc = _match(tmp_path, [(150_000, [("22", "880011", 120_000), ("22", "880012", 30_000)])],
                      [("880011", 120_000), ("880012", 30_000)])
    assert (m["rule"], m["invoice_numbers"]) == ("multi_invoice", "880011, 880012")
    assert alloc.rows() == [("880011", 120_000), ("880012", 30_000)]


# ---------------------------------------------------------------- state and report


def test_run_stores_the_amounts_and_the_report_shows_the_payers_breakdown(tmp_path, run_config):
    bank = tmp_path / "bank" / "bg_extra.txt"
    bank.parent.mkdir()
    bank.write_bytes(_file([
        (150_000, [("22", "880011", 120_000), ("22", "880012", 50_000), ("23", "880013", 20_000)]),  # nets off
        (100_000, [("22", "880014", 120_000), ("23", "770099", 20_000)]),  # payer's own deduction: underpayment
    ]))
    invoices = tmp_path / "inv" / "invoices_solkraft_x.csv"
    invoices.parent.mkdir()
    head = "invoice_number,customer_number,customer_name,kid,invoice_date,due_date,currency,amount_excl_vat,vat_amount,amount_incl_vat"
    rows = [("880011", "1200.00"), ("880012", "500.00"), ("880013", "-200.00"), ("880014", "1200.00")]
    invoices.write_text("\n".join([head, *(f"{n},C1,Testbetalare AB,,2026-10-01,2026-11-01,SEK,{a},0.00,{a}"
                                            for n, a in rows)]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", "--config", str(run_config), "--dry-run", "--bank", str(bank),
                                      "--invoices", str(invoices), "--out", str(out)])
    assert result.exit_code == 1, result.output  # the underpayment, the credit note netted off two invoices
    with duckdb.connect(str(tmp_path / "state.duckdb"), read_only=True) as con:
        stored = con.sql("SELECT source_line, extra_references, extra_reference_amounts FROM payments "
                         "ORDER BY source_line").fetchall()
    assert stored == [(3, "880011;880012;880013", "+120000;+50000;-20000"), (8, "880014;770099", "+120000;-20000")]
    run_dir = next(p for p in out.iterdir() if p.is_dir())
    wb = openpyxl.load_workbook(run_dir / "discrepancies.xlsx")
    sheet = wb["Underpayment"]
    header = [c.value for c in sheet[1]]
    detail = sheet.cell(2, header.index("detail") + 1).value
    # (a note on the delivery's state may follow: one break per cause)
    assert "; payer's breakdown: 880014 +1200.00; 770099 -200.00" in detail, detail
    matched = pl.read_parquet(run_dir / "matched.parquet").sort("source_line")
    assert matched.select("source_line", "rule", "extra_reference_amounts").rows() == [
        (8, "invoice_number", "880014 +1200.00; 770099 -200.00"),
    ]
    # Two invoices and a credit note netted off them: which invoice the credit note reduces is not said, so the
    # payment is not split (no API takes a negative payment) but left for a person, with the payer's breakdown.
    ambiguous = wb["Ambiguous match"]
    header = [c.value for c in ambiguous[1]]
    row = {h: ambiguous.cell(2, k + 1).value for k, h in enumerate(header)}
    assert row["source_line"] == 3 and "880011, 880012, 880013" in row["detail"], row
    assert row["detail"].endswith("; payer's breakdown: 880011 +1200.00; 880012 +500.00; 880013 -200.00"), row
