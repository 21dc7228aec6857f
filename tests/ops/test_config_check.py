"""`amili-etl config check`: every problem with its key path, then a real login against the sandbox."""

from __future__ import annotations

from pathlib import Path

from tests.ops.support import cli, write_config


def test_a_good_config_logs_in_to_every_endpoint(tmp_path: Path, sandbox) -> None:
    config = write_config(tmp_path, sandbox.base_url)
    proc = cli("config", "check", "--config", str(config))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "creditor 'nordlys-no' ARM/Collection token" in proc.stdout and "creditor 'solkraft-se' ADA login" in proc.stdout
    assert proc.stdout.count(": ok") == 3  # two logins and the verdict


def test_every_problem_is_named_by_its_key_path(tmp_path: Path, sandbox) -> None:
    config = write_config(tmp_path, sandbox.base_url)
    text = config.read_text(encoding="utf-8")
    text = text.replace("timeout_s = 30", "timout_s = 30")
    text = text.replace("reference_check = \"mod10\"", "refrence_check = \"mod10\"")
    text = text.replace(f'base_url = "{sandbox.base_url}/ada"', 'base_url = "ftp://api.amili.se"')
    text = text.replace(f'base_url = "{sandbox.base_url}/arm"', 'base_url = "http://arm.amili.no"')
    config.write_text(text, encoding="utf-8")
    proc = cli("config", "check", "--config", str(config), secrets={"AMILI_NO_CLIENT_ID": "sandbox"})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    out = proc.stdout
    assert "[http]: unknown key(s) timout_s (did you mean timeout_s?)" in out
    assert "creditor[1] (nordlys-no): unknown key(s) refrence_check (did you mean reference_check?)" in out
    assert "creditor[2] (solkraft-se).ada.base_url: 'ftp://api.amili.se' is not an http(s) URL" in out
    assert "creditor[1] (nordlys-no).arm.base_url: 'http://arm.amili.no' uses plain http to a remote host" in out
    assert "Traceback" not in proc.stderr


def test_missing_secrets_and_refused_logins(tmp_path: Path, sandbox) -> None:
    config = write_config(tmp_path, sandbox.base_url)
    missing = cli("config", "check", "--config", str(config), secrets={"AMILI_NO_CLIENT_ID": "sandbox"})
    assert missing.returncode == 2
    assert "creditor[1] (nordlys-no).auth.client_secret_env: environment variable AMILI_NO_CLIENT_SECRET is not set" in missing.stdout
    assert "AMILI_SE_ADA_API_CODE is not set" in missing.stdout
    wrong = cli("config", "check", "--config", str(config),
                secrets={"AMILI_NO_CLIENT_ID": "sandbox", "AMILI_NO_CLIENT_SECRET": "wrong-secret-value",
                         "AMILI_SE_ADA_API_CODE": "sandbox"})
    assert wrong.returncode == 2
    assert "creditor 'nordlys-no' ARM/Collection token" in wrong.stdout and "refused" in wrong.stdout
    assert "wrong-secret-value" not in wrong.stdout + wrong.stderr


def test_an_unreachable_endpoint_is_exit_75(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", http={"max_attempts": 1, "max_retry_time_s": 1})
    proc = cli("config", "check", "--config", str(config))
    assert proc.returncode == 75, proc.stdout + proc.stderr
    assert "unreachable" in proc.stdout


def test_a_bad_http_io_value_is_refused_not_silently_threads(tmp_path: Path, sandbox) -> None:
    config = write_config(tmp_path, sandbox.base_url, http={"io": '"trheads"'})
    proc = cli("config", "check", "--no-auth", "--config", str(config))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert '[http]: io must be "threads" or "async", not \'trheads\'' in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
