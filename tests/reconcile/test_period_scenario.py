"""Month-end by accounting period, the way it happens: Norway on ARM and Sweden on ADA, nightly runs over real HTTP
against the sandbox, bank files booked in November imported in December, failed runs, a dry run, a late import in
January and the month-end of November rerun after it; `amili-etl run` and `amili-etl reconcile` in-process with
the commands' clock set (etl.cli.app._now, etl.cli.support.now), so every date is the scenario's, never the machine's.

Night 1 (1 December) is the shipped sample (booked 19-20 November) plus a SpareBank 1 export booked on 30 November
paying invoice 100015; night 2 (6 December) brings an export booked on 27 November paying 100016 and a BgMax file
booked on 30 November with the rest of the partly paid Swedish invoice. November's month-end on 10 December lists
none of them as unpaid and is not incomplete. Then a mistyped --bank path, a run without the secrets and a dry run
of a new file (booked 29 November, paying the two invoices still unpaid) leave November's month-end exactly as it
was; the real import of that file on 5 January, and November's month-end rerun, show both invoices paid. January's
month-end on 6 January is incomplete and says to rerun on 1 February.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from tests.conftest import SAMPLE, write_sample_config

_spec = importlib.util.spec_from_file_location("sample_generate", SAMPLE / "generate.py")
gen = importlib.util.module_from_spec(_spec)
sys.modules["sample_generate"] = gen  # dataclasses look their module up while the module runs
_spec.loader.exec_module(gen)  # type: ignore[union-attr]

SECRETS = {"AMILI_NO_CLIENT_ID": "sandbox", "AMILI_NO_CLIENT_SECRET": "sandbox", "AMILI_SE_ADA_API_CODE": "sandbox"}
NO_SECRETS = {k: None for k in SECRETS}


def _invoices() -> dict[str, dict[str, str]]:
    no = pl.read_excel(SAMPLE / gen.NO_INVOICES_FILE, infer_schema_length=0).to_dicts()
    se = pl.read_csv(SAMPLE / gen.SE_INVOICES_FILE, infer_schema_length=0).to_dicts()
    return {r["invoice_number"]: r for r in no + se}


def _minor(text: str) -> int:
    return int(text.replace(".", ""))


def _sb1(path: Path, booked: dt.date, pays: list[tuple[str, int]]) -> None:
    """A SpareBank 1 export: one incoming row per (invoice number, amount), booked on `booked`."""
    rows = [gen.BankRow(booked, f"Faktura {number}", amount, gen.NO_ACCOUNT, "12345678903") for number, amount in pays]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([gen.SB1_HEADER, *map(gen.sb1_line, rows)]) + "\n", encoding="utf-8")


def _bgmax(path: Path, booked: dt.date, pays: list[tuple[str, int]], serial: str) -> None:
    """A BgMax file that ties: one SEK deposit dated `booked`, one payment per (KID, amount)."""
    day = booked.strftime("%Y%m%d")
    lines = [gen.bg_tk01(day + "054211123456", "P"), gen.bg_tk05(gen.SE_BANKGIRO, "SEK")]
    for i, (kid, amount) in enumerate(pays):
        lines += [gen.bg_tk20(gen.BgPayment("0", kid, "2", amount, "1", f"{serial}{i:03d}", None, "Karin Holmgren")),
                  gen.bg_tk26("Karin Holmgren")]
    lines += [gen.bg_tk15(gen.SE_BANK_ACCOUNT, day, serial[-2:], sum(a for _, a in pays), "SEK", len(pays)),
              gen.bg_tk70(len(pays), 0, 0, 1)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(line + "\r\n" for line in lines).encode("iso-8859-1"))


class Cli:
    """`amili-etl` in-process, its clock set to the scenario's day."""

    def __init__(self, config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.config, self.monkeypatch, self.runner = config, monkeypatch, CliRunner()

    def __call__(self, when: dt.datetime, *args: str, env: dict[str, str | None] | None = None) -> Any:
        from etl.cli import cli

        clock = lambda: when  # noqa: E731
        self.monkeypatch.setattr("etl.cli.app._now", clock)
        self.monkeypatch.setattr("etl.cli.support.now", clock)
        return self.runner.invoke(cli, [args[0], "--config", str(self.config), *args[1:]], env=env or SECRETS)


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(5, 15), tzinfo=dt.timezone.utc)


def _month_end(tmp: Path) -> dict[str, Any]:
    """What November's month-end says: its summary and its open breaks (discrepancies.csv), to compare."""
    folder = tmp / "month" / "period-2026-11"
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    with (folder / "discrepancies.csv").open(encoding="utf-8") as fh:
        rows = sorted(tuple(r.items()) for r in csv.DictReader(fh))
    return {"status": summary["status"], "counts": summary["counts"], "runs": summary["totals"]["runs"],
            "incomplete_because": summary["totals"]["incomplete_because"], "rows": rows}


def _unpaid(tmp: Path) -> set[str]:
    with (tmp / "month" / "period-2026-11" / "discrepancies.csv").open(encoding="utf-8") as fh:
        return {r["invoice_number"] for r in csv.DictReader(fh) if r["category"] == "unpaid_invoice"}


