"""Automatic write-off over real HTTP against the sandbox: the Swedish creditor (ADA) with `write_off_below =
{ SEK = "5.00" }`.

A BgMax file booked 30 November pays invoice 705001 3.00 short by its OCR reference (under the limit: written off,
never an open break) and 705002 40.00 short (over it: an open underpayment). The run lists the 3.00 on its "Written off" sheet and
in summary.json and records it once in the resolutions table; the 40.00 is on the Underpayment sheet and in
discrepancies.csv with its break_key, the same key November's month-end gives it. The month-end lists the write-off
as resolved (by whom, when) and never as open; every category sheet of both workbooks has the action list.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import openpyxl

from etl.reconcile.write_off import AUTO_WRITE_OFF_BY
from etl.report.labels import CATEGORY_LABELS
from etl.report.tables import ACTIONS, CSV_COLUMNS, RESOLUTION_COLUMNS
from etl.store import open_store
from tests.conftest import SAMPLE, write_sample_config
from tests.reconcile.test_period_scenario import Cli, _at, _bgmax, _invoices, _minor, gen

_CREDITOR_LINE = 'invoice_files = ["invoices_solkraft_*"]'


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _check_action_columns(book: Path) -> list[str]:
    """Every category sheet ends with the four resolution columns; `action` has the list over its data rows and the
    cells to fill are unlocked with a fill. Returns the category sheets' names."""
    wb = openpyxl.load_workbook(book)
    labels = [n for n in wb.sheetnames if n in set(CATEGORY_LABELS.values())]
    assert labels, wb.sheetnames
    for name in labels:
        ws = wb[name]
        header = [c.value for c in ws[1]]
        assert header[-4:] == list(RESOLUTION_COLUMNS), (name, header)
        col = openpyxl.utils.get_column_letter(header.index("action") + 1)
        data = [r for r in range(2, ws.max_row + 1) if ws[f"A{r}"].value == ws["A2"].value]
        [dv] = ws.data_validations.dataValidation
        assert dv.type == "list" and dv.formula1 == '"' + ",".join(ACTIONS) + '"', name
        span = f"{col}2:{col}{data[-1]}" if len(data) > 1 else f"{col}2"  # the data rows, not the totals row
        assert str(dv.sqref) == span, (name, str(dv.sqref))
        cell = ws[f"{col}2"]
        assert cell.protection.locked is False and cell.fill.fgColor.rgb.endswith("FFF2CC"), name
        assert all(ws[f"{openpyxl.utils.get_column_letter(header.index('break_key') + 1)}{r}"].value for r in data)
    return labels


def test_a_small_underpayment_is_written_off_and_a_larger_one_stays_open(tmp_path: Path, sandbox, monkeypatch) -> None:
    inv = _invoices()
    config = write_sample_config(tmp_path, sandbox.base_url)
    text = config.read_text(encoding="utf-8")
    assert _CREDITOR_LINE in text
    config.write_text(text.replace(_CREDITOR_LINE, _CREDITOR_LINE + '\nwrite_off_below = { SEK = "5.00" }', 1), encoding="utf-8")
    cli = Cli(config, monkeypatch)

    night = tmp_path / "night"
    (night / "se").mkdir(parents=True)
    shutil.copy(SAMPLE / gen.SE_INVOICES_FILE, night / "se")
    small, large = 300, 4_000
    _bgmax(night / "se/bgmax_2026-11-30.txt", dt.date(2026, 11, 30),
           [(inv["705001"]["kid"], _minor(inv["705001"]["amount_incl_vat"]) - small),
            (inv["705002"]["kid"], _minor(inv["705002"]["amount_incl_vat"]) - large)], "900000001")
    run = cli(_at(dt.date(2026, 12, 1)), "run", "--invoices", str(night), "--bank", str(night),
              "--out", str(tmp_path / "out"))
    assert run.exit_code == 1, run.output  # the 40.00 is still a discrepancy
    [run_dir] = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]

    rows = _csv(run_dir / "discrepancies.csv")
    assert list(rows[0]) == list(CSV_COLUMNS)
    under = [r for r in rows if r["category"] == "underpayment"]
    assert [(r["invoice_number"], r["difference"]) for r in under] == [("705002", "-40.00")]
    assert not [r for r in rows if r["invoice_number"] == "705001"]  # never an open break
    assert under[0]["break_key"] and (under[0]["action"], under[0]["action_invoice"], under[0]["action_note"]) == ("", "", "")

    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["counts"].get("underpayment") == 1
    assert summary["totals"]["written_off"] == 1 and summary["totals"]["written_off_amount"] == {"SEK": "-3.00"}
    assert summary["totals"]["tie"]["SEK"]["unexplained"] == "0.00"  # the payment was delivered whole

    wb = openpyxl.load_workbook(run_dir / "discrepancies.xlsx")
    off = list(wb["Written off"].iter_rows(values_only=True))
    head = off[1]  # a note above the table
    written = [dict(zip(head, r)) for r in off[2:] if r[0] == "underpayment"]
    assert [(w["invoice_number"], w["difference"], w["action"], w["resolved_by"]) for w in written] == [
        ("705001", -3.0, "write_off", AUTO_WRITE_OFF_BY)]
    assert "Refunds" in wb.sheetnames
    summary_rows = {r[2]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r[2]}
    assert summary_rows["written_off"] == 1
    assert _check_action_columns(run_dir / "discrepancies.xlsx") == ["Underpayment"]

    with open_store(tmp_path / "state.duckdb") as store:
        recorded = store.frame("SELECT * FROM resolutions").to_dicts()
    assert [(r["action"], r["amount_minor"], r["currency"], r["state"], r["source_file"], r["resolved_by"],
             r["creditor"], r["action_invoice"]) for r in recorded] == [
        ("write_off", -small, "SEK", "active", None, AUTO_WRITE_OFF_BY, "solkraft-se", "705001")]

    # November's month-end: the 40.00 open under the same break_key; the 3.00 resolved by the write-off.
    closing = cli(_at(dt.date(2026, 12, 10)), "reconcile", "--period", "2026-11", "--out", str(tmp_path / "month"))
    assert closing.exit_code == 1, closing.output
    folder = tmp_path / "month" / "period-2026-11"
    month = _csv(folder / "discrepancies.csv")
    assert list(month[0]) == list(CSV_COLUMNS)
    assert [r["break_key"] for r in month if r["category"] == "underpayment"] == [under[0]["break_key"]]
    assert not [r for r in month if r["invoice_number"] == "705001"]
    wb = openpyxl.load_workbook(folder / "discrepancies.xlsx")
    resolved = list(wb["Resolved"].iter_rows(values_only=True))
    done = [dict(zip(resolved[0], r)) for r in resolved[1:] if r[0] == "underpayment"]
    assert [(d["invoice_number"], d["action"], d["resolved_by"], bool(d["resolved_at"])) for d in done] == [
        ("705001", "write_off", AUTO_WRITE_OFF_BY, True)]
    assert "Underpayment" in _check_action_columns(folder / "discrepancies.xlsx")

    # The same file imported again by force: nothing written off twice, the record keeps its first date.
    again = cli(_at(dt.date(2026, 12, 11)), "run", "--force", "--bank", str(night), "--out", str(tmp_path / "out2"))
    assert again.exit_code in (0, 1), again.output
    with open_store(tmp_path / "state.duckdb") as store:
        assert store.frame("SELECT resolved_at FROM resolutions").to_dicts() == [
            {"resolved_at": recorded[0]["resolved_at"]}]
