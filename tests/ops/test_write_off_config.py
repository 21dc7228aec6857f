"""`write_off_below`: one decimal string for every currency or a table per currency; every bad value is named at
once (with the creditor), by load_config and by `config check`; the starter config shows it commented."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from etl.config import load_config
from etl.errors import ConfigError
from etl.starter import starter_config
from tests.conftest import sample_config_text
from tests.ops.support import cli

_NO = 'invoice_files = ["invoices_nordlys_*"]'
_SE = 'invoice_files = ["invoices_solkraft_*"]'


def _config(tmp: Path, nordlys: str, solkraft: str = "") -> Path:
    text = sample_config_text("https://amili.example")
    text = text.replace(_NO, f"{_NO}\n{nordlys}", 1).replace(_SE, f"{_SE}\n{solkraft}", 1)
    path = tmp / "amili-etl.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_one_limit_for_every_currency_or_one_per_currency(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, 'write_off_below = "5.00"', 'write_off_below = { SEK = "4.5", EUR = "0" }'),
                         env={})
    nordlys, solkraft = config.creditor("nordlys-no"), config.creditor("solkraft-se")
    assert (nordlys.write_off_limit("NOK"), nordlys.write_off_limit("SEK")) == (500, 500)
    assert (solkraft.write_off_limit("SEK"), solkraft.write_off_limit("EUR"), solkraft.write_off_limit("NOK")) == (450, 0, 0)


def test_without_the_key_nothing_is_written_off(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, ""), env={})
    assert config.creditor("nordlys-no").write_off_limit("NOK") == 0


def test_every_bad_value_is_named_at_once(tmp_path: Path) -> None:
    path = _config(tmp_path, "write_off_below = 5.0", 'write_off_below = { sek = "5.00", NOK = "-1", EUR = "1.234" }')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    message = str(err.value)
    assert "creditor[1] (nordlys-no): write_off_below: must be an amount as a decimal string" in message
    assert "not 5.0" in message  # a TOML float: money is never a float
    assert "(and 3 more: `amili-etl config check` lists them all)" in message
    check = cli("config", "check", "--no-auth", "--config", str(path))
    assert check.returncode == 2, check.stdout + check.stderr
    out = check.stdout
    assert "nordlys-no): write_off_below: must be an amount" in out and "not 5.0" in out
    assert "creditor[2] (solkraft-se): write_off_below.sek: 'sek' is not a currency code" in out
    assert "write_off_below.NOK: must be an amount" in out and "not '-1'" in out
    assert "write_off_below.EUR: must be an amount" in out and "not '1.234'" in out
    assert "Traceback" not in check.stderr


@pytest.mark.parametrize("country", ["NO", "SE"])
def test_the_starter_config_shows_it_commented_and_uncommented_it_loads(country: str) -> None:
    text = starter_config(country)
    assert '# write_off_below = "5.00"' in text
    uncommented = text.replace('# write_off_below = "5.00"', 'write_off_below = "5.00"')
    [creditor] = tomllib.loads(uncommented)["creditor"]
    assert creditor["write_off_below"] == "5.00"
