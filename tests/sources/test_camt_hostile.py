"""camt against hostile and unusual files: every entry accounted for (pending and informational entries rejected
with the reason, never dropped), DTDs and entities refused by the parser itself, UTF-16 read, amounts per the
ISO 20022 decimal type only. Real samples (tests/data/camt053, camt054) and variants written into tmp."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from lxml import etree

from etl.cli import cli
from etl.inputs import read_inputs
from etl.sources.camt import _amount_minor, parse_options, read_camt053, read_camt054

from .conftest import DATA

C53 = DATA / "camt053"
V2 = DATA / "camt054" / "camt054.v2.xml"
SWEDISH = C53 / "camt_053_swedish_account_statement.xml"
INCOMING = C53 / "ISO20022_camt053_extended_SE_incoming_payments_incl_CB_example.xml"
REAL = sorted(C53.glob("*.xml")) + [V2]


def _entry(status: str, amount: str = "100.00", ref: str = "E", txs: tuple[str, ...] = ()) -> str:
    details = "".join(
        f"<TxDtls><Refs><AcctSvcrRef>{ref}-{i}</AcctSvcrRef></Refs><Amt Ccy=\"NOK\">{a}</Amt>"
        f"<RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>00{i}531</Ref></CdtrRefInf>"
        f"</Strd></RmtInf></TxDtls>\n"
        for i, a in enumerate(txs)
    )
    return (f"<Ntry>\n<Amt Ccy=\"NOK\">{amount}</Amt>\n<CdtDbtInd>CRDT</CdtDbtInd>\n<Sts><Cd>{status}</Cd></Sts>\n"
            f"<BookgDt><Dt>2026-11-19</Dt></BookgDt>\n<AcctSvcrRef>{ref}</AcctSvcrRef>\n"
            + (f"<NtryDtls>\n{details}</NtryDtls>\n" if details else "") + "</Ntry>\n")


def _camt054(*entries: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">\n<BkToCstmrDbtCdtNtfctn>\n'
            "<GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-11-20T06:00:00</CreDtTm></GrpHdr>\n<Ntfctn>\n<Id>N1</Id>\n"
            "<Acct><Id><Othr><Id>86011117947</Id></Othr></Id></Acct>\n"
            + "".join(entries) + "</Ntfctn>\n</BkToCstmrDbtCdtNtfctn>\n</Document>\n")


# -- every entry accounted for --------------------------------------------------------------------------------
def test_pending_and_informational_entries_are_rejected_with_the_reason(read, tmp_path):
    """The measured case: 3 entries in, 1 row out, status ok. Now: 3 rows, 1 valid, 2 rejected with why."""
    f = tmp_path / "three.xml"
    f.write_text(_camt054(_entry("BOOK", ref="A"), _entry("PDNG", ref="B"), _entry("INFO", ref="C")), encoding="utf-8")
    r = read(f)
    assert r.status == "ok" and r.rows.height == 3  # the file is fine; its rows are judged one by one
    assert (r.control["entries"], r.control["booked_entries"], r.control["not_booked_entries"]) == (3, 1, 2)
    assert r.problems["error_check"].to_list() == ["camt_not_booked"] * 2
    assert r.problems["error_message"].to_list() == [
        "pending entry (Sts PDNG), not booked: held back, not delivered (the bank's booked entry comes in a later file)",
        "informational entry (Sts INFO), not booked: held back, not delivered (the bank's booked entry comes in a "
        "later file)",
    ]
    assert r.message == f"{f}: 2 of 3 entries not booked (1 PDNG, 1 INFO): not delivered, in the rejects file"


def test_validate_counts_tie_and_the_rejects_file_holds_the_entries(tmp_path):
    f = tmp_path / "in" / "three.xml"
    f.parent.mkdir()
    f.write_text(_camt054(_entry("BOOK", ref="A"), _entry("PDNG", "250.00", ref="B", txs=("200.00", "50.00")),
                          _entry("FUTR", ref="C")), encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["validate", "--json", "--out", str(out), str(f)])
    assert res.exit_code == 1, res.output  # rows were rejected: a night with something to look at
    (file,) = json.loads(res.output)["files"]
    # 1 booked row + 2 TxDtls of the pending entry + 1 future entry: every row in exactly one place.
    assert (file["rows"], file["valid"], file["rejected"], file["status"]) == (4, 1, 3, "rejected_rows")
    assert file["rows"] == file["valid"] + file["rejected"]
    assert file["total_amount"] == "100.00"  # only the booked entry counts
    (rejects,) = out.glob("validate-*/rejects/three.xml.rejects.csv")
    table = pl.read_csv(rejects, infer_schema=False)
    assert table["status"].to_list() == ["PDNG", "PDNG", "FUTR"]
    assert table["tx_amount"].to_list() == ["200.00", "50.00", None]
    assert set(table["error_check"]) == {"camt_not_booked"}
    assert table["error_message"][2].startswith("entry (Sts FUTR), not booked")


def test_a_pending_entry_never_changes_a_booked_rows_key(read, tmp_path):
    """The same payment pending today and booked tomorrow, or twice in one file: the booked row's key is the
    one it has without the pending twin (exactly-once depends on it)."""
    alone = tmp_path / "alone.xml"
    alone.write_text(_camt054(_entry("BOOK", ref="A")), encoding="utf-8")
    twin = tmp_path / "twin.xml"
    twin.write_text(_camt054(_entry("PDNG", ref="A"), _entry("BOOK", ref="A")), encoding="utf-8")
    key = read(alone).rows["payment_key"][0]
    assert read(twin).rows["payment_key"][1] == key


def test_pending_entries_stay_out_of_the_balance_and_entry_sum_checks(read, tmp_path):
    """A real statement with an extra pending entry (amounts that would not tie): the booked balance still ties."""
    text = SWEDISH.read_text(encoding="utf-8")
    at = text.index("<Ntry>")
    f = tmp_path / "with_pending.xml"
    f.write_text(text[:at] + _entry("PDNG", "999.00", ref="P", txs=("1.00",)) + text[at:], encoding="utf-8")
    r = read(f)
    assert r.status == "ok", r.message
    assert r.rows.height == 6 and r.problems["error_check"].to_list() == ["camt_not_booked"]
    assert r.balances["entries"].to_list() == [4, 0, 1]


# -- DTDs and entities: refused by the parser ---------------------------------------------------------------
_REFUSED = ("XML with a document type declaration (DOCTYPE/ENTITY) is refused: entities are never expanded or "
            "fetched (possible entity bomb or external entity)")


def _hostile(secret: Path) -> dict[str, str]:
    body = _camt054(_entry("BOOK", ref="A")).split("\n", 1)[1]
    laughs = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">\n' for i in range(1, 10))
    return {
        # The measured bypass: a comment holding `<Document>` before the DOCTYPE.
        "comment_then_doctype": f'<?xml version="1.0"?>\n<!-- <Document> -->\n<!DOCTYPE Document [<!ENTITY x "y">]>\n'
                                + body.replace("<Id>N1</Id>", "<Id>&x;</Id>"),
        "billion_laughs": f'<?xml version="1.0"?>\n<!DOCTYPE Document [\n<!ENTITY l0 "lol">\n{laughs}]>\n'
                          + body.replace("<Id>N1</Id>", "<Id>&l9;</Id>"),
        "external_entity": f'<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY s SYSTEM "file://{secret}">]>\n'
                           + body.replace("<Id>N1</Id>", "<Id>&s;</Id>"),
        "parameter_entity": f'<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY % p SYSTEM "file://{secret}">\n'
                            f"%p;]>\n" + body,
        "external_dtd": f'<?xml version="1.0"?>\n<!DOCTYPE Document SYSTEM "file://{secret}">\n' + body,
        "doctype_without_subset": '<?xml version="1.0"?>\n<!DOCTYPE Document>\n' + body,
        "processing_instruction_first": '<?xml version="1.0"?>\n<?x <Document> ?>\n<!DOCTYPE Document []>\n' + body,
    }


@pytest.mark.parametrize("case", list(_hostile(Path("/x"))))
def test_dtds_and_entities_are_refused_by_the_parser(read, tmp_path, case):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-LINE", encoding="utf-8")
    text = _hostile(secret)[case]
    f = tmp_path / f"{case}.xml"
    f.write_text(text, encoding="utf-8")
    r = read(f)
    assert (r.status, r.rows.height) == ("unreadable", 0)
    line = text[: text.index("<!DOCTYPE")].count("\n") + 1
    assert r.message == f"{f}: line {line}: {_REFUSED}"
    assert "TOP-SECRET" not in repr(r)
    # UTF-16 does not get past it either (read_source turns it into UTF-8; the reader alone reads UTF-16 too).
    utf16 = text.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16")
    with pytest.raises(Exception, match="document type declaration"):
        read_camt054(f, utf16)
    g = tmp_path / f"{case}.utf16.xml"
    g.write_bytes(utf16)
    assert read(g).status == "unreadable" and _REFUSED in read(g).message


def test_the_parser_options_never_expand_or_fetch(tmp_path):
    """Under the reader's options lxml itself leaves an external entity unexpanded (second line of defence)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-LINE", encoding="utf-8")
    doc = f'<!DOCTYPE d [<!ENTITY s SYSTEM "file://{secret}">]><d>&s;</d>'.encode()
    root = etree.fromstring(doc, etree.XMLParser(**parse_options()))
    assert b"TOP-SECRET" not in etree.tostring(root)