def test_month_end_follows_booking_dates_and_only_real_work(tmp_path: Path, sandbox, monkeypatch) -> None:
    inv = _invoices()
    amount = {n: _minor(r["amount_incl_vat"]) for n, r in inv.items()}
    config = write_sample_config(tmp_path, sandbox.base_url)
    cli = Cli(config, monkeypatch)
    reconcile = ("reconcile", "--period", "2026-11", "--out", str(tmp_path / "month"))

    night1 = tmp_path / "night1"
    shutil.copytree(SAMPLE / "no", night1 / "no")
    shutil.copytree(SAMPLE / "se", night1 / "se")
    _sb1(night1 / "no/sparebank1_2026-11-30.csv", dt.date(2026, 11, 30), [("100015", amount["100015"])])
    first = cli(_at(dt.date(2026, 12, 1)), "run", "--invoices", str(night1), "--bank", str(night1))
    assert first.exit_code == 1, first.output  # the sample's planted problems

    night2 = tmp_path / "night2"
    _sb1(night2 / "no/sparebank1_2026-11-27.csv", dt.date(2026, 11, 27), [("100016", amount["100016"])])
    under = inv[gen.UNDERPAID_INVOICE]
    rest = amount[gen.UNDERPAID_INVOICE] - (amount[gen.UNDERPAID_INVOICE] * gen.UNDERPAID_PERCENT + 50) // 100
    _bgmax(night2 / "se/bgmax_2026-11-30.txt", dt.date(2026, 11, 30), [(under["kid"], rest)], "900000001")
    second = cli(_at(dt.date(2026, 12, 6)), "run", "--bank", str(night2))
    assert second.exit_code == 0, second.output  # every row matched and delivered

    # November's month-end on 10 December: the November bookings imported in December count in November.
    closing = cli(_at(dt.date(2026, 12, 10)), *reconcile)
    assert closing.exit_code == 1, closing.output
    before = _month_end(tmp_path)
    assert before["status"] == "discrepancies" and before["incomplete_because"] == {}, before
    assert before["runs"] == 2 and "incomplete" not in closing.output
    unpaid = _unpaid(tmp_path)
    assert unpaid.isdisjoint({"100015", "100016", gen.UNDERPAID_INVOICE}), unpaid
    assert "missing_in_amili" not in before["counts"] and "unknown_in_amili" not in before["counts"]
    # What is still unpaid really is: nothing of it was paid by any payment booked in November.
    from etl.store import open_store

    with open_store(tmp_path / "state.duckdb") as store:
        allocated = set(store.frame("SELECT DISTINCT invoice_number FROM match_allocations").get_column("invoice_number"))
    assert unpaid and unpaid.isdisjoint(allocated)
    still_no = sorted(n for n in unpaid if n.startswith("1"))[0]
    still_se = sorted(n for n in unpaid if n.startswith("7"))[0]

    # A file booked on 29 November paying one still-unpaid invoice of each creditor, given to runs that do no work.
    late = tmp_path / "late"
    _sb1(late / "no/sparebank1_2026-11-29.csv", dt.date(2026, 11, 29), [(still_no, amount[still_no])])
    _bgmax(late / "se/bgmax_2026-11-29.txt", dt.date(2026, 11, 29), [(inv[still_se]["kid"], amount[still_se])],
           "900000002")
    typo = cli(_at(dt.date(2026, 12, 7)), "run", "--bank", str(tmp_path / "lat"))
    assert typo.exit_code == 3 and "no such file or folder" in typo.output, typo.output
    no_secret = cli(_at(dt.date(2026, 12, 7)), "run", "--bank", str(late), env=NO_SECRETS)
    assert no_secret.exit_code == 2 and "AMILI_NO_CLIENT_ID" in no_secret.output, no_secret.output
    dry = cli(_at(dt.date(2026, 12, 7)), "run", "--dry-run", "--bank", str(late))
    # A pre-flight check: clean input exits 0 and says what it would send; nothing is pending.
    assert dry.exit_code == 0, dry.output
    assert "would send: ada.creditor-payments 1, arm.paymentreservations 1" in dry.output
    assert ": clean" in dry.output and "no discrepancies" in dry.output, dry.output
    again = cli(_at(dt.date(2026, 12, 10)), *reconcile)
    assert again.exit_code == 1 and _month_end(tmp_path) == before  # status and breaks unchanged

    # The real import of the file, in January; November's month-end rerun reflects it.
    january = cli(_at(dt.date(2027, 1, 5)), "run", "--bank", str(late))
    assert january.exit_code == 0, january.output
    assert "arm.paymentreservations" in january.output and "ada.creditor-payments" in january.output
    rerun = cli(_at(dt.date(2027, 1, 6)), *reconcile)
    assert rerun.exit_code == 1, rerun.output
    after = _month_end(tmp_path)
    assert _unpaid(tmp_path) == unpaid - {still_no, still_se}
    assert after["incomplete_because"] == {} and after["runs"] == 3
    assert {k: v for k, v in after["counts"].items() if k != "unpaid_invoice"} == {
        k: v for k, v in before["counts"].items() if k != "unpaid_invoice"}

    # January has not ended on 6 January: incomplete, and it says when to rerun.
    current = cli(_at(dt.date(2027, 1, 6)), "reconcile", "--period", "2027-01", "--out", str(tmp_path / "month"))
    assert current.exit_code == 3, current.output
    assert "incomplete: the month has not ended: rerun on or after 2027-02-01" in current.output
