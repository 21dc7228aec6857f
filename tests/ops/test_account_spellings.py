"""One account written several ways within a creditor is one account; one account under two creditors is an error
naming both; payments to any spelling find their creditor."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from etl.config import account_key, load_config
from etl.errors import ConfigError
from tests.conftest import SAMPLE, sample_config_text
from tests.ops.support import cli, write_config


def _no_iban(bban: str) -> str:
    """The Norwegian IBAN of an 11-digit account, spaced as printed (ISO 13616 check digits, mod 97)."""
    check = 98 - int(bban + "232400") % 97
    compact = f"NO{check:02d}{bban}"
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def _config(tmp: Path, nordlys: str, solkraft: str = '["54029681"]') -> Path:
    text = sample_config_text("https://amili.example")
    text = text.replace('accounts = ["15062995960"]', f"accounts = {nordlys}").replace(
        'accounts = ["54029681"]', f"accounts = {solkraft}")
    path = tmp / "amili-etl.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_spellings_of_one_account_are_one_key() -> None:
    iban = _no_iban("15062995960")
    assert {account_key(a) for a in ("15062995960", "1506.29.95960", "1506 29 95960", iban, iban.replace(" ", "").lower(),
                                     "015062995960")} == {"15062995960"}
    assert account_key("991-2346") == account_key("9912346") == "9912346"
    assert account_key("SE45 5000 0000 0583 9825 7466") == account_key("SE4550000000058398257466")


def test_a_creditor_may_list_one_account_in_several_spellings(tmp_path: Path) -> None:
    iban = _no_iban("15062995960")
    config = load_config(_config(tmp_path, f'["15062995960", "1506.29.95960", "{iban}"]', '["9912346", "991-2346"]'),
                         env={})
    assert config.creditor("nordlys-no").accounts == ("15062995960",)
    assert config.creditor("solkraft-se").accounts == ("9912346",)


def test_one_account_under_two_creditors_is_an_error_naming_both(tmp_path: Path) -> None:
    path = _config(tmp_path, '["15062995960", "991-2346"]', '["9912346"]')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    message = str(err.value)
    assert "'nordlys-no'" in message and "'solkraft-se'" in message
    assert "'991-2346'" in message and "'9912346'" in message
    check = cli("config", "check", "--no-auth", "--config", str(path))
    assert check.returncode == 2 and "belongs to both 'nordlys-no' and 'solkraft-se'" in check.stdout


def test_an_account_with_no_digits_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\(nordlys-no\): accounts: 'see invoice' is not an account"):
        load_config(_config(tmp_path, '["see invoice"]'), env={})


def test_payments_to_every_spelling_find_their_creditor(tmp_path: Path, sandbox) -> None:
    config = write_config(tmp_path, sandbox.base_url)
    text = config.read_text(encoding="utf-8").replace(
        'accounts = ["15062995960"]', f'accounts = ["1506.29.95960", "{_no_iban("15062995960")}", "15062995960"]')
    config.write_text(text, encoding="utf-8")
    # One more export whose bank wrote the receiving account as an IBAN.
    extra = tmp_path / "extra"
    extra.mkdir()
    iban = _no_iban("15062995960").replace(" ", "")
    (extra / "sparebank1_2026-11-21.csv").write_text(
        'Dato;Beskrivelse;Rentedato;Inn;Ut;Til konto;Fra konto;\n'
        f'"21.11.2026";"Gave";;"100,00";;"{iban}";"73584051024";\n', encoding="utf-8")
    proc = cli("run", "--config", str(config), "--bank", str(SAMPLE / "no"), "--bank", str(extra))
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the planted discrepancies, nothing else
    run_dir = sorted((tmp_path / "reports").iterdir())[-1]
    with (run_dir / "discrepancies.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert not [r for r in rows if "belongs to no configured creditor" in r["detail"]]
    gift = [r for r in rows if r["source_file"].endswith("sparebank1_2026-11-21.csv")]
    assert [(r["category"], r["detail"]) for r in gift] == [
        ("unmatched_payment", "no open invoice matches the reference or the text")]
    assert "arm.paymentreservations" in proc.stdout
