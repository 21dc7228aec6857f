"""Starter files: the commented amili-etl.toml and secrets example `amili-etl init` writes, and the demo's config."""

from __future__ import annotations

import re
from pathlib import Path

from etl.errors import ConfigError

__all__ = ["CONFIG_NAME", "DEMO_CONFIG", "SECRETS_NAME", "starter_config", "secrets_example", "write_starter",
           "write_demo_config"]

# The file every command looks for in the current folder when --config is not given.
CONFIG_NAME = "amili-etl.toml"
# The environment variables a starter names, with a line on each (values are never written anywhere by us).
SECRETS_NAME = "amili-etl.secrets.example"
# Where `amili-etl demo` (default --out) keeps a configuration of its own state, so `runs` and `show` find its runs.
DEMO_CONFIG = Path("reports") / "demo-state" / CONFIG_NAME

_HEAD = """\
# amili-etl configuration, written by `amili-etl init`. Every key: docs/configuration.md in the amili-etl repository.
# Relative paths are relative to this file's folder. Secrets never live here: each creditor names the environment
# variables that hold them (see {secrets}). Check this file with `amili-etl config check`.

[state]
path = "state/amili-etl.duckdb"   # the DuckDB state file: runs, files, rows, outbox, Amili's answers. Back it up.

[output]
dir = "reports"                   # run folders <dir>/<run_id>/ (--out overrides)

[http]
timeout_s = 30                    # seconds per request
concurrency = 8                   # connections per run
max_attempts = 6                  # per request, for 429 / 5xx / timeouts / resets
"""

_NO = """
# One block per creditor. Replace the example values with your own: the account is a Norwegian account number
# (11 digits, MOD11), the client number and URLs come from Amili.
[[creditor]]
name = "my-company-no"
country = "NO"
accounts = ["15062995960"]               # incoming payments to these accounts belong to this creditor
reference_check = "mod10"                # the KID check digit of your Nets agreement: mod10 | mod11 | either | none
invoices_to = "arm"                      # arm: invoice rows become ARM documents | none
payments_to = "arm"                      # arm (payment reservations) | collection | none
invoice_mapping = "invoices_generic"     # the layout of your invoice export (docs/mappings.md; e.g. invoices_visma)
invoice_files = ["invoices_*"]           # file name patterns of this creditor's invoice exports
arm = { base_url = "https://arm.amili.no", client_no = 1234 }
auth = { token_url = "https://auth.amili.no/token", client_id_env = "AMILI_NO_CLIENT_ID", client_secret_env = "AMILI_NO_CLIENT_SECRET" }
# write_off_below = "5.00"               # over/underpayments smaller than this are written off automatically (listed
#                                        # on the workbook's "Written off" sheet); per currency: { NOK = "5.00" }
"""

_SE = """
# One block per creditor. Replace the example values with your own: the account is your bankgiro number
# (7 or 8 digits with its check digit), the ADA creditor id comes from Amili.
[[creditor]]
name = "my-company-se"
country = "SE"
accounts = ["54029681"]                  # the receiving bankgiro number
reference_check = "luhn"                 # the OCR check of your Bankgirot agreement: luhn | luhn_length | none
invoices_to = "none"                     # the cases already exist at Amili
payments_to = "ada"                      # ada: matched payments become ADA creditor payments | none
invoice_mapping = "invoices_generic"     # the layout of your invoice export (docs/mappings.md; e.g. invoices_visma)
invoice_files = ["invoices_*"]           # file name patterns of this creditor's invoice exports
ada = { base_url = "https://api.amili.se", creditor = "your-ada-creditor-id" }
auth = { ada_api_code_env = "AMILI_SE_ADA_API_CODE" }
# write_off_below = "5.00"               # over/underpayments smaller than this are written off automatically (listed
#                                        # on the workbook's "Written off" sheet); per currency: { SEK = "5.00" }
"""

_SECRETS = {
    "NO": ("AMILI_NO_CLIENT_ID", "AMILI_NO_CLIENT_SECRET"),
    "SE": ("AMILI_SE_ADA_API_CODE",),
}


def starter_config(country: str) -> str:
    """The commented starter amili-etl.toml for one creditor of `country` (NO or SE)."""
    return _HEAD.format(secrets=SECRETS_NAME) + {"NO": _NO, "SE": _SE}[country]


def secrets_example(country: str) -> str:
    """The secrets example: every environment variable the starter names, empty, to fill in and source."""
    lines = ["# The secrets amili-etl.toml names, as environment variables. Copy this file somewhere only the",
             "# service user can read (e.g. /etc/amili/secrets.env), fill in the values Amili gave you, and load it",
             "# before each run: `. /etc/amili/secrets.env` in cron, EnvironmentFile= in systemd. Never commit it.",
             ""]
    return "\n".join(lines + [f"export {name}=" for name in _SECRETS[country]]) + "\n"


def write_starter(folder: Path, country: str, force: bool) -> list[Path]:
    """Write amili-etl.toml and the secrets example into `folder`; ConfigError (nothing written) when one exists
    and `force` is not set."""
    files = {folder / CONFIG_NAME: starter_config(country), folder / SECRETS_NAME: secrets_example(country)}
    there = [p for p in files if p.exists()]
    if there and not force:
        raise ConfigError(f"{there[0]}: already exists; nothing was written (--force overwrites it)")
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return list(files)


def write_demo_config(sample_config: Path, state_dir: Path) -> Path:
    """A copy of the sample configuration whose state is `state_dir` and whose reports go beside it, so
    `amili-etl runs --config <it>` lists the demo's runs; returns its path."""
    text = sample_config.read_text(encoding="utf-8")
    text, n_state = re.subn(r'(?m)^path = "[^"]*"', 'path = "amili-etl.duckdb"', text, count=1)
    text, n_out = re.subn(r'(?m)^dir = "[^"]*"', 'dir = ".."', text, count=1)
    if not (n_state and n_out):  # the sample lost its [state] path or [output] dir: a bug in the shipped files
        raise ValueError(f"{sample_config}: no [state] path or [output] dir line to point at the demo's state")
    head = ("# Written by `amili-etl demo`: the shipped sample configuration with its state in this folder, so\n"
            "# `amili-etl runs --config <this file>` and `amili-etl show --config <this file> RUN_ID` find the demo's runs.\n")
    path = state_dir / CONFIG_NAME
    path.write_text(head + text, encoding="utf-8")
    return path
