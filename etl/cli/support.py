"""What the command modules share: the clock, loading the configuration, masking and the run summary table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from etl.starter import CONFIG_NAME, DEMO_CONFIG

__all__ = ["CONFIG_NAME", "config_option", "creditor_option", "demo_next_steps", "find_config", "load", "masked", "now",
           "print_error", "print_summary"]


def config_option(demo_fallback: bool = False) -> Any:
    """The one --config option of every command (metavar FILE; default ./amili-etl.toml)."""
    help_text = f"The configuration file (default: ./{CONFIG_NAME}; `amili-etl init` writes a starter)."
    if demo_fallback:
        help_text += f" Without one, the demo's ({DEMO_CONFIG})."
    return click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
                        metavar="FILE", help=help_text)


def find_config(config_path: Path | None, demo_fallback: bool = False) -> Path:
    """The configuration file to use: `config_path`, else ./amili-etl.toml (else the demo's, for the commands that
    only read history); a ConfigError saying where it looked when there is none."""
    from etl.errors import ConfigError

    if config_path is not None:
        if not config_path.is_file():
            raise ConfigError(f"{config_path}: configuration file not found (looked at {config_path.absolute()})")
        return config_path
    here = Path(CONFIG_NAME)
    if here.is_file():
        return here
    if demo_fallback and DEMO_CONFIG.is_file():
        click.echo(f"amili-etl: no ./{CONFIG_NAME} here: showing the demo's runs ({DEMO_CONFIG})", err=True)
        return DEMO_CONFIG
    raise ConfigError(f"no configuration: looked for {here.absolute()}; pass --config FILE, or write a starter "
                      "there with `amili-etl init`")


def masked(text: str) -> str:
    """A line for the terminal: personal data masked and every configured secret redacted, as in the run log."""
    from etl.logs import mask_text

    return mask_text(text)


def now() -> dt.datetime:
    """The wall clock in UTC (commands pass it into the stages)."""
    return dt.datetime.now(dt.timezone.utc)


def print_summary(result: Any, workbook: Path) -> None:
    """The short table a person reads after a run."""
    from etl.terminal import QUIET, verbosity

    s = result.summary
    click.echo(f"run {s['run_id']}: {s['status']}")
    if verbosity() == QUIET:  # --quiet: the result, where it is, and what went wrong
        click.echo(f"workbook: {workbook}")
        print_error(s)
        return
    if s.get("message"):
        click.echo(f"  {masked(s['message'])}")
    # File names in full (masked like the run log: a name may carry a national id or an account number).
    names = [masked(f["path"]) for f in s["files"]]
    width = max([len("file"), *map(len, names)])
    click.echo(f"  {'file':<{width}} {'format':<14} {'status':<14} {'rows':>6} {'valid':>6}")
    for name, f in zip(names, s["files"], strict=True):
        click.echo(f"  {name:<{width}} {str(f['format'] or '-'):<14} {f['status']:<14} {f['rows']:>6} "
                   f"{f['valid']:>6}")
        if f["message"]:
            click.echo(f"      {masked(f['message'])}")
    for k in s.get("skipped", []):
        click.echo(f"  skipped {masked(k['path'])}: already imported by run {k['run_id']} (--force reads it again)")
    if s["counts"]:
        click.echo("  discrepancies:")
        for cat, n in s["counts"].items():
            click.echo(f"    {cat:<26} {n:>6}")
    else:
        click.echo("  no discrepancies")
    t = s["totals"]
    endpoints = [(api, t["planned"].get(api, 0), sent) for api, sent in s["sent"].items()
                 if t["planned"].get(api, 0) or sent]
    if endpoints:
        click.echo(f"  {'endpoint':<26} {'planned':>8} {'sent':>6} {'confirmed':>10} {'rejected':>9} {'pending':>8}")
        for api, planned, sent in endpoints:
            click.echo(f"  {api:<26} {planned:>8} {sent:>6} {t['confirmed'].get(api, 0):>10} "
                       f"{t['rejected'].get(api, 0):>9} {t['pending'].get(api, 0):>8}")
    else:  # a rerun of delivered files: say so rather than print an empty table
        click.echo("  nothing to send: every item is confirmed by an earlier run, or none was deliverable")
    click.echo(f"workbook: {workbook}")
    print_error(s)


def print_error(summary: dict[str, Any]) -> None:
    """Why a run failed or could not deliver (Amili unreachable: which endpoint, what error): stderr's last line."""
    if summary.get("error"):
        click.echo(f"amili-etl: {masked(summary['error'])}", err=True)


def load(config_path: Path | None, creditor: str | None = None, demo_fallback: bool = False) -> Any:
    """The configuration at `config_path` or found by `find_config`, narrowed to `creditor` when given (`{creditor}`
    in its paths filled in); its secrets are redacted everywhere."""
    from etl.bundled import bundled_dir
    from etl.config import for_creditor, load_config
    from etl.logs import remember_secrets, secret_values

    config = for_creditor(load_config(find_config(config_path, demo_fallback),
                                      default_mapping_dirs=(bundled_dir("mappings"),)), creditor)
    remember_secrets(secret_values(config))  # never on the terminal either, whatever their length
    return config


def creditor_option() -> Any:
    """`--creditor NAME`: run one creditor of a multi-creditor configuration (fills `{creditor}` in its paths)."""
    return click.option("--creditor", default=None, metavar="NAME",
                        help="Only this creditor of the configuration; fills {creditor} in [state].path, [output].dir "
                             "and [log].dir (required when they hold it and the file has several creditors).")


def demo_next_steps(demo_config: Path, run_id: str) -> None:
    """The commands that show the demo's history, exactly as they work from the current folder."""
    # What `runs` finds with no --config: ./amili-etl.toml, else the demo's own (find_config's order).
    here = Path(CONFIG_NAME) if Path(CONFIG_NAME).is_file() else DEMO_CONFIG if DEMO_CONFIG.is_file() else None
    same = here is not None and here.resolve() == demo_config.resolve()
    flag = "" if same else f" --config {demo_config}"
    click.echo("next: the demo's runs and this one in full:")
    click.echo(f"  amili-etl runs{flag}")
    click.echo(f"  amili-etl show{flag} {run_id}")
