"""`amili-etl reconcile`: the month-end report from the state database (thin; logic in etl/reconcile/period.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from etl.cli.support import config_option, creditor_option

__all__ = ["reconcile"]


@click.command("reconcile", short_help="Month-end over every run of a month: breaks new, persisting or resolved.")
@config_option()
@click.option("--period", required=True, metavar="YYYY-MM", help="The month to close, e.g. 2026-11.")
@click.option("--out", type=click.Path(path_type=Path), metavar="DIR",
              help="Report folder (default: [output] dir of the config).")
@click.option("--no-readback", is_flag=True,
              help="Do not read Amili back: missing_in_amili, unknown_in_amili and settled amounts are then not "
                   "checked, last month's such breaks are carried as still open, and the month is incomplete (exit 3).")
@creditor_option()
def reconcile(config_path: Path | None, period: str, out: Path | None, no_readback: bool, creditor: str | None) -> None:
    """Month-end over every run of PERIOD: breaks aged and marked new / persisting / resolved.

    Reads Amili back (ADA creditor payments and payouts, ARM documents, Collection settlements up to 7 days after
    the month) for missing_in_amili, unknown_in_amili and settled_amount_mismatch, lists
    invoices due by the end of the period with nothing paid (unpaid_invoice), checks opening balance + movements
    = closing balance of every bank statement that carries balances, and writes OUT/period-YYYY-MM/
    (discrepancies.xlsx, discrepancies.csv, summary.json, breaks.parquet).

    Payments count in the month they were booked and invoices in the month they are due, whenever the run that
    read them happened; dry runs and runs that failed before sending anything do not count.

    Exits 0 when nothing is open, 1 when breaks are open, 3 when the month could not be checked in full (the month
    has not ended yet, a run of the period incomplete or none at all, --no-readback, or Collection payments still
    within the settlement lag: the reasons, with the day to rerun, are printed and in summary.json
    totals.incomplete_because), 75 when Amili could not be read back.
    """
    from etl.cli.support import load as _load, now as _now
    from etl.errors import EXIT_CLEAN, EXIT_DISCREPANCIES, EXIT_INPUT
    from etl.reconcile.period import period_bounds, reconcile_period
    from etl.reconcile.readback import read_back
    from etl.report.period_report import write_period_report
    from etl.store import open_store

    period_bounds(period)  # a bad --period fails before anything is opened
    config = _load(config_path, creditor)
    if not no_readback:
        from etl.config import check_transport

        check_transport(config)  # reading Amili back logs in: never over plain http to a remote host
        from etl.config import insecure_tls_warning

        if (warning := insecure_tls_warning(config)):
            click.echo(f"amili-etl: {warning}", err=True)
    now = _now()
    with open_store(config.state_path) as store:
        result = reconcile_period(store, config, period, None if no_readback else read_back, today=now.date())
        facts = {"period": period, "generated_at": now.isoformat(timespec="seconds"), "readback": not no_readback}
        folder, summary = write_period_report(store, result, out or config.output_dir, config, facts)
    t = summary["totals"]
    click.echo(f"period {period}: {summary['status']} ({t['runs']} run(s); breaks: {t['breaks_new']} new, "
               f"{t['breaks_persisting']} persisting, {t['breaks_resolved']} resolved)")
    for cat, n in summary["counts"].items():
        click.echo(f"  {cat:<26} {n:>6}")
    if not result.balances_checked:
        click.echo("  statement balances: not checked (no statement_balances table)")
    for reason in t["incomplete_because"].values():  # why the month is incomplete, and what to do about it
        click.echo(f"  incomplete: {reason}")
    click.echo(f"workbook: {folder / 'discrepancies.xlsx'}")
    code = {"clean": EXIT_CLEAN, "discrepancies": EXIT_DISCREPANCIES}.get(summary["status"], EXIT_INPUT)
    sys.exit(code)
