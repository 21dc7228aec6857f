"""`amili-etl init`: a commented starter amili-etl.toml and secrets example in the current folder."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["init"]


@click.command("init", short_help="Write a commented starter amili-etl.toml and secrets example here.")
@click.option("--country", type=click.Choice(["NO", "SE"], case_sensitive=False), default="NO", show_default=True,
              help="The starter creditor's country: NO (ARM, KID payments) or SE (ADA, bankgiro payments).")
@click.option("--force", is_flag=True, help="Overwrite amili-etl.toml and the secrets example when they exist.")
def init(country: str, force: bool) -> None:
    """Write a commented starter amili-etl.toml and amili-etl.secrets.example into the current folder.

    The starter has one creditor of COUNTRY with example values to replace; the secrets example names the
    environment variables it reads. Nothing is overwritten without --force (exit 2). Then fill in your values,
    set the variables and run `amili-etl config check`.
    """
    from etl.starter import write_starter

    for path in write_starter(Path("."), country.upper(), force):
        click.echo(f"wrote {path}")
    click.echo("next: edit amili-etl.toml, set the variables of amili-etl.secrets.example, then `amili-etl config check`")
