"""Mapping files: loading, checking, precedence, and apply_mapping as polars expressions."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from etl.errors import ConfigError
from etl.mapping import MissingColumnError, apply_mapping, layout_from_dict, load_mappings

from .conftest import REPO

BANK = {
    "name": "testbank",
    "kind": "bank",
    "header": ["Date", "Text", "Amount", "Status"],
    "optional_header": ["Type"],
    "delimiter": ",",
    "decimal": ",",
    "date_format": ["%d/%m/%Y", "%Y/%m/%d"],
    "currency": "SEK",
    "account": "5402-9681",
    "skip_rows_matching": {"Status": "^Reservation$"},
    "columns": {"booking_date": "Date", "amount": "Amount", "message": ["Text", "Status"], "reference": "Text"},
}


def test_shipped_mappings_load(mappings):
    assert set(mappings.names) >= {"sparebank1", "invoices_generic"}
    sb1 = mappings.get("sparebank1")
    assert (sb1.kind, sb1.delimiter, sb1.decimal, sb1.currency) == ("bank", ";", ",", "NOK")
    assert sb1.date_formats == ("%d.%m.%Y",)
    assert mappings.of_kind("invoices")[0].name == "invoices_generic"
    with pytest.raises(ConfigError, match="no mapping called 'nope'"):
        mappings.get("nope")


def test_first_directory_wins(tmp_path):
    (tmp_path / "sparebank1.toml").write_text(
        (REPO / "mappings" / "sparebank1.toml")
        .read_text()
        .replace('description = "SpareBank 1 (NO) account export"', 'description = "mine"')
    )
    ms = load_mappings([tmp_path, REPO / "mappings"])
    assert ms.get("sparebank1").description == "mine"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "ledger"}, "kind must be one of bank, invoices"),
        ({"colour": "red"}, "unknown key(s) colour"),
        (
            {"columns": {"booking_date": "Date", "amount": "Amount", "amount_net": "Amount"}},
            "'amount_net' is not a bank field",
        ),
        ({"columns": {"booking_date": "Date", "amount": "Nope"}}, "column(s) 'Nope' are mapped but not in header"),
        ({"columns": {"booking_date": "Date"}}, "needs either amount"),
        ({"columns": {"booking_date": "Date", "amount": ["Amount", "Text"]}}, "amount must name exactly one column"),
        ({"decimal": ";"}, 'decimal must be ",", "." or "auto"'),
        ({"delimiter": ";;"}, "delimiter must be a single character"),
        ({"skip_rows_matching": {"Status": "("}}, "bad regular expression"),
        ({"currency": None}, "currency"),
    ],
)
def test_bad_layouts_are_config_errors(change, message):
    raw = {**BANK, **change}
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(ConfigError) as err:
        layout_from_dict(raw)
    assert message in str(err.value)


def test_bad_toml_names_the_file(tmp_path):
    (tmp_path / "x.toml").write_text("name = ")
    with pytest.raises(ConfigError, match="x.toml: not a readable TOML mapping"):
        load_mappings([tmp_path])
    with pytest.raises(ConfigError, match="mappings folder not found"):
        load_mappings([tmp_path / "missing"])


def test_header_matching():
    lay = layout_from_dict(BANK)
    assert lay.matches_header(["Date", "Text", "Amount", "Status"])
    assert lay.matches_header(["Date", "Text", "Amount", "Status", "Type"])
    assert not lay.matches_header(["Date", "Text", "Amount", "Status", "Other"])
    assert not lay.matches_header(["Date", "Text", "Amount"])


def test_apply_mapping_bank():
    lay = layout_from_dict(BANK)
    frame = pl.DataFrame(
        {
            "source_line": [2, 3, 4, 5],
            "Date": ["05/03/2025", "2025/03/06", "2025-03-07 00:00:00", "x"],
            "Text": ["KID: 1234 5678 97", "  1234567897 ", "Hyra mars", None],
            "Amount": ["1 234,50", "-1.234,50", "1234.5", "12,345"],
            "Status": ["Booked", None, "Booked", "Reservation"],
        }
    )
    out = apply_mapping(frame, lay)
    assert out.columns == [
        "source_line",
        "account",
        "booking_date",
        "amount_minor",
        "currency",
        "reference",
        "message",
        "payer_name",
        "payer_account",
        "bank_ref",
    ]
    assert out["source_line"].to_list() == [2, 3, 4]  # the reservation is skipped
    assert out["booking_date"].to_list() == [dt.date(2025, 3, 5), dt.date(2025, 3, 6), dt.date(2025, 3, 7)]
    assert out["amount_minor"].to_list() == [123_450, -123_450, 123_450]  # "1234.5": an Excel number
    assert out["reference"].to_list() == ["1234567897", "1234567897", None]
    assert out["message"].to_list() == ["KID: 1234 5678 97 Booked", "1234567897", "Hyra mars Booked"]
    assert set(out["account"]) == {"54029681"} and set(out["currency"]) == {"SEK"}


def test_apply_mapping_in_and_out_columns():
    raw = {
        **BANK,
        "header": ["Date", "In", "Out"],
        "skip_rows_matching": {},
        "columns": {"booking_date": "Date", "amount_in": "In", "amount_out": "Out"},
    }
    del raw["optional_header"]
    lay = layout_from_dict(raw)
    frame = pl.DataFrame(
        {"Date": ["01/01/2025"] * 4, "In": ["10,00", None, None, ""], "Out": [None, "-5,00", "5,00", None]}
    )
    assert apply_mapping(frame, lay)["amount_minor"].to_list() == [1_000, -500, -500, None]


def test_apply_mapping_missing_column():
    lay = layout_from_dict(BANK)
    with pytest.raises(MissingColumnError) as err:
        apply_mapping(pl.DataFrame({"source_line": [1], "Date": ["x"], "Text": ["y"], "Status": ["z"]}), lay)
    assert err.value.column == "Amount" and err.value.available == ["Date", "Text", "Status"]
    assert (
        str(err.value)
        == "column 'Amount' (mapped as amount by layout 'testbank') is missing; the file has: 'Date', 'Text', 'Status'"
    )
