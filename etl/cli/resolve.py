"""`amili-etl resolve`: carry out the actions filled into report files (thin; logic in etl/resolve/)."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click

from etl.cli.support import config_option, creditor_option

__all__ = ["resolve"]


@click.command("resolve", short_help="Carry out what the accountant filled into a report: match, write off, refund, explain.")
@config_option()
@click.option("--by", default=None, metavar="NAME", help="Who resolves (default: the operating-system user).")
@click.option("--dry-run", is_flag=True, help="Show what would happen; record nothing, send nothing.")
@click.option("--out", type=click.Path(path_type=Path), metavar="DIR",
              help="Where resolve-<stamp>/ (outcome.csv, rejects.csv) goes (default: [output] dir of the config).")
@creditor_option()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def resolve(config_path: Path | None, by: str | None, dry_run: bool, out: Path | None, creditor: str | None,
            paths: tuple[Path, ...]) -> None:
    """Carry out every row of PATH... (filled discrepancies.csv files or workbooks) whose `action` is filled.

    \b
    match      the payment goes to action_invoice, delivered once to the creditor's API
    write_off  an under- or overpayment's difference is settled (an ARM write-off posting where
               the creditor posts autopostings, else recorded for the ledger)
    refund     an overpayment's over part (or a duplicate payment) is to be paid back
    explain    the break is closed with its action_note
    reopen     undoes a resolution not delivered yet

    A row that cannot be carried out is refused with the reason in OUT/resolve-<stamp>/rejects.csv; the other rows
    are carried out all the same. Reading the same file again changes nothing and sends nothing.

    Exits 0 when every filled row is done (or was before), 1 when rows were refused, 2 usage or configuration,
    3 a file unreadable, 4 a match not delivered yet (resolve again to deliver it), 75 Amili unreachable or the
    state locked by a run.
    """
    from etl.cli.support import load as _load, now as _now
    from etl.config import check_transport
    from etl.resolve import resolve_files

    config = _load(config_path, creditor)
    if not dry_run:
        check_transport(config)
    who = by or getpass.getuser()
    result = resolve_files(config, list(paths), who, _now, out or config.output_dir, dry_run=dry_run)
    done = sum(r["outcome"] in ("done", "would be done") for r in result.rows)
    refused = [r for r in result.rows if r["outcome"] == "refused"]
    unchanged = sum(r["outcome"] == "unchanged" for r in result.rows)
    for r in result.rows:
        if dry_run or r["outcome"] == "refused":
            click.echo(f"  {r['source_file']} row {r['source_row']}: {r['action']} {r['break_key']}: {r['outcome']}"
                       + (f" ({r['reason']})" if r["reason"] else ""))
    head = "dry run: nothing recorded, nothing sent; " if dry_run else ""
    click.echo(f"{head}{len(result.rows)} filled row(s): {done} {'would be done' if dry_run else 'done'}, "
               f"{unchanged} unchanged, {len(refused)} refused")
    if result.to_deliver:
        click.echo(f"delivered {result.delivered} of {result.to_deliver} match(es)")
    for line in result.not_delivered:
        click.echo(f"  not delivered: {line} (resolve again to deliver)")
    if result.unreachable:
        click.echo(f"amili-etl: Amili unreachable: {result.unreachable}", err=True)
    if result.rejects is not None:
        click.echo(f"rejects: {result.rejects}")
    if result.folder is not None:
        click.echo(f"outcome: {result.folder / 'outcome.csv'}")
    sys.exit(result.exit_code)
