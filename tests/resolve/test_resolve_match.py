"""The accountant matches an unmatched payment in discrepancies.csv; resolve delivers it once over real HTTP; a second
resolve sends nothing; the month-end shows the break resolved with the note."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tests.resolve.support import (PERIOD, cli, fill, first_run, ledger, read_csv, report_rows, state_rows,
                                   write_filled)

INVOICE = "100015"  # nordlys-no, 4609.88 NOK, nothing paid on it in the sample


def test_match_delivers_once_and_month_end_shows_it(tmp_path: Path, sandbox) -> None:
    config, run_folder = first_run(tmp_path, sandbox.base_url)
    state = tmp_path / "state.duckdb"
    rows = report_rows(run_folder, state)
    row = fill(rows, "unmatched_payment", action="match", action_invoice=INVOICE,
               action_note="paid by the customer's employer")
    filled = write_filled(tmp_path / "filled.csv", rows)
    before = ledger(sandbox.base_url)

    first = cli("resolve", "--config", str(config), "--out", str(tmp_path / "out"), str(filled))
    assert first.returncode == 0, first.stdout + first.stderr
    new = [i for i in ledger(sandbox.base_url) if i not in before]
    assert len(new) == 1, new
    assert INVOICE in str(new[0]) and row["break_key"] in str(new[0])
    who = state_rows(state, "SELECT action, action_invoice, resolved_by, state, source_row FROM resolutions")
    assert who == [("match", INVOICE, "kari", "delivered", rows.index(row) + 2)]

    again = cli("resolve", "--config", str(config), "--out", str(tmp_path / "out"), str(filled))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 unchanged" in again.stdout
    assert len(ledger(sandbox.base_url)) == len(before) + 1
    assert state_rows(state, "SELECT count(*), max(attempts) FROM outbox WHERE key LIKE '%:resolve:%'") == [(1, 1)]

    month = cli("reconcile", "--config", str(config), "--period", PERIOD, "--out", str(tmp_path / "month"))
    assert month.returncode in (0, 1), month.stdout + month.stderr
    breaks = pl.read_parquet(tmp_path / "month" / f"period-{PERIOD}" / "breaks.parquet")
    mine = breaks.filter(pl.col("break_key") == row["break_key"]).to_dicts()
    assert [(b["status"], b["action"], b["action_note"], b["resolved_by"]) for b in mine] == [
        ("resolved", "match", "paid by the customer's employer", "kari")]
    assert "missing_in_amili" not in set(breaks.get_column("category"))  # the read-back found the match
    open_csv = read_csv(tmp_path / "month" / f"period-{PERIOD}" / "discrepancies.csv")
    assert row["source_line"] not in {r["source_line"] for r in open_csv if r["category"] == "unmatched_payment"}
