"""One payment, two formats, one delivery: BgMax then camt.054 (Sweden's transition months) and OCR giro then
camt.054 (Norway), in either order, in one run or runs weeks apart; the second file adds nothing to the sandbox's
ledger (GET /_sandbox/ledger over real HTTP) and each of its payments is reported `duplicate_payment`. A payment
naming several invoices with amounts is delivered once per invoice, whichever format brought it."""

from __future__ import annotations

import datetime as dt
import importlib.util
import random
import re
import sys
from dataclasses import replace
from pathlib import Path

import httpx
import polars as pl
import pytest

from etl.bundled import bundled_dir
from etl.config import load_config, with_sandbox
from etl.mapping import load_mappings
from etl.pipeline import RunRequest, RunResult, run_pipeline
from etl.sources import read_source
from tests.conftest import SAMPLE

_spec = importlib.util.spec_from_file_location("sample_generate_two_formats", SAMPLE / "generate.py")
gen = importlib.util.module_from_spec(_spec)
sys.modules["sample_generate_two_formats"] = gen  # dataclasses look their module up while the module runs
_spec.loader.exec_module(gen)  # type: ignore[union-attr]

SE_CAMT = SAMPLE / gen.SE_CAMT_FILE
SE_INVOICES = SAMPLE / gen.SE_INVOICES_FILE
NO_OCR = SAMPLE / gen.NO_OCR_FILE
NO_INVOICES = SAMPLE / gen.NO_INVOICES_FILE
NIGHT = dt.datetime(2026, 11, 20, 5, 15, tzinfo=dt.timezone.utc)
WEEKS_LATER = dt.datetime(2026, 12, 11, 5, 15, tzinfo=dt.timezone.utc)


def _legacy_bgmax(folder: Path) -> Path:
    """The sample's Swedish payments as the BgMax file Bankgirot sent before camt.054 (same BGC serials)."""
    rng = random.Random(gen.SEED)
    no_invoices = gen.build_no_invoices(rng)
    gen.build_ocr(rng, no_invoices)
    gen.build_sb1(rng, no_invoices)
    se_invoices, payments = gen.build_se(rng)
    camt, _ = gen.camt054_text(payments, se_invoices)
    assert "".join(line + "\n" for line in camt).encode() == SE_CAMT.read_bytes()  # the very payments of the sample
    lines, _ = gen.bgmax_text(payments, se_invoices)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bgmax_solkraft_2026-11-20.txt"
    path.write_bytes("".join(line + "\r\n" for line in lines).encode("iso-8859-1"))
    return path


