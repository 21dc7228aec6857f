"""What the command modules share: the clock, loading the configuration, masking and the run summary table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

__all__ = ["creditor_option", "load", "masked", "now", "print_summary"]


def masked(text: str) -> str:
    """A line for the terminal: personal data masked and every configured secret redacted, as in the run log."""
    from etl.logs import mask_text

    return mask_text(text)


def now() -> dt.datetime:
    """The wall clock in UTC (commands pass it into the stages)."""
    return dt.datetime.now(dt.timezone.utc)


def print_summary(result: Any, workbook: Path) -> None:
    """The short table a person reads after a run."""
    s = result.summary
    click.echo(f"run {s['run_id']}: {s['status']}")
    click.echo(f"  {'file':<44} {'format':<14} {'status':<14} {'rows':>6} {'valid':>6}")
    for f in s["files"]:
        # File names and messages masked like the run log: a name may carry a national id or an account number.
        click.echo(f"  {masked(f['path'])[:44]:<44} {str(f['format'] or '-'):<14} {f['status']:<14} {f['rows']:>6} "
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
    click.echo(f"  {'endpoint':<26} {'planned':>8} {'sent':>6} {'confirmed':>10} {'rejected':>9} {'pending':>8}")
    t = s["totals"]
    for api, sent in s["sent"].items():
        planned = t["planned"].get(api, 0)
        if planned or sent:
            click.echo(f"  {api:<26} {planned:>8} {sent:>6} {t['confirmed'].get(api, 0):>10} "
                       f"{t['rejected'].get(api, 0):>9} {t['pending'].get(api, 0):>8}")
    click.echo(f"workbook: {workbook}")


def load(config_path: Path | None, creditor: str | None = None) -> Any:
    """The configuration at `config_path` (ConfigError when None or missing), narrowed to `creditor` when given
    (`{creditor}` in its paths filled in); its secrets are redacted everywhere."""
    from etl.bundled import bundled_dir
    from etl.config import for_creditor, load_config
    from etl.logs import remember_secrets, secret_values

    config = for_creditor(load_config(config_path, default_mapping_dirs=(bundled_dir("mappings"),)), creditor)
    remember_secrets(secret_values(config))  # never on the terminal either, whatever their length
    return config


def creditor_option() -> Any:
    """`--creditor NAME`: run one creditor of a multi-creditor configuration (fills `{creditor}` in its paths)."""
    return click.option("--creditor", default=None, metavar="NAME",
                        help="Only this creditor of the configuration; fills {creditor} in [state].path, [output].dir "
                             "and [log].dir (required when they hold it and the file has several creditors).")
