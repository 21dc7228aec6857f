"""Operations commands: inbox, runs, show, rerun, config check and state export (thin; logic lives in etl/)."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Any

import click

from etl.cli.support import config_option as _config_option
from etl.cli.support import creditor_option as _creditor_option
from etl.cli.support import load as _load
from etl.terminal import format_time, verbosity_options

__all__ = ["OPS_COMMANDS"]


def _new_run_id() -> str:
    from etl.cli.support import now as _now
    from etl.pipeline import new_run_id

    return new_run_id(_now(), secrets.token_hex(2))


def _open_read(config: Any) -> Any:
    """The state database, brought up to date (a missing one is an error: there is no history yet)."""
    from etl.errors import ConfigError
    from etl.store import open_store

    from etl.history import mark_interrupted

    if not config.state_path.exists():
        raise ConfigError(f"{config.state_path}: no state database yet (nothing has run with this configuration)")
    store = open_store(config.state_path)
    mark_interrupted(store)  # we hold the file: a run still 'running' was killed
    return store


@click.command(short_help="Nightly: run every new file in FOLDER, then archive it or move it to failed/.")
@_config_option()
@click.option("--out", type=click.Path(path_type=Path), metavar="DIR",
              help="Report folder (default: [output] dir of the config).")
@click.option("--force", is_flag=True, help="Read files again even when an earlier run imported the same content "
                                            "(nothing is sent twice either way).")
@_creditor_option()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@verbosity_options
def inbox(config_path: Path | None, out: Path | None, force: bool, creditor: str | None, folder: Path) -> None:
    """Nightly: run every new file in FOLDER, then move each to FOLDER/archive/YYYY-MM-DD/ or FOLDER/failed/.

    New means content never seen before (sha256). Invoice exports are read before bank files. A file still being
    written (its size changes within [inbox] settle_s, or a .part/.tmp name) is left for the next run. A file that
    fails (unreadable, unrecognised, control totals that do not tie) goes to failed/ with <name>.error.txt saying
    why. Files whose items could not all be delivered (exit 4 or 75) stay in FOLDER for the next run. Only one
    run at a time: a second waits [inbox] lock_wait_s for the lock, then exits 75. Nothing new: says so, exits 0.
    """
    from etl.cli.support import now as _now, print_summary as _print_summary
    from etl.inbox import describe, run_inbox

    from etl.config import check_transport

    config = _load(config_path, creditor)
    check_transport(config)  # before the lock, the scan and any move: plain http to a remote host is refused
    result = run_inbox(config, folder, out or config.output_dir, force, _now, _new_run_id())
    if result.run is not None:
        _print_summary(result.run, result.run.run_dir / "discrepancies.xlsx")
    else:
        click.echo(f"inbox {result.folder}: nothing new")
    from etl.cli.support import masked as _masked

    for d in describe(result.placements, result.folder):
        where = f" -> {_masked(d['moved_to'])}" if d["moved_to"] else ""
        click.echo(f"  {d['outcome']:<16} {_masked(d['file'])}{where}  ({_masked(d['note'])})")
    for p, why in result.busy:
        click.echo(f"  {'left':<16} {_masked(p.name)}  ({why}; the next run takes it)")
    sys.exit(result.exit_code)


@click.command(short_help="List the latest runs: times, files, items per state, status, exit code.")
@_config_option(demo_fallback=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="How many runs, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@_creditor_option()
def runs(config_path: Path | None, limit: int, as_json: bool, creditor: str | None) -> None:
    """List the latest runs: id, started (UTC, to the second), how long it took, files, items per state, status
    and exit code (--json has the finish time too).

    Items: planned (this run delivered or tried to), confirmed, rejected, open (no final answer yet: a rerun
    delivers them), skipped (confirmed by an earlier run, not sent again) and conflict (same key, other data).
    """
    with _open_read(_load(config_path, creditor, demo_fallback=True)) as store:
        from etl.history import list_runs

        frame = list_runs(store, limit)
    if as_json:
        for row in frame.iter_rows(named=True):
            click.echo(json.dumps(row, default=str))
        return
    cols = ("run_id", "started_at", "took", "mode", "files", "planned", "confirmed", "rejected", "open",
            "skipped", "status", "exit_code")
    heads = ("run id", "started", "took", "mode", "files", "planned", "confirmed", "rejected", "open",
             "skipped", "status", "exit")
    widths = (21, 20, 4, 7, 5, 7, 9, 8, 4, 7, 13, 4)  # one space apart: 120 columns
    click.echo(" ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)).rstrip())
    for row in frame.iter_rows(named=True):
        # The start in UTC to the second, how long it took ('-' when it never finished); the rest in full.
        took = (f"{(row['finished_at'] - row['started_at']).total_seconds():.0f} s"
                if row["finished_at"] is not None and row["started_at"] is not None else "-")
        cells = [format_time(row[c]) if c == "started_at" else took if c == "took" else "-" if row[c] is None
                 else str(row[c]) for c in cols]
        click.echo(" ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    if frame.height == 0:
        click.echo("no runs yet")


@click.command(short_help="Show one run: status, files, what was sent, where its reports are.")
@_config_option(demo_fallback=True)
@_creditor_option()
@click.argument("run_id")
def show(config_path: Path | None, creditor: str | None, run_id: str) -> None:
    """Show one run (RUN_ID or a unique prefix): status, files, what was sent, and where its reports are."""
    from etl.history import find_run, run_files

    config = _load(config_path, creditor, demo_fallback=True)
    with _open_read(config) as store:
        run = find_run(store, run_id)
        files = run_files(store, run.run_id)
    click.echo(f"run {run.run_id}: {run.status} (exit {run.exit_code if run.exit_code is not None else '-'})")
    click.echo(f"  mode      {run.mode}{' (forced)' if run.forced else ''}"
               + (f", rerun of {run.rerun_of}" if run.rerun_of else ""))
    click.echo(f"  started   {format_time(run.started_at)}")
    click.echo(f"  finished  {format_time(run.finished_at) if run.finished_at else '- (interrupted or still running)'}")
    click.echo(f"  config    {run.config_path}")
    from etl.cli.support import masked as _masked

    for f in files.iter_rows(named=True):
        click.echo(f"  file      {_masked(f['path'])}  {f['format'] or '-'} {f['status']} rows={f['rows']} valid={f['valid']} "
                   f"sha256={f['sha256'][:12]}" + (f"  now at {_masked(f['moved_to'])}" if f["moved_to"] else ""))
    for s in run.skipped:
        click.echo(f"  skipped   {_masked(s['path'])}  (already imported by run {s['run_id']})")
    if run.summary and run.summary.get("error"):
        click.echo(f"  error     {_masked(run.summary['error'])}")
    summary = run.summary or {}
    for cat, n in (summary.get("counts") or {}).items():
        click.echo(f"  found     {cat}: {n}")
    sent = {k: v for k, v in (summary.get("sent") or {}).items() if v}
    click.echo("  sent      " + (", ".join(f"{k} {v}" for k, v in sent.items()) or "nothing"))
    run_dir = Path(run.out_dir) if run.out_dir else None
    paths = [("summary", run_dir / "summary.json" if run_dir else None),
             ("workbook", run_dir / "discrepancies.xlsx" if run_dir else None),
             ("csv", run_dir / "discrepancies.csv" if run_dir else None),
             ("rejects", run_dir / "rejects" if run_dir else None),
             ("log", Path(run.log_path) if run.log_path else None)]
    for label, p in paths:
        if p is not None and p.exists():
            click.echo(f"  {label:<9} {p}")


@click.command(short_help="Run RUN_ID again as a new run; what was confirmed is never sent again.")
@_config_option()
@click.option("--only-failed", is_flag=True,
              help="Do not read the files again: only deliver the run's items that have no final answer yet.")
@click.option("--out", type=click.Path(path_type=Path), metavar="DIR",
              help="Report folder (default: [output] dir of the config).")
@_creditor_option()
@click.argument("run_id")
@verbosity_options
def rerun(config_path: Path | None, only_failed: bool, out: Path | None, creditor: str | None, run_id: str) -> None:
    """Run RUN_ID again as a new run: what was confirmed is never sent again.

    By default the run's files are read again (found by content hash, wherever the inbox moved them) and the whole
    pipeline runs with --force, so the new run's report is complete. With --only-failed nothing is read: the
    items of RUN_ID without a final answer (after a crash, a timeout, exit 4 or 75) are delivered, each looked up
    in Amili first when an earlier attempt may have got through.
    """
    from etl.cli.support import now as _now, print_summary as _print_summary
    from etl.history import find_run, locate_inputs, redeliver
    from etl.lock import state_lock
    from etl.pipeline import RunRequest, run_pipeline

    from etl.config import check_transport

    config = _load(config_path, creditor)
    check_transport(config)
    out_dir = out or config.output_dir
    with state_lock(config.state_path, config.inbox.lock_wait_s):
        with _open_read(config) as store:
            run = find_run(store, run_id)
            inputs = [] if only_failed else locate_inputs(store, run)
        new_id = _new_run_id()
        if only_failed:
            summary, code = redeliver(config, run, new_id, out_dir, _now)
            click.echo(f"run {new_id} (rerun of {run.run_id}): {summary['status']}")
            sent = {k: v for k, v in summary["sent"].items() if v}
            click.echo("  sent: " + (", ".join(f"{k} {v}" for k, v in sent.items()) or "nothing (nothing was left)"))
            click.echo(f"summary: {out_dir / new_id / 'summary.json'}")
            from etl.cli.support import print_error

            print_error(summary)  # why Amili could not be reached, as stderr's last line
            sys.exit(code)
        result = run_pipeline(RunRequest(config=config, inputs=tuple(inputs), out_dir=out_dir, run_id=new_id,
                                         clock=_now, mode="rerun", force=True, rerun_of=run.run_id))
    _print_summary(result, result.run_dir / "discrepancies.xlsx")
    sys.exit(result.exit_code)


@click.group("config", short_help="Check an amili-etl.toml: every problem at once, then the logins.")
def config_group() -> None:
    """Check an amili-etl.toml: keys, secrets, URLs and logins (see docs/configuration.md)."""


@config_group.command("check", short_help="List every problem of the file at once, then log in to each endpoint.")
@_config_option()
@click.option("--no-auth", is_flag=True, help="Check the file only; do not log in to the endpoints.")
def config_check(config_path: Path | None, no_auth: bool) -> None:
    """Validate the configuration and log in to every configured endpoint.

    Reports every problem, each with its key path: unknown keys (with a "did you mean"), missing secrets
    (environment variables named in the file), URLs that are not http(s). Then fetches a token from each
    creditor's token endpoint and ADA login. Exits 0 when all is well, 2 on a configuration problem, 75 when an
    endpoint could not be reached.
    """
    from etl.cli.support import find_config
    from etl.config_check import check_config

    config_path = find_config(config_path)
    problems, logins, code = check_config(config_path, auth=not no_auth)
    for p in problems:
        click.echo(f"problem: {p}")
    for line in logins:
        click.echo(line)
    click.echo(f"{config_path}: " + ("ok" if code == 0 else f"{len(problems)} problem(s)" if problems else "login failed"))
    sys.exit(code)


@click.group("state", short_help="The state database: export it for backup and audit.")
def state_group() -> None:
    """The state database: export it for backup and audit."""


@state_group.command("export", short_help="Write every state table to FOLDER as Parquet, with a manifest.")
@_config_option()
@_creditor_option()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
def state_export(config_path: Path | None, creditor: str | None, folder: Path) -> None:
    """Write every table of the state database to FOLDER/<table>.parquet, plus FOLDER/manifest.json.

    Nothing is masked (it is an audit copy: keep it as safe as the state file); no secret is ever in it.
    """
    from etl.store.export import export_state

    config = _load(config_path, creditor)
    with _open_read(config) as store:
        manifest = export_state(store, folder)
    for table, rows in manifest["tables"].items():
        click.echo(f"  {table:<22} {rows:>9} rows")
    click.echo(f"exported to {folder} (schema version {manifest['schema_version']})")


OPS_COMMANDS = (inbox, runs, show, rerun, config_group, state_group)