def _copy(src: Path, folder: Path, text: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / src.name
    path.write_bytes(src.read_bytes() if text is None else text.encode("utf-8"))
    return path


def _run(tmp: Path, base_url: str, inputs: tuple[Path, ...], when: dt.datetime, name: str) -> RunResult:
    config = load_config(SAMPLE / "amili-etl.toml", env={}, default_mapping_dirs=(bundled_dir("mappings"),))
    config = with_sandbox(replace(config, state_path=tmp / "state.duckdb"), base_url)
    return run_pipeline(RunRequest(config=config, inputs=inputs, out_dir=tmp / "out", run_id=name,
                                   clock=lambda: when))


def _ledger(base_url: str) -> list[dict[str, object]]:
    return httpx.get(f"{base_url}/_sandbox/ledger").json()["items"]


def _duplicates(result: RunResult) -> pl.DataFrame:
    return result.discrepancies.filter(pl.col("category") == "duplicate_payment")


@pytest.mark.parametrize("first", ["bgmax", "camt054"])
def test_sweden_the_second_format_weeks_later_adds_nothing(tmp_path: Path, sandbox, first: str) -> None:
    bgmax = _legacy_bgmax(tmp_path / "legacy")
    camt = _copy(SE_CAMT, tmp_path / "camt")
    one, two = (bgmax, camt) if first == "bgmax" else (camt, bgmax)
    r1 = _run(tmp_path, sandbox.base_url, (SE_INVOICES, one), NIGHT, "r1")
    ledger = _ledger(sandbox.base_url)
    ada = [i for i in ledger if i["api"] == "ada.creditor-payments"]
    assert r1.summary["sent"]["ada.creditor-payments"] == len(ada) == 12  # 11 payments, one of them for 2 invoices
    assert _duplicates(r1).height == 0
    split = sorted(i["key"] for i in ada if ":" in i["key"])
    assert len(split) == 2 and split[0].split(":")[0] == split[1].split(":")[0]  # one payment, one key each invoice

    r2 = _run(tmp_path, sandbox.base_url, (two,), WEEKS_LATER, "r2")
    assert _ledger(sandbox.base_url) == ledger  # nothing added, nothing sent twice
    assert r2.summary["sent"]["ada.creditor-payments"] == 0
    dups = _duplicates(r2)
    assert dups.height == 11 and set(dups.get_column("source_file")) == {str(two)}
    assert dups.get_column("detail").str.contains(f"first seen at {re.escape(str(one))}:").all()
    assert dups.get_column("detail").str.contains("the same bank reference").all()
    assert r2.summary["counts"] == {"duplicate_payment": 11}  # the planted problems were r1's, reported once


def test_sweden_both_formats_in_one_run_send_once(tmp_path: Path, sandbox) -> None:
    bgmax = _legacy_bgmax(tmp_path / "legacy")
    camt = _copy(SE_CAMT, tmp_path / "camt")
    result = _run(tmp_path, sandbox.base_url, (SE_INVOICES, camt, bgmax), NIGHT, "r1")
    ada = [i for i in _ledger(sandbox.base_url) if i["api"] == "ada.creditor-payments"]
    assert len(ada) == 12 and all(i["accepted"] == 1 for i in ada)
    dups = _duplicates(result)
    assert dups.height == 11 and set(dups.get_column("source_file")) == {str(bgmax)}
    # Every krona read is delivered once or explained (the duplicates carry the difference).
    control = result.summary["totals"]["control"]["SEK"]
    assert control["unexplained"] == "0.00" and control["explained"] == control["net_break"] != "0.00"


def test_sweden_without_a_common_bank_reference_the_second_sighting_is_held_for_a_person(tmp_path: Path,
                                                                                          sandbox) -> None:
    """A bank that puts its own reference in camt (not Bankgirot's serial): the same account, booking date, amount and
    reference make the payment only probably the same: held, not sent, reported for a person."""
    bgmax = _legacy_bgmax(tmp_path / "legacy")
    own_refs = re.sub(r"<AcctSvcrRef>(\d{12})</AcctSvcrRef>", r"<AcctSvcrRef>HB-\1-X</AcctSvcrRef>",
                      SE_CAMT.read_text(encoding="utf-8"))
    camt = _copy(SE_CAMT, tmp_path / "camt", own_refs)
    _run(tmp_path, sandbox.base_url, (SE_INVOICES, bgmax), NIGHT, "r1")
    ledger = _ledger(sandbox.base_url)
    r2 = _run(tmp_path, sandbox.base_url, (camt,), WEEKS_LATER, "r2")
    assert _ledger(sandbox.base_url) == ledger
    dups = _duplicates(r2)
    assert dups.height == 11
    assert dups.get_column("detail").str.contains("probably the same payment").all()
    assert dups.get_column("detail").str.contains("held for a person, not sent").all()


def test_sweden_another_payment_of_the_same_amount_is_not_taken_for_a_duplicate(tmp_path: Path, sandbox) -> None:
    """Same account and amount, but another day and another bank reference: a payment of its own, sent."""
    bgmax = _legacy_bgmax(tmp_path / "legacy")
    text = SE_CAMT.read_text(encoding="utf-8").replace("2026-11-20</Dt>", "2026-11-27</Dt>")
    other = re.sub(r"<AcctSvcrRef>(\d{12})</AcctSvcrRef>", r"<AcctSvcrRef>7\1</AcctSvcrRef>", text)
    camt = _copy(SE_CAMT, tmp_path / "camt", other)
    _run(tmp_path, sandbox.base_url, (SE_INVOICES, bgmax), NIGHT, "r1")
    r2 = _run(tmp_path, sandbox.base_url, (camt,), WEEKS_LATER, "r2")
    assert _duplicates(r2).height == 0
    assert r2.summary["sent"]["ada.creditor-payments"] > 0


def test_sweden_a_held_back_bgmax_file_is_no_first_sighting(tmp_path: Path, sandbox) -> None:
    """A Bg Max file whose totals do not tie sends nothing: the camt.054 of the same payments is then delivered."""
    bgmax = _legacy_bgmax(tmp_path / "legacy")
    lines = bgmax.read_bytes().decode("iso-8859-1").split("\r\n")
    lines[-2] = lines[-2][:2] + f"{int(lines[-2][2:10]) + 1:08d}" + lines[-2][10:]  # TK70 counts one TK20 too many
    bgmax.write_bytes("\r\n".join(lines).encode("iso-8859-1"))
    r1 = _run(tmp_path, sandbox.base_url, (SE_INVOICES, bgmax), NIGHT, "r1")
    assert r1.summary["sent"]["ada.creditor-payments"] == 0 and r1.summary["counts"]["control_total_mismatch"] == 1
    r2 = _run(tmp_path, sandbox.base_url, (_copy(SE_CAMT, tmp_path / "camt"),), WEEKS_LATER, "r2")
    assert _duplicates(r2).height == 0 and r2.summary["sent"]["ada.creditor-payments"] == 12


# ---------------------------------------------------------------- Norway: OCR giro and camt.054


def _no_camt(folder: Path, multi: list[tuple[str, int]]) -> Path:
    """The sample OCR giro payments as the bank's camt.054.001.08 (archive reference as AcctSvcrRef, the KID in
    CdtrRefInf), plus one payment of several invoices, each KID with its amount."""
    rows = read_source(NO_OCR, None).rows
    txs = []
    for r in rows.iter_rows(named=True):
        txs.append(_no_tx(r["bank_ref"], r["amount_minor"], [(r["reference"], None)]))
    txs.append(_no_tx("990000001", sum(a for _, a in multi), multi))
    total = int(rows.get_column("amount_minor").sum()) + sum(a for _, a in multi)
    body = "\n".join(txs)
    text = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn>\n'
            "<GrpHdr><MsgId>DNB-1</MsgId><CreDtTm>2026-11-20T06:00:00</CreDtTm></GrpHdr>\n"
            "<Ntfctn><Id>N1</Id><Acct><Id><Othr><Id>15062995960</Id><SchmeNm><Cd>BBAN</Cd></SchmeNm></Othr></Id>"
            "</Acct>\n"
            f'<Ntry><Amt Ccy="NOK">{_no_amount(total)}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>'
            "<BookgDt><Dt>2026-11-20</Dt></BookgDt><ValDt><Dt>2026-11-20</Dt></ValDt>\n"
            f"<NtryDtls>\n{body}\n</NtryDtls></Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>\n")
    return _copy(Path("camt054_nordlys_2026-11-20.xml"), folder, text)


