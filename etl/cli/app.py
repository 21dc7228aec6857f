"""The amili-etl command line: thin click commands that parse options and call the pipeline."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Any

import click

from etl import __version__
from etl.cli.support import creditor_option
from etl.cli.support import load as _load
from etl.cli.support import masked as _masked
from etl.cli.support import now as _now
from etl.cli.support import print_summary as _print_summary
from etl.errors import EXIT_USAGE, EtlError
from etl.terminal import end_open_line, verbosity_options

__all__ = ["main", "cli"]


class _Group(click.Group):
    """A click group that turns every known failure into one line and its exit code: no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:  # a usage error: one line naming the command and where help is
            where = exc.ctx.command_path if isinstance(exc, click.UsageError) and exc.ctx else "amili-etl"
            _error_line(f"{exc.format_message()} (see `{where} --help`)")
            ctx.exit(exc.exit_code)
        except EtlError as exc:
            _error_line(_masked(str(exc)))
            ctx.exit(exc.exit_code)
        except Exception as exc:  # noqa: BLE001 - a disk or database failure outside a run: one line, exit 70
            err = _machine_failure(exc)
            if err is None:
                raise
            _error_line(_masked(str(err)))
            ctx.exit(err.exit_code)


def _error_line(text: str) -> None:
    """The failure's one line on stderr, on a line of its own (after a stage the terminal shows as started)."""
    end_open_line()
    click.echo(f"amili-etl: error: {text}", err=True)


def _name_masked(message: str | None, path: str) -> str | None:
    """`message` with the file's name in it masked (the rest, raw values quoted, left as written)."""
    name = Path(path.split("#")[0]).name
    return message.replace(name, _masked(name)) if message and name else message


def _machine_failure(exc: Exception) -> EtlError | None:
    """A failure of the disk or the state database as a one-line InternalError (70); None for anything else."""
    import errno

    import duckdb

    from etl.errors import InternalError

    if isinstance(exc, duckdb.Error):
        line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if "Could not set lock" in line:
            from etl.store.db import state_failure

            return state_failure(Path("the state database"), exc)
        return InternalError(f"the state database failed: {line}")
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else "-"
        full = exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
        return InternalError(f"{where}: cannot write: " + (f"the disk is full ({exc.strerror})" if full
                                                            else (exc.strerror or str(exc))))
    return None


def _config_option(required: bool) -> Any:
    from etl.cli.support import config_option

    return config_option()  # never required: ./amili-etl.toml when --config is not given


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="amili-etl")
@verbosity_options
def cli() -> None:
    """Read Nordic bank and invoice files, match payments to invoices, deliver them to Amili exactly once,
    and reconcile bank, ledger and Amili into a discrepancy report.

    Exit codes: 0 clean; 1 discrepancies found; 2 usage or configuration error; 3 input unreadable or run
    incomplete; 4 some items not delivered (a rerun delivers them); 70 internal failure (a corrupt state file, a
    full disk, the state file deleted during a run, a bug: alert a person); 75 Amili unreachable or rate-limited,
    or another run holds the state's lock (run again later).
    """


def _run(config: Any, inputs: tuple[Path, ...], out: Path, dry_run: bool, mode: str, force: bool = False) -> Any:
    from etl.pipeline import RunRequest, new_run_id, run_pipeline

    now = _now()
    req = RunRequest(config=config, inputs=inputs, out_dir=out, run_id=new_run_id(now, secrets.token_hex(2)),
                     clock=_now, dry_run=dry_run, mode=mode, force=force)
    return run_pipeline(req)




@cli.command(short_help="Run everything on the shipped sample data against an embedded sandbox.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("reports"), show_default=True, metavar="DIR",
              help="Where the run folder and the demo's state go.")
@verbosity_options
def demo(out: Path) -> None:
    """Run everything on the shipped sample_data against an embedded sandbox.

    Starts the Amili sandbox on a free 127.0.0.1 port, runs the whole pipeline over real HTTP, writes
    OUT/<run_id>/ and prints a summary. State (ours and the sandbox's) lives in OUT/demo-state/, so a
    second demo with the same --out finds everything delivered and sends nothing. Exits 1: the sample
    data has problems planted on purpose.
    """
    from etl.bundled import bundled_dir
    from etl.config import with_sandbox
    from etl.sandbox import EmbeddedSandbox, SandboxConfig
    from etl.starter import write_demo_config

    sample = bundled_dir("sample_data")
    state_dir = out / "demo-state"
    state_dir.mkdir(parents=True, exist_ok=True)
    sandbox_state = state_dir / "sandbox-state.json"
    # A config of the demo's own state beside it: `runs` and `show` read the demo's history through it.
    config = _load(write_demo_config(sample / "amili-etl.toml", state_dir))
    seed = None if sandbox_state.exists() else sample / "sandbox_seed.json"
    with EmbeddedSandbox(SandboxConfig(state_file=sandbox_state, seed_file=seed)) as sandbox:
        result = _run(with_sandbox(config, sandbox.base_url), (sample,), out, False, "demo", force=True)
    _print_summary(result, result.run_dir / "discrepancies.xlsx")
    from etl.cli.support import demo_next_steps

    demo_next_steps(config.path, result.run_id)
    sys.exit(result.exit_code)


