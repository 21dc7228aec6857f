"""The workbooks real runs write: the demo's (every sheet, lineage, the Summary's heading, the Files sheet's bank and
invoice totals apart) and a month-end's after runs in two months (period heading, open breaks by age)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from etl.report.labels import CATEGORY_LABELS
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run folder of one `amili-etl demo` in its own process (the tests here only read it)."""
    out = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMILI_")}
    proc = subprocess.run([sys.executable, "-m", "etl", "demo", "--out", str(out)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return next(p for p in out.iterdir() if p.is_dir() and p.name != "demo-state")


def test_run_workbook_has_every_sheet_and_lineage(demo: Path) -> None:
    """The real pipeline's workbook (the demo): sheets, lineage columns on every table, Run info without secrets."""
    run_dir = demo
    wb = openpyxl.load_workbook(run_dir / "discrepancies.xlsx")
    categories = ["invalid_row", "duplicate_payment", "invalid_reference", "unmatched_payment", "underpayment",
                  "overpayment"]
    assert wb.sheetnames == ["Summary", *[CATEGORY_LABELS[c] for c in categories], "Refunds", "Matched", "Unmatched", "Rejects",
                             "Files", "Control totals", "Run info"]
    for name in wb.sheetnames[1:7] + ["Matched", "Unmatched"]:
        header = [c.value for c in wb[name][1]]
        assert {"source_file", "source_line", "stable_key"} <= set(header), (name, header)
        assert wb[name].freeze_panes == "A2" and wb[name].auto_filter.ref
    for name, category in zip(wb.sheetnames[1:7], categories):
        assert {r[0] for r in wb[name].iter_rows(min_row=2, values_only=True) if r[0] and r[1]} == {category}
    matched = [c.value for c in wb["Matched"][1]]
    assert {"rule", "fields", "score", "evidence", "target", "route_reason", "http_status", "amili_id"} <= set(matched)
    info = {r[0]: r[1] for r in wb["Run info"].iter_rows(min_row=2, values_only=True)}
    assert info["creditor nordlys-no: payments to"] == "arm" and info["version of polars"]
    assert "None" not in info.values() and "False" not in info.values() and "True" not in info.values()
    assert not any("secret" in k.lower() and not k.endswith("(environment variable)") for k in info)
    assert "sandbox" not in {str(v) for k, v in info.items() if "secret" in k.lower() or "api code" in k.lower()}
    m = pl.read_parquet(run_dir / "matched.parquet")
    u = pl.read_parquet(run_dir / "unmatched.parquet")
    assert m.height == 25 and set(u.get_column("reason")) == {"unmatched_payment", "duplicate_payment"}  # 14 NO, 11 SE

    head = {r[0]: r[1] for r in wb["Summary"].iter_rows(max_row=10, max_col=2, values_only=True) if r[0]}
    assert head["Run"] == run_dir.name and head["Creditors"] == "nordlys-no, solkraft-se"
    assert head["Bank booking dates"] == "2026-11-18 to 2026-11-20"  # the sample's bank files
    generated = dt.datetime.strptime(head["Generated"][:19], "%Y-%m-%d %H:%M:%S")
    assert abs(generated - dt.datetime.now()) < dt.timedelta(hours=1) or "UTC" in head["Generated"]
    assert head["Generated"].endswith("UTC") or "(UTC" in head["Generated"]  # the zone is named


def test_demo_summary_ties_to_the_planted_differences(demo: Path) -> None:
    """Each planted problem's difference (amount - expected for an over- or underpayment, else the amount) is its
    category's figure on the Summary, in its currency; the tie-out shows 0.00 unexplained and `ties` per currency."""
    run_dir = demo
    ws = openpyxl.load_workbook(run_dir / "discrepancies.xlsx", data_only=True)["Summary"]
    rows = list(ws.iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if r[0] == "Category")
    assert rows[at][:5] == ("Category", "Rows", "Difference NOK", "Difference SEK", "Key")
    shown = {r[4]: (r[1], r[2], r[3]) for r in rows[at + 1:] if r[4]}
    planted = json.loads((SAMPLE / "planted.json").read_text(encoding="utf-8"))
    for p in planted:
        over_under = p["category"] in ("overpayment", "underpayment")
        diff = Decimal(p["amount"]) - Decimal(p["expected_amount"]) if over_under else Decimal(p["amount"])
        nok, sek = (diff, 0) if p["source_file"].startswith("no/") else (0, diff)
        assert shown[p["category"]] == (1, float(nok), float(sek)), p
    busy = [r[4] for r in rows[at + 1:at + 1 + len(planted)]]
    assert sorted(busy) == sorted(p["category"] for p in planted)  # the planted categories come first
    tie = next(i for i, r in enumerate(rows) if r[0] and str(r[0]).startswith("Tie-out per currency"))
    assert rows[tie + 1][6:8] == ("Unexplained", "Check")
    assert [(r[0], r[6], r[7]) for r in rows[tie + 2:tie + 4]] == [("NOK", 0, "ties"), ("SEK", 0, "ties")]
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    for r in rows[tie + 2:tie + 4]:  # the same figures as summary.json's totals.tie
        t = summary["totals"]["tie"][r[0]]
        assert r[1:6] == tuple(float(t[k]) for k in ("bank_total", "delivered", "unmatched", "held_back", "rejected"))


def test_files_sheet_keeps_bank_and_invoice_totals_apart(demo: Path) -> None:
    run_dir = demo
    ws = openpyxl.load_workbook(run_dir / "discrepancies.xlsx")["Files"]
    rows = list(ws.iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if r[0] == "path")  # under the note
    header = rows[at]
    assert "total" not in header and {"bank_total", "invoice_total"} <= set(header)
    col = {name: header.index(name) for name in ("kind", "bank_total", "invoice_total", "currency")}
    files = [r for r in rows[at + 1:] if r[0] and not str(r[0]).startswith("Total")]
    assert [r[col["kind"]] for r in files] == sorted((r[col["kind"]] for r in files), reverse=True)  # bank first
    for r in files:  # a file's total is in its own column, never in both
        assert (r[col["bank_total"]] is None) == (r[col["kind"]] != "payments"), r
        assert (r[col["invoice_total"]] is None) == (r[col["kind"]] != "invoices"), r
    totals = {r[0]: (r[col["bank_total"]], r[col["invoice_total"]]) for r in rows if r[0] and str(r[0]).startswith("Total")}
    for cur, (bank, invoices) in (("NOK", totals["Total NOK"]), ("SEK", totals["Total SEK"])):
        mine = [r for r in files if r[col["currency"]] == cur]
        assert bank == round(sum(r[col["bank_total"]] or 0 for r in mine), 2)
        assert invoices == round(sum(r[col["invoice_total"]] or 0 for r in mine), 2)
    assert totals["Total SEK"] == (52028.78, 61974.0)  # the sample's camt.054 and Swedish invoices, apart


def _stray_payment(folder: Path, day: dt.date, text: str, minor: int) -> None:
    """A SpareBank 1 export with one incoming payment that matches no invoice."""
    folder.mkdir(parents=True)
    amount = f"{minor // 100},{minor % 100:02d}"
    (folder / f"sparebank1_{day}.csv").write_text(
        "Dato;Beskrivelse;Rentedato;Inn;Ut;Til konto;Fra konto;\n"
        f'"{day:%d.%m.%Y}";"{text}";;"{amount}";;"15062995960";"12345678903";\n', encoding="utf-8")


def test_month_end_workbook_ages_breaks_and_names_the_period(tmp_path: Path) -> None:
    """An unmatched payment from October is still open at November's month-end (over 30 days); November's own are
    younger. The month-end Summary names the period, its creditors and bank booking dates, and ages the breaks."""
    from etl.bundled import bundled_dir
    from etl.config import load_config, with_sandbox
    from etl.pipeline import RunRequest, run_pipeline
    from etl.reconcile.period import reconcile_period
    from etl.report.period_report import write_period_report
    from etl.sandbox import EmbeddedSandbox, SandboxConfig
    from etl.store import open_store

    utc = dt.timezone.utc
    nights = [(dt.date(2026, 10, 15), "Innbetaling uten referanse", 123_450, dt.datetime(2026, 10, 16, 5, tzinfo=utc)),
              (dt.date(2026, 11, 25), "Husleie november", 850_000, dt.datetime(2026, 11, 26, 5, tzinfo=utc)),
              (dt.date(2026, 11, 30), "Ukjent innbetaling", 49_900, dt.datetime(2026, 11, 30, 23, tzinfo=utc))]
    config = load_config(SAMPLE / "amili-etl.toml", env={}, default_mapping_dirs=(bundled_dir("mappings"),))
    config = replace(config, state_path=tmp_path / "state.duckdb")
    with EmbeddedSandbox(SandboxConfig(seed_file=SAMPLE / "sandbox_seed.json")) as sb:
        cfg = with_sandbox(config, sb.base_url)
        for i, (day, text, minor, when) in enumerate(nights):
            _stray_payment(tmp_path / f"in{i}", day, text, minor)
            run_pipeline(RunRequest(config=cfg, inputs=(tmp_path / f"in{i}",), out_dir=tmp_path / "out",
                                    run_id=f"{when:%Y%m%dT%H%M%SZ}-n{i}", clock=lambda when=when: when))
    with open_store(cfg.state_path) as store:
        for period in ("2026-10", "2026-11"):  # October's month-end first: November carries what it left open
            result = reconcile_period(store, cfg, period, None, today=dt.date(2026, 12, 8))
            folder, _ = write_period_report(store, result, tmp_path / "out", cfg,
                                            {"period": period, "generated_at": "2026-12-08T07:30:00+00:00"})
    ws = openpyxl.load_workbook(folder / "discrepancies.xlsx")["Summary"]
    rows = list(ws.iter_rows(values_only=True))
    head = {r[0]: r[1] for r in rows[:12] if r[0]}
    assert head["Period"] == "2026-11 (2026-11-01 to 2026-11-30)" and head["Status"] == "incomplete"
    assert head["Creditor"] == "nordlys-no" and head["Bank booking dates"] == "2026-11-25 to 2026-11-30"
    assert head["Generated"] == "2026-12-08 07:30:00 UTC"
    assert "Amili not read back" in head["Incomplete because: readback"]
    at = next(i for i, r in enumerate(rows) if r[0] and str(r[0]).startswith("Open breaks by age"))
    assert rows[at + 1][:6] == ("Category", "0-1 days", "2-7 days", "8-30 days", "over 30 days", "Total")
    ages = {r[0]: r[1:6] for r in rows[at + 2:] if r[0]}
    assert ages["Unmatched payment"] == (1, 1, 0, 1, 3)  # first seen 11-30, 11-26 and 10-16; aged to 11-30
    assert ws.oddHeader.left.text == "Period 2026-11 (2026-11-01 to 2026-11-30)"
    # The tie-out adds up November's two runs: both payments unmatched, nothing unexplained.
    values = list(openpyxl.load_workbook(folder / "discrepancies.xlsx", data_only=True)["Summary"].iter_rows(values_only=True))
    tie = next(i for i, r in enumerate(values) if r[0] and str(r[0]).startswith("Tie-out per currency"))
    assert "the period's 2 run(s)" in values[tie][0]
    assert values[tie + 2][:8] == ("NOK", 8999.0, 0, 8999.0, 0, 0, 0, "ties")


def test_every_category_sheet_carries_the_resolution_columns_with_the_action_list(demo: Path) -> None:
    """Each of the demo's six category sheets ends with break_key, action, action_invoice, action_note; `action` has
    the list of actions over exactly its data rows (not the totals row); the cells to fill are unlocked and shaded;
    each row's break_key is the one discrepancies.csv gives the same row."""
    import csv

    from etl.report.tables import ACTIONS, RESOLUTION_COLUMNS

    with (demo / "discrepancies.csv").open(encoding="utf-8") as fh:
        keys = {(r["category"], r["source_file"], r["source_line"]): r["break_key"] for r in csv.DictReader(fh)}
    wb = openpyxl.load_workbook(demo / "discrepancies.xlsx")
    sheets = [n for n in wb.sheetnames if n in set(CATEGORY_LABELS.values())]
    assert len(sheets) == 6
    for name in sheets:
        ws = wb[name]
        header = [c.value for c in ws[1]]
        assert header[-4:] == list(RESOLUTION_COLUMNS), (name, header)
        rows = [dict(zip(header, r)) for r in ws.iter_rows(min_row=2, values_only=True) if r[1]]  # not the totals
        assert rows and all(keys[(r["category"], r["source_file"], str(r["source_line"] or ""))] == r["break_key"]
                            for r in rows), name
        assert all(r["break_key"] and r["action"] is None for r in rows)
        col = openpyxl.utils.get_column_letter(header.index("action") + 1)
        [dv] = ws.data_validations.dataValidation
        assert (dv.type, dv.formula1) == ("list", '"' + ",".join(ACTIONS) + '"')
        assert str(dv.sqref) == (f"{col}2" if len(rows) == 1 else f"{col}2:{col}{len(rows) + 1}"), name
        for letter in (openpyxl.utils.get_column_letter(header.index(c) + 1) for c in RESOLUTION_COLUMNS[1:]):
            cell = ws[f"{letter}2"]
            assert cell.protection.locked is False and cell.fill.fgColor.rgb.endswith("FFF2CC"), (name, letter)
    for name in ("Matched", "Unmatched", "Refunds"):  # the other tables are not for filling
        assert not wb[name].data_validations.dataValidation