def _no_amount(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def _no_tx(archive: str, amount: int, kids: list[tuple[str, int | None]]) -> str:
    strds = "".join(
        "<Strd>" + (f'<RfrdDocAmt><RmtdAmt Ccy="NOK">{_no_amount(a)}</RmtdAmt></RfrdDocAmt>' if a else "")
        + f"<CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>{kid}</Ref></CdtrRefInf></Strd>"
        for kid, a in kids)
    return (f'<TxDtls><Refs><AcctSvcrRef>{archive}</AcctSvcrRef></Refs><Amt Ccy="NOK">{_no_amount(amount)}</Amt>'
            f"<CdtDbtInd>CRDT</CdtDbtInd><RmtInf>{strds}</RmtInf></TxDtls>")


def _open_no_invoices() -> list[tuple[str, str, int]]:
    """(invoice number, KID, amount) of two Norwegian sample invoices the OCR file does not pay."""
    rows = read_source(NO_INVOICES, load_mappings([bundled_dir("mappings")])).rows.filter(pl.col("invoice_number").is_in(["100015", "100016"]))
    return [(r["invoice_number"], r["kid"], r["amount_minor"]) for r in rows.iter_rows(named=True)]


@pytest.mark.parametrize("first", ["ocr_giro", "camt054"])
def test_norway_ocr_giro_and_camt054_send_each_payment_once(tmp_path: Path, sandbox, first: str) -> None:
    two_invoices = _open_no_invoices()
    camt = _no_camt(tmp_path / "camt", [(kid, amount) for _, kid, amount in two_invoices])
    ocr = _copy(NO_OCR, tmp_path / "ocr")
    one, two = (ocr, camt) if first == "ocr_giro" else (camt, ocr)
    r1 = _run(tmp_path, sandbox.base_url, (NO_INVOICES, one), NIGHT, "r1")
    reservations = [i for i in _ledger(sandbox.base_url) if i["api"] == "arm.paymentreservations"]
    assert len(reservations) == r1.summary["sent"]["arm.paymentreservations"] > 0
    ledger = _ledger(sandbox.base_url)
    r2 = _run(tmp_path, sandbox.base_url, (two,), WEEKS_LATER, "r2")
    after = _ledger(sandbox.base_url)
    added = [i for i in after if i not in ledger]
    if first == "ocr_giro":
        # Only the camt payment the OCR file did not carry: one ARM payment reservation per invoice it names.
        assert sorted((i["key"].split(":")[1], i["amount"]) for i in added) == sorted(
            (kid, _no_amount(amount)) for _, kid, amount in two_invoices)
        assert _duplicates(r2).height == 12
    else:
        assert added == [] and _duplicates(r2).height == 12
    assert r2.summary["counts"].get("duplicate_payment") == 12