@cli.command(short_help="Read, validate, match, deliver and reconcile files; write OUT/<run_id>/.")
@_config_option(required=True)
@click.option("--bank", "bank", multiple=True, type=click.Path(path_type=Path), metavar="PATH",
              help="Bank files or folders (OCR giro, BgMax, camt, MT940, CSV/Excel). Repeatable.")
@click.option("--invoices", "invoices", multiple=True, type=click.Path(path_type=Path), metavar="PATH",
              help="Invoice exports (CSV/Excel), files or folders. Repeatable.")
@click.option("--sandbox", is_flag=True, help="Start the embedded sandbox on a free loopback port and send there.")
@click.option("--sandbox-seed", type=click.Path(path_type=Path, exists=True, dir_okay=False), metavar="FILE",
              help="A seed file for the embedded sandbox (cases and invoices that exist at Amili).")
@click.option("--dry-run", is_flag=True, help="Plan and validate everything, send nothing.")
@click.option("--force", is_flag=True, help="Read files an earlier run imported (same sha256) again; without it they "
                                            "are skipped with a note. Nothing is sent twice either way.")
@click.option("--out", type=click.Path(path_type=Path), metavar="DIR",
              help="Report folder (default: [output] dir of the config).")
@creditor_option()
@verbosity_options
def run(config_path: Path, bank: tuple[Path, ...], invoices: tuple[Path, ...], sandbox: bool,
        sandbox_seed: Path | None, dry_run: bool, force: bool, out: Path | None, creditor: str | None) -> None:
    """Read, validate, match, deliver and reconcile the given files; write OUT/<run_id>/.

    Files are recognised by their content, so --bank and --invoices may both hold mixed folders.
    """
    from etl.config import with_sandbox
    from etl.errors import ConfigError

    if not bank and not invoices:
        raise ConfigError("nothing to do: give --bank and/or --invoices")
    if sandbox_seed and not sandbox:
        raise ConfigError("--sandbox-seed needs --sandbox")
    config = _load(config_path, creditor)
    inputs = tuple(invoices) + tuple(bank)
    out_dir = out or config.output_dir
    if sandbox:
        from etl.sandbox import EmbeddedSandbox, SandboxConfig

        with EmbeddedSandbox(SandboxConfig(seed_file=sandbox_seed)) as sb:
            result = _run(with_sandbox(config, sb.base_url), inputs, out_dir, dry_run, "dry-run" if dry_run else "run", force)
    else:
        result = _run(config, inputs, out_dir, dry_run, "dry-run" if dry_run else "run", force)
    _print_summary(result, result.run_dir / "discrepancies.xlsx")
    if dry_run:
        click.echo("dry run: nothing was sent; would send: " +
                   (", ".join(f"{api} {n}" for api, n in sorted(result.planned.items())) or "nothing"))
        for line in getattr(result, "would_send", []):
            click.echo(line)
    sys.exit(result.exit_code)


