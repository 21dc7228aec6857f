"""Swedish camt.054 for Bankgiro receivables, as Handelsbanken, SEB, Swedbank, Nordea and Danske Bank write it
(.001.02 and .001.08): every payment, reference and per-invoice amount, the payer, and keys from the bank's
per-transaction reference. Files from tests/sources/camt054_se.py (fixed seed); their keys pinned in
tests/sources/golden/camt054_se.json (regenerate with `python -m tests.sources.test_camt054_se` only for a
deliberate key change: a contract change)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from etl.sources import read_source

from .camt054_se import BANKS, VERSIONS, write_all

GOLDEN = Path(__file__).parent / "golden" / "camt054_se.json"
_COLUMNS = ["account", "booking_date", "amount_minor", "currency", "reference", "extra_references",
            "extra_reference_amounts", "message", "payer_name", "payer_address", "payer_org_number", "payer_account",
            "bank_ref"]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, dict[str, list[dict[str, object]]]]:
    out = tmp_path_factory.mktemp("camt054_se")
    return out, write_all(out)


def _rows(path: Path) -> pl.DataFrame:
    result = read_source(path, None)
    assert (result.format, result.status, result.message) == ("camt054", "ok", ""), result.message
    assert result.problems.height == 0
    return result.rows


@pytest.mark.parametrize("bank", BANKS)
@pytest.mark.parametrize("version", VERSIONS)
def test_every_payment_reads_as_the_bank_wrote_it(written, bank, version):
    out, truth = written
    name = f"camt054_{bank}_{version}.xml"
    rows = _rows(out / name).with_columns(pl.col("booking_date").cast(pl.String))
    assert rows.select(_COLUMNS).to_dicts() == truth[name]


def test_both_versions_give_the_same_payments_and_keys(written):
    out, _ = written
    for bank in BANKS:
        v2, v8 = (_rows(out / f"camt054_{bank}_{v}.xml") for v in VERSIONS)
        assert v2.select(*_COLUMNS, "payment_key").equals(v8.select(*_COLUMNS, "payment_key")), bank


def test_multi_invoice_payments_keep_each_invoice_with_its_amount(written):
    out, _ = written
    rows = _rows(out / "camt054_handelsbanken_02.xml").filter(pl.col("extra_reference_amounts").is_not_null())
    for refs, amounts, total in rows.select("extra_references", "extra_reference_amounts", "amount_minor").iter_rows():
        signed = [int(a) for a in amounts.split(";")]
        assert len(refs.split(";")) == len(signed)
        assert sum(signed) == total  # the generator's payers' breakdowns add up (credit notes negative)
    credit = rows.filter(pl.col("extra_reference_amounts").str.contains("-", literal=True))
    assert credit.height and credit.get_column("extra_references").str.contains(r";K\d{4}$").all()


def test_the_key_comes_from_the_banks_reference_per_transaction(written, tmp_path):
    """The same payments in other deposits (entries) keep their keys; another AcctSvcrRef is another payment."""
    out, _ = written
    text = (out / "camt054_danske_08.xml").read_text(encoding="utf-8")
    keys = _rows(out / "camt054_danske_08.xml").get_column("payment_key")
    regrouped = tmp_path / "regrouped.xml"
    # Every transaction its own entry's reference: the entries' references are not the key's source.
    regrouped.write_text(re.sub(r"<AcctSvcrRef>DAN-D\d+</AcctSvcrRef>", "<AcctSvcrRef>OTHER</AcctSvcrRef>", text),
                         encoding="utf-8")
    assert _rows(regrouped).get_column("payment_key").equals(keys)
    first_ref = re.search(r"<TxDtls><Refs><AcctSvcrRef>(\d+)<", text).group(1)
    changed = tmp_path / "changed.xml"
    changed.write_text(text.replace(f">{first_ref}<", ">999999999999<", 1), encoding="utf-8")
    new_keys = _rows(changed).get_column("payment_key")
    assert new_keys[0] != keys[0] and new_keys[1:].equals(keys[1:])


def test_a_remittance_amount_that_is_not_an_amount_rejects_its_payment_quoting_it(written, tmp_path):
    out, _ = written
    text = (out / "camt054_seb_02.xml").read_text(encoding="utf-8")
    broken = tmp_path / "broken.xml"
    broken.write_text(re.sub(r'(<RmtdAmt Ccy="SEK">)[0-9.]+', r"\g<1>1.005", text, count=1), encoding="utf-8")
    result = read_source(broken, None)
    assert result.problems.height == 1
    problem = result.problems.row(0, named=True)
    assert problem["error_check"] == "camt_amount" and "'1.005'" in problem["error_message"]
    assert problem["source_line"] in result.rows.get_column("source_line").to_list()


def test_keys_are_pinned(written):
    out, _ = written
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert _keys(out) == golden


def _keys(out: Path) -> dict[str, list[list[object]]]:
    return {p.name: [list(r) for r in _rows(p).select("source_line", "payment_key").iter_rows()]
            for p in sorted(out.glob("camt054_*.xml"))}


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        write_all(Path(tmp))
        GOLDEN.write_text(json.dumps(_keys(Path(tmp)), indent=0) + "\n", encoding="utf-8")