def test_the_shipped_malformed_entity_files_are_refused(read):
    for name in ("camt_entity_bomb.xml", "camt_external_entity.xml"):
        r = read(DATA / "malformed" / name)
        assert r.status == "unreadable" and r.message.endswith(f"line 2: {_REFUSED}")


# -- encodings ----------------------------------------------------------------------------------------------
def _as(data: bytes, how: str) -> bytes:
    text = data.decode("utf-8")
    declared = (text.replace('encoding="UTF-8"', 'encoding="UTF-16"', 1) if 'encoding="UTF-8"' in text[:60]
                else text.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>', 1))
    return {
        "utf16le_bom": codecs.BOM_UTF16_LE + declared.encode("utf-16-le"),
        "utf16be_bom": codecs.BOM_UTF16_BE + declared.encode("utf-16-be"),
        "utf16le_declared_no_bom": declared.encode("utf-16-le"),
        "utf16be_declared_no_bom": declared.encode("utf-16-be"),
        "utf16_bom_utf8_declaration": codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
        "utf8_bom": codecs.BOM_UTF8 + data,
    }[how]


@pytest.mark.parametrize("how", ["utf16le_bom", "utf16be_bom", "utf16le_declared_no_bom", "utf16be_declared_no_bom",
                                 "utf16_bom_utf8_declaration", "utf8_bom"])
@pytest.mark.parametrize("src", REAL, ids=lambda p: p.name[:30])
def test_utf16_real_files_read_as_their_utf8_originals(read, tmp_path, src, how):
    data = src.read_bytes()
    f = tmp_path / src.name
    f.write_bytes(_as(data, how))
    expected = read(src)
    got = read(f)
    assert (got.status, got.message.replace(str(f), str(src))) == (expected.status, expected.message)
    cols = [c for c in expected.rows.columns if c not in ("source_file", "source_sha256")]
    assert got.rows.select(cols).equals(expected.rows.select(cols))
    # The reader on the raw bytes too (lxml honours the BOM / declaration).
    reader = read_camt054 if "camt054" in src.name else read_camt053
    assert reader(src, _as(data, how)).rows.select(cols).equals(expected.rows.select(cols))


# -- amounts: the ISO 20022 decimal only ----------------------------------------------------------------------
@pytest.mark.parametrize(("text", "minor"), [
    ("100.00", 10_000), ("1000", 100_000), ("14384.6", 1_438_460), (".6", 60), ("1.", 100), ("0.01", 1),
    ("1.50000", 150), ("007.10", 710), ("9999999999999999.99", 999_999_999_999_999_999),
])
def test_iso_amounts(text, minor):
    assert _amount_minor(text) == minor


@pytest.mark.parametrize("text", [
    "1E+3", "1e3", "-100.00", "+100.00", "1 000.00", "1,000.00", "1000,00", "100.005", "100.001", "563.04.00",
    "10000000000000000.00", "0x10", "NaN", "Infinity", "\uff11\uff10\uff10", "\u0661\u0660\u0660", ".", "",
    "1.000001", "١٠٠",
])
def test_not_iso_amounts(text):
    assert _amount_minor(text) is None


@pytest.mark.parametrize("bad", ["1E+3", "-200.00", "200,00", "200.001", "563.04.00"])
def test_a_transaction_amount_that_is_not_iso_rejects_its_row_quoting_it(read, tmp_path, bad):
    f = tmp_path / "tx.xml"
    f.write_text(_camt054(_entry("BOOK", "250.00", ref="A", txs=(bad, "50.00"))), encoding="utf-8")
    r = read(f)
    assert r.rows["amount_minor"].to_list() == [None, 5000]
    (problem,) = r.problems.rows(named=True)
    assert problem["error_check"] == "camt_amount" and repr(bad) in problem["error_message"]
    assert r.raw["tx_amount"][0] == bad  # the rejects file shows the value as it was


def test_an_entry_amount_that_is_not_iso_rejects_the_entry(read, tmp_path):
    f = tmp_path / "entry.xml"
    f.write_text(_camt054(_entry("BOOK", "1E+3", ref="A"), _entry("BOOK", ref="B")), encoding="utf-8")
    outcome = read_inputs((f,), _mappings())[0]
    assert outcome.result.status == "ok" and outcome.valid.height == 1
    assert outcome.rejects["error_message"][0].startswith("entry amount '1E+3' is not an ISO 20022 amount")
    assert outcome.result.raw["entry_amount"][0] == "1E+3"


def test_an_entry_amount_that_is_not_iso_in_a_statement_holds_it_back(read, tmp_path):
    """The balances cannot be checked without it: the statement is held back, saying so (not 'do not tie')."""
    text = SWEDISH.read_text(encoding="utf-8")
    f = tmp_path / "stmt.xml"
    first = text.index("<Ntry>")
    amt = text.index("<Amt", first)
    end = text.index("</Amt>", amt)
    f.write_text(text[:amt] + '<Amt Ccy="SEK">1E+3' + text[end:], encoding="utf-8")
    r = read(f)
    assert r.status == "held_back"
    assert "balances not checked: the entry at line" in r.message and "'1E+3'" in r.message
    assert "do not tie" not in r.message.split(";")[0]


def _mappings():
    from etl.mapping import load_mappings

    return load_mappings([DATA.parents[1] / "mappings"])