@cli.command(short_help="Read and validate files only: rejects written, nothing sent.")
@click.option("--json", "as_json", is_flag=True, help="Print the contract's JSON instead of a table.")
@_config_option(required=False)
@click.option("--out", type=click.Path(path_type=Path), metavar="DIR",
              help="Where rejects/ goes (default: reports/ or the config's).")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(as_json: bool, config_path: Path | None, out: Path | None, paths: tuple[Path, ...]) -> None:
    """Read and validate PATH... (files or folders) only: rejects are written, nothing is sent.

    Exits 0 when every file is fine, 1 when rows were rejected, 3 when a file is unreadable,
    unrecognised or held back.
    """
    from etl.bundled import bundled_dir
    from etl.errors import EXIT_CLEAN, EXIT_DISCREPANCIES, EXIT_INPUT
    from etl.mapping import load_mappings
    from etl.money import format_minor
    from etl.inputs import read_inputs  # not etl.pipeline: validate needs none of delivery / matching

    from etl.cli.support import CONFIG_NAME

    config = _load(config_path) if config_path or Path(CONFIG_NAME).is_file() else None
    mapping_dirs = list(config.mapping_dirs) if config else [bundled_dir("mappings")]
    outcomes = read_inputs(paths, load_mappings(mapping_dirs), config=config)
    # The run id format of etl.pipeline.new_run_id (importing the pipeline would cost 0.4 s here).
    run_dir = (out or Path("reports")) / ("validate-" + _now().strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2))
    files = []
    for f in outcomes:
        if f.rejects.height and f.result.raw.height:
            from etl.report import write_rejects  # only when there are rejects to write

            write_rejects(f.result.raw, f.rejects, run_dir / "rejects", f.display)
        pay = f.valid if f.result.kind == "payments" else f.valid.head(0)
        currencies = sorted(f.valid.get_column("currency").drop_nulls().unique().to_list()) if f.valid.height else []
        files.append({
            "path": f.display, "format": f.result.format, "rows": f.result.rows.height, "valid": f.valid.height,
            "rejected": f.rejects.get_column("source_line").n_unique() if f.rejects.height else 0,
            "status": f.status,
            "total_amount": format_minor(int(pay.get_column("amount_minor").sum())) if f.result.kind == "payments" else None,
            "currency": ",".join(currencies) or None, "message": f.result.message or None,
        })
    if as_json:
        # File names masked like the table and the run log (a name may carry a national id); `files` keeps the order
        # of the paths given (a folder's files sorted), so a program can still tell which entry is which file. The
        # message stays as written: it quotes the raw value a row or file was refused for.
        shown = [{**f, "path": _masked(f["path"]), "message": _name_masked(f["message"], f["path"])} for f in files]
        click.echo(json.dumps({"files": shown}, ensure_ascii=False, indent=2))
    else:
        for f in files:
            click.echo(f"{_masked(f['path'])}: {f['format'] or '-'} {f['status']} rows={f['rows']} valid={f['valid']} "
                       f"rejected={f['rejected']}" + (f" total={f['total_amount']} {f['currency']}" if f['currency'] else ""))
            if f["message"]:
                click.echo(f"    {_masked(f['message'])}")
        if any(f["rejected"] for f in files):
            click.echo(f"rejects: {run_dir / 'rejects'}")
    statuses = {f["status"] for f in files}
    if statuses & {"unreadable", "unrecognised", "held_back"} or not files:
        sys.exit(EXIT_INPUT)
    sys.exit(EXIT_DISCREPANCIES if "rejected_rows" in statuses else EXIT_CLEAN)


