"""The other ways through resolve, each over a real sample run against the sandbox: a workbook filled in Excel
(openpyxl), --dry-run, reopen, and write_off / refund / explain at month-end (resolved, then never back)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from openpyxl import Workbook

from tests.resolve.support import (PERIOD, RESOLUTION, cli, fill, first_run, ledger, one_row, report_rows,
                                   state_rows, store_break, write_filled)


def _workbook(path: Path, rows: list[dict[str, str]]) -> Path:
    """A workbook as the reports write it: a Summary sheet without the columns, one sheet per category with the
    contract columns, then difference and the resolution columns; numbers typed as numbers, as Excel saves them."""
    book = Workbook()
    book.active.title = "Summary"
    book.active.append(["category", "count"])
    columns = [c for c in rows[0] if c not in RESOLUTION] + list(RESOLUTION)
    for category in dict.fromkeys(r["category"] for r in rows):
        sheet = book.create_sheet(category)
        sheet.append(columns)
        for r in rows:
            if r["category"] == category:
                sheet.append([int(r[c]) if c in ("source_line", "action_invoice") and r[c].isdigit() else r[c] or None
                              for c in columns])
    book.save(path)
    return path


def test_workbook_match_delivers_once(tmp_path: Path, sandbox) -> None:
    config, folder = first_run(tmp_path, sandbox.base_url)
    rows = report_rows(folder, tmp_path / "state.duckdb")
    row = fill(rows, "unmatched_payment", action="match", action_invoice="100015", action_note="employer paid")
    book = _workbook(tmp_path / "filled.xlsx", rows)
    before = len(ledger(sandbox.base_url))
    first = cli("resolve", "--config", str(config), "--by", "anne", "--out", str(tmp_path / "out"), str(book))
    assert first.returncode == 0, first.stdout + first.stderr
    assert len(ledger(sandbox.base_url)) == before + 1
    assert state_rows(tmp_path / "state.duckdb", "SELECT key, resolved_by, source_file FROM resolutions") == [
        (f"{row['break_key']}:resolve:100015", "anne", f"{book}#unmatched_payment")]
    again = cli("resolve", "--config", str(config), "--by", "anne", "--out", str(tmp_path / "out"), str(book))
    assert again.returncode == 0 and "1 unchanged" in again.stdout, again.stdout + again.stderr
    assert len(ledger(sandbox.base_url)) == before + 1


def test_dry_run_shows_and_changes_nothing(tmp_path: Path, sandbox) -> None:
    config, folder = first_run(tmp_path, sandbox.base_url)
    rows = report_rows(folder, tmp_path / "state.duckdb")
    fill(rows, "unmatched_payment", action="match", action_invoice="100015")
    fill(rows, "overpayment", action="refund", action_note="pay back 150.00")
    filled = write_filled(tmp_path / "filled.csv", rows)
    state = tmp_path / "state.duckdb"
    outbox = state_rows(state, "SELECT count(*) FROM outbox")
    before = len(ledger(sandbox.base_url))
    proc = cli("resolve", "--config", str(config), "--dry-run", "--out", str(tmp_path / "out"), str(filled))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 would be done" in proc.stdout and "match" in proc.stdout and "refund" in proc.stdout
    assert len(ledger(sandbox.base_url)) == before
    assert state_rows(state, "SELECT count(*) FROM resolutions") == [(0,)]
    assert state_rows(state, "SELECT count(*) FROM outbox") == outbox
    assert not (tmp_path / "out").exists()


def test_reopen_undoes_a_resolution_not_delivered_and_refuses_a_delivered_one(tmp_path: Path, sandbox) -> None:
    config, folder = first_run(tmp_path, sandbox.base_url)
    state = tmp_path / "state.duckdb"
    rows = report_rows(folder, state)
    fill(rows, "overpayment", action="explain", action_note="kept as credit")
    fill(rows, "unmatched_payment", action="match", action_invoice="100015")
    assert cli("resolve", "--config", str(config), str(write_filled(tmp_path / "a.csv", rows))).returncode == 0

    for r in rows:
        if r["action"]:
            r.update(action="reopen", action_invoice="", action_note="")
    proc = cli("resolve", "--config", str(config), "--out", str(tmp_path / "out"), str(write_filled(tmp_path / "b.csv", rows)))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cannot reopen: it was delivered to Amili as arm.paymentreservations" in proc.stdout
    assert state_rows(state, "SELECT category, action, state FROM resolutions ORDER BY resolved_at, action") == [
        ("overpayment", "explain", "reopened"), ("unmatched_payment", "match", "delivered"),
        ("overpayment", "reopen", "active")]

    fill(rows, "overpayment", action="refund", action_note="refunded 150.00")  # after the reopen: a new decision
    rows = [r for r in rows if r["category"] == "overpayment"]
    assert cli("resolve", "--config", str(config), str(write_filled(tmp_path / "c.csv", rows))).returncode == 0
    assert state_rows(state, "SELECT action, amount_minor, state FROM resolutions WHERE action = 'refund'") == [
        ("refund", 15_000, "active")]


def _next_month(day: dt.date) -> str:
    return f"{day.year + (day.month == 12):04d}-{day.month % 12 + 1:02d}"


def test_closed_breaks_are_resolved_at_month_end_then_never_back(tmp_path: Path, sandbox) -> None:
    config, folder = first_run(tmp_path, sandbox.base_url)
    rows = report_rows(folder, tmp_path / "state.duckdb")
    fill(rows, "unmatched_payment", action="explain", action_note="a gift card, booked by hand")
    fill(rows, "overpayment", action="refund", action_note="refund to the payer")
    fill(rows, "underpayment", action="write_off", action_note="bank fee")
    assert cli("resolve", "--config", str(config), str(write_filled(tmp_path / "f.csv", rows))).returncode == 0
    assert state_rows(tmp_path / "state.duckdb", "SELECT action, amount_minor FROM resolutions ORDER BY action") == [
        ("explain", None), ("refund", 15_000), ("write_off", 282_545)]

    month = cli("reconcile", "--config", str(config), "--period", PERIOD, "--out", str(tmp_path / "m"))
    assert month.returncode in (0, 1), month.stdout + month.stderr
    breaks = pl.read_parquet(tmp_path / "m" / f"period-{PERIOD}" / "breaks.parquet")
    closed = breaks.filter(pl.col("action").is_not_null()).sort("category")
    assert closed.select("category", "status", "action", "action_note").rows() == [
        ("overpayment", "resolved", "refund", "refund to the payer"),
        ("underpayment", "resolved", "write_off", "bank fee"),
        ("unmatched_payment", "resolved", "explain", "a gift card, booked by hand")]
    assert closed.get_column("resolved_by").to_list() == ["kari"] * 3

    # A month starting after the resolution: the explained payment (a kind carried until resolved) is gone.
    later = _next_month(dt.date.today())
    proc = cli("reconcile", "--config", str(config), "--period", later, "--no-readback", "--out", str(tmp_path / "m"))
    assert proc.returncode == 3, proc.stdout + proc.stderr  # the month has not ended: incomplete
    later_breaks = pl.read_parquet(tmp_path / "m" / f"period-{later}" / "breaks.parquet")
    assert "unpaid_invoice" in later_breaks.get_column("category").to_list()  # carried breaks do come forward
    keys = later_breaks.get_column("break_key").to_list()
    assert rows[[r["action"] for r in rows].index("explain")]["break_key"] not in keys



def test_write_off_is_an_arm_autoposting_where_the_creditor_posts_autopostings(tmp_path: Path) -> None:
    """An ARM creditor on autopostings: the 2.00 left on invoice A0 by a 998.00 payment is posted with the
    write-off method, once (state built row by row as the run stores it; delivery over real HTTP to a sandbox that
    knows only the method `writeoff`: the payment method would be refused)."""
    from etl.sandbox import EmbeddedSandbox, SandboxConfig

    with EmbeddedSandbox(SandboxConfig(autoposting_methods=("writeoff",))) as sandbox:
        _write_off_once(tmp_path, sandbox)


def _write_off_once(tmp_path: Path, sandbox: object) -> None:
    from etl.resolve import resolve_files
    from etl.store import open_store
    from tests.e2e.delivery_support import NOW, load, seed, write_config
    from tests.reconcile.support import invoice, payment, run

    config = load(write_config(tmp_path, sandbox.base_url, apis=("autopostings",)))
    seed(sandbox.base_url, 1)  # ARM holds document A0 (1000.00 NOK) of client 4200
    with open_store(config.state_path) as store:
        run(store, "r1", NOW)
        payment(store, "T-0", creditor="auto-no", amount_minor=99_800)
        invoice(store, "A0", dt.date(2026, 11, 30), creditor="auto-no", amount_minor=100_000)
        store.execute("INSERT INTO match_allocations VALUES ('r1', 'T-0', 'auto-no', 'A0', 99800)")
    store_break(config.state_path, "underpayment", "T-0", 99_800, "NOK", "A0", 100_000)
    filled = one_row(tmp_path / "filled.csv", "underpayment", "T-0", "write_off", "", "bank fee")
    before = ledger(sandbox.base_url)
    result = resolve_files(config, [filled], "kari", lambda: dt.datetime(2026, 12, 2, 8, tzinfo=dt.timezone.utc),
                           tmp_path / "out")
    assert result.exit_code == 0, result.rows
    new = [i for i in ledger(sandbox.base_url) if i not in before]
    assert [(i["api"], i["key"].endswith("/T-0:writeoff"), i["amount"]) for i in new] == [
        ("arm.autopostings", True, "2.00")], new
    again = resolve_files(config, [filled], "kari", lambda: dt.datetime(2026, 12, 3, tzinfo=dt.timezone.utc),
                          tmp_path / "out")
    assert again.exit_code == 0 and [r["outcome"] for r in again.rows] == ["unchanged"]
    assert len(ledger(sandbox.base_url)) == len(before) + 1


def test_amili_unreachable_leaves_the_match_to_deliver_on_the_next_resolve(tmp_path: Path, sandbox) -> None:
    import socket

    config, folder = first_run(tmp_path, sandbox.base_url)
    text = config.read_text(encoding="utf-8")
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    down = tmp_path / "down.toml"
    down.write_text(text.replace(sandbox.base_url, dead).replace("max_attempts = 6", "max_attempts = 1")
                    .replace("max_retry_time_s = 60", "max_retry_time_s = 1"), encoding="utf-8")
    rows = report_rows(folder, tmp_path / "state.duckdb")
    fill(rows, "unmatched_payment", action="match", action_invoice="100015")
    filled = write_filled(tmp_path / "filled.csv", rows)
    before = len(ledger(sandbox.base_url))

    away = cli("resolve", "--config", str(down), "--out", str(tmp_path / "out"), str(filled))
    assert away.returncode == 75, away.stdout + away.stderr
    assert "Amili unreachable" in away.stderr and "Traceback" not in away.stderr
    assert state_rows(tmp_path / "state.duckdb", "SELECT action, state FROM resolutions") == [("match", "active")]

    back = cli("resolve", "--config", str(config), "--out", str(tmp_path / "out"), str(filled))
    assert back.returncode == 0, back.stdout + back.stderr
    assert "1 unchanged" in back.stdout and "delivered 1 of 1" in back.stdout
    assert len(ledger(sandbox.base_url)) == before + 1
    assert state_rows(tmp_path / "state.duckdb", "SELECT state FROM resolutions") == [("delivered",)]


def test_the_runs_own_workbook_filled_in_delivers_once(tmp_path: Path, sandbox) -> None:
    """The workbook the run wrote, filled in on its category sheet (the drop-down's cell, the invoice typed as a
    number as Excel stores it), saved, and handed to resolve: one delivery, then nothing on a second read."""
    import openpyxl

    config, folder = first_run(tmp_path, sandbox.base_url)
    book_path = folder / "discrepancies.xlsx"
    book = openpyxl.load_workbook(book_path)
    sheet = book["Unmatched payment"]
    header = [c.value for c in sheet[1]]
    assert header[-4:] == list(RESOLUTION)
    key = sheet.cell(2, header.index("break_key") + 1).value
    assert key and sheet.cell(2, 1).value == "unmatched_payment"
    sheet.cell(2, header.index("action") + 1).value = "match"
    sheet.cell(2, header.index("action_invoice") + 1).value = 100015
    sheet.cell(2, header.index("action_note") + 1).value = "the customer's employer paid"
    filled = tmp_path / "filled.xlsx"
    book.save(filled)
    before = len(ledger(sandbox.base_url))
    first = cli("resolve", "--config", str(config), "--out", str(tmp_path / "out"), str(filled))
    assert first.returncode == 0, first.stdout + first.stderr
    assert len(ledger(sandbox.base_url)) == before + 1
    assert state_rows(tmp_path / "state.duckdb", "SELECT break_key, action, action_invoice, state FROM resolutions") == [
        (key, "match", "100015", "delivered")]
    again = cli("resolve", "--config", str(config), "--out", str(tmp_path / "out"), str(filled))
    assert again.returncode == 0 and "1 unchanged" in again.stdout, again.stdout + again.stderr
    assert len(ledger(sandbox.base_url)) == before + 1
