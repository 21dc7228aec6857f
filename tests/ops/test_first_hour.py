"""A newcomer's first hour, in real processes in a fresh folder: demo then runs/show as printed, init, config check."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ops.support import SECRET_ENV


def _amili(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`amili-etl ARGS` run from `cwd` with no AMILI_ variables but `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AMILI_")}
    return subprocess.run([sys.executable, "-m", "etl", *args], capture_output=True, text=True, cwd=cwd,
                          env={**clean, **(env or {})}, timeout=300)


def _printed_commands(stdout: str) -> list[list[str]]:
    """The `amili-etl ...` lines the demo prints as the next steps, split as a shell would."""
    return [shlex.split(line.strip())[1:] for line in stdout.splitlines() if line.strip().startswith("amili-etl ")]


def test_after_the_demo_runs_and_show_work_as_printed(tmp_path: Path) -> None:
    demo = _amili(tmp_path, "demo")
    assert demo.returncode == 1, demo.stdout + demo.stderr
    commands = _printed_commands(demo.stdout)
    assert [c[0] for c in commands] == ["runs", "show"], demo.stdout
    run_id = commands[1][-1]
    runs = _amili(tmp_path, *commands[0])
    assert runs.returncode == 0, runs.stdout + runs.stderr
    assert run_id in runs.stdout and "demo" in runs.stdout
    show = _amili(tmp_path, *commands[1])
    assert show.returncode == 0, show.stdout + show.stderr
    assert f"run {run_id}: discrepancies (exit 1)" in show.stdout
    assert "ocr_nordlys_2026-11-20.txt" in show.stdout

    # With a configuration of one's own in the folder, the demo prints the commands that still reach its runs.
    assert _amili(tmp_path, "init").returncode == 0
    again = _amili(tmp_path, "demo")
    commands = _printed_commands(again.stdout)
    assert all("--config" in c for c in commands), again.stdout
    listed = _amili(tmp_path, *commands[0])
    assert listed.returncode == 0 and run_id in listed.stdout and commands[1][-1] in listed.stdout


def test_without_a_configuration_every_command_says_where_it_looked(tmp_path: Path) -> None:
    for args in (["runs"], ["show", "x"], ["run", "--bank", "."], ["reconcile", "--period", "2026-11"],
                 ["config", "check"], ["inbox", "."], ["rerun", "x"], ["state", "export", "out"]):
        proc = _amili(tmp_path, *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, (args, proc.stderr)
        assert str(tmp_path / "amili-etl.toml") in lines[0] and "amili-etl init" in lines[0], lines[0]
    missing = _amili(tmp_path, "runs", "--config", "elsewhere.toml")
    assert missing.returncode == 2 and str(tmp_path / "elsewhere.toml") in missing.stderr


@pytest.mark.parametrize("country", ["NO", "SE"])
def test_init_writes_a_starter_that_passes_the_check_once_the_secrets_are_set(tmp_path: Path, country: str) -> None:
    proc = _amili(tmp_path, "init", "--country", country)
    assert proc.returncode == 0, proc.stderr
    config, secrets = tmp_path / "amili-etl.toml", tmp_path / "amili-etl.secrets.example"
    text = config.read_text(encoding="utf-8")
    assert f'country = "{country}"' in text and text.count("#") > 10  # commented
    names = [line.split()[1].rstrip("=") for line in secrets.read_text().splitlines() if line.startswith("export ")]
    assert names and all(name in text for name in names)
    unset = _amili(tmp_path, "config", "check", "--no-auth")
    assert unset.returncode == 2
    assert all(f"environment variable {n} is not set" in unset.stdout for n in names), unset.stdout
    ok = _amili(tmp_path, "config", "check", "--no-auth", env={n: "x" * 12 for n in names})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.strip().endswith("amili-etl.toml: ok")


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    config = tmp_path / "amili-etl.toml"
    config.write_text("# mine\n", encoding="utf-8")
    proc = _amili(tmp_path, "init")
    assert proc.returncode == 2 and "already exists" in proc.stderr and "--force" in proc.stderr
    assert config.read_text() == "# mine\n" and not (tmp_path / "amili-etl.secrets.example").exists()
    assert _amili(tmp_path, "init", "--force", "--country", "SE").returncode == 0
    assert 'country = "SE"' in config.read_text()


def test_config_check_lists_six_planted_mistakes_at_once(tmp_path: Path) -> None:
    assert _amili(tmp_path, "init").returncode == 0
    config = tmp_path / "amili-etl.toml"
    text = config.read_text(encoding="utf-8")
    planted = {
        "timeout_s = 30": "timout_s = 30",                                        # an unknown key
        'payments_to = "arm"': 'payments_to = "armm"',                             # a bad value
        '"15062995960"': '"15062995961"',                                         # an account failing MOD11
        'invoice_mapping = "invoices_generic"': 'invoice_mapping = "invoices_visam"',  # no such mapping
        "https://auth.amili.no/token": "htps://auth.amili.no/token",                # a bad URL
    }
    for old, new in planted.items():
        assert old in text
        text = text.replace(old, new)
    config.write_text(text, encoding="utf-8")
    # ... and the sixth: one of the two secrets not set.
    proc = _amili(tmp_path, "config", "check", env={"AMILI_NO_CLIENT_ID": "an-id-of-some-length"})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    problems = [line for line in proc.stdout.splitlines() if line.startswith("problem: ")]
    assert len(problems) == 6, proc.stdout
    out = proc.stdout
    assert "unknown key(s) timout_s (did you mean timeout_s?)" in out
    assert "payments_to must be one of arm, collection, ada, none, not 'armm'" in out
    assert "'15062995961' fails the MOD11 check" in out
    assert "'invoices_visam' is no invoice layout (did you mean invoices_visma?)" in out
    assert "'htps://auth.amili.no/token' is not an http(s) URL" in out
    assert "environment variable AMILI_NO_CLIENT_SECRET is not set" in out
    assert "AMILI_NO_CLIENT_ID" not in out  # the one that is set is not named
    assert "login:" not in out  # no login is tried while the file has problems
    # A run stops at the same file with one line naming the first problem and how many more there are.
    run = _amili(tmp_path, "run", "--bank", ".", env={"AMILI_NO_CLIENT_ID": "x"})
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1
    assert "more: `amili-etl config check` lists them all" in run.stderr


def test_a_bankgiro_number_failing_its_check_is_named(tmp_path: Path) -> None:
    assert _amili(tmp_path, "init", "--country", "SE").returncode == 0
    config = tmp_path / "amili-etl.toml"
    config.write_text(config.read_text().replace('"54029681"', '"54029682"'), encoding="utf-8")
    proc = _amili(tmp_path, "config", "check", "--no-auth", env={"AMILI_SE_ADA_API_CODE": SECRET_ENV["AMILI_SE_ADA_API_CODE"]})
    assert proc.returncode == 2
    assert "'54029682' fails the check digit of bankgiro numbers" in proc.stdout