@cli.group(short_help="The Amili simulator: ARM, Collection and ADA on one loopback server.")
def sandbox() -> None:
    """The Amili simulator: ARM, Collection and ADA on one loopback server (see docs/sandbox.md)."""


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port to listen on.")
@click.option("--faults", default=None, help='Fault mix, e.g. "500=0.05,503=0.02,429=0.05,timeout=0.01,reset=0.01".')
@click.option("--fault-seed", default=0, show_default=True, type=int, help="Seed for repeatable faults.")
@click.option("--rate-limit", default=None, type=float, help="Requests per second per client (429 beyond it).")
@click.option("--latency", "latency_ms", default=0, show_default=True, type=int, help="Added latency per request (ms).")
@click.option("--seed", "seed_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              metavar="FILE", help="A seed file loaded at start (its shape: docs/sandbox.md, POST /_sandbox/seed).")
@click.option("--state", "state_file", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="Keep the sandbox's state in this JSON file across restarts.")
@click.option("--token-lifetime", default=3600.0, show_default=True, type=float,
              help="Lifetime of access tokens in seconds (short ones test clients across an expiry).")
@click.option("--batch-delay", default=0.2, show_default=True, type=float,
              help="Seconds ARM document batches and Collection payment batches stay processing.")
@click.option("--autoposting-methods", default="payment,creditnote,writeoff", show_default=True,
              help="Comma-separated {autopostingmethod} values ARM accepts.")
@click.option("--kid-check", is_flag=True, help="Refuse ARM documents whose KID fails both MOD10 and MOD11.")
@click.option("--forbid", default="",
              help="Comma-separated ARM clientNos, Collection orgIds and ADA creditors every login is refused (403).")
@click.option("--logins", "logins_file", type=click.Path(path_type=Path, exists=True, dir_okay=False), metavar="FILE",
              help="TOML or JSON file of further logins, each bound to its own tenants (see docs/sandbox.md).")
@click.option("--allow-remote", is_flag=True,
              help="Allow a --host other than loopback; /_sandbox then needs AMILI_SANDBOX_ADMIN_TOKEN as a bearer token.")
@click.option("--reading", default="lenient", show_default=True, metavar="NAME",
              help="How to answer where Amili's docs are silent: lenient, strict-unique, no-dedup or as-documented "
                   "(described above; docs/sandbox.md, Readings).")
def sandbox_serve(host: str, port: int, faults: str | None, fault_seed: int, rate_limit: float | None,
                  latency_ms: int, seed_file: Path | None, state_file: Path | None, token_lifetime: float,
                  batch_delay: float, autoposting_methods: str, kid_check: bool, forbid: str,
                  logins_file: Path | None, allow_remote: bool, reading: str) -> None:
    """Serve the sandbox until interrupted (Ctrl-C).

    \b
    Readings (--reading), the fair ways to read Amili's pages where they are silent:
      lenient        today's guesses: a repeat is recognised and answered, never stored twice
      strict-unique  every repeat refused with 409 (ARM paymentId and documentNo, Collection
                     uniqueSourcePaymentId and Idempotency-Key, ADA creditor_payment_reference)
      no-dedup       repeats stored again where the pages promise no uniqueness (ARM documents,
                     Collection payments with the Idempotency-Key header ignored, ADA payments)
      as-documented  every answer exactly as the pages print it; repeats as lenient

    The default login: client_id/client_secret and the ADA api code from AMILI_SANDBOX_CLIENT_ID,
    AMILI_SANDBOX_CLIENT_SECRET and AMILI_SANDBOX_ADA_API_CODE, each "sandbox" when unset; it owns every
    tenant no login of --logins claims. GET /openapi.json describes every endpoint; GET /_sandbox/health
    answers once it is up.
    """
    import os

    from etl.errors import ConfigError
    from etl.sandbox import Credentials, SandboxConfig, serve
    from etl.sandbox.config import load_logins

    env = os.environ
    try:
        default_key, logins = load_logins(logins_file, env) if logins_file else (None, ())
        config = SandboxConfig(
            faults=faults, fault_seed=fault_seed, rate_limit=rate_limit, latency_ms=latency_ms, seed_file=seed_file,
            state_file=state_file, token_lifetime_s=token_lifetime, batch_delay_s=batch_delay,
            autoposting_methods=tuple(m.strip() for m in autoposting_methods.split(",") if m.strip()), kid_check=kid_check,
            forbidden=tuple(f.strip() for f in forbid.split(",") if f.strip()), reading=reading,
            credentials=Credentials(env.get("AMILI_SANDBOX_CLIENT_ID", "sandbox"), env.get("AMILI_SANDBOX_CLIENT_SECRET", "sandbox"),
                                    env.get("AMILI_SANDBOX_ADA_API_CODE", "sandbox"), default_key),
            logins=logins,
            # Read only with --allow-remote: on loopback /_sandbox stays open as the tests and scripts expect.
            allow_remote=allow_remote, admin_token=(env.get("AMILI_SANDBOX_ADMIN_TOKEN") or None) if allow_remote else None,
        )
        config.check_host(host)
        click.echo(f"amili-etl sandbox on http://{host}:{port} (Ctrl-C to stop)", err=True)
        serve(host, port, config)
    except ValueError as exc:  # a bad fault spec, seed, state or logins file, or host: found before serving starts
        raise ConfigError(f"sandbox: {exc}") from exc


from etl.cli.ops import OPS_COMMANDS  # noqa: E402 - the operations commands live in their own module

for _command in OPS_COMMANDS:
    cli.add_command(_command)
from etl.cli.reconcile import reconcile as _reconcile  # noqa: E402 - month-end in its own module

cli.add_command(_reconcile)
from etl.cli.resolve import resolve as _resolve  # noqa: E402 - acting on breaks in its own module

cli.add_command(_resolve)
from etl.cli.init import init as _init  # noqa: E402 - the starter configuration in its own module

cli.add_command(_init)


def main() -> None:
    """Console entry point."""
    try:
        cli(prog_name="amili-etl")
    except EtlError as exc:  # raised outside a command (should not happen, but never a traceback)
        click.echo(f"amili-etl: error: {_masked(str(exc))}", err=True)
        sys.exit(exc.exit_code if exc.exit_code else EXIT_USAGE)
    except Exception as exc:  # noqa: BLE001 - a bug: its traceback for the developer, exit 70 (never 1)
        import traceback

        from etl.errors import EXIT_INTERNAL

        end_open_line()
        click.echo(_masked("".join(traceback.format_exception(exc))), err=True)
        click.echo(f"amili-etl: internal error (a bug, please report it): {_masked(f'{type(exc).__name__}: {exc}')}",
                   err=True)
        sys.exit(EXIT_INTERNAL)
