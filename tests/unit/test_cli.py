"""The command line: every command documented, known failures as one line with the contract's exit code."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

from etl.cli import cli


def _walk(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        out.append((prefix + (name,), cmd))
        if isinstance(cmd, click.Group):
            out += _walk(cmd, prefix + (name,))
    return out


def test_every_command_has_complete_help() -> None:
    runner = CliRunner()
    for path, cmd in _walk(cli):
        res = runner.invoke(cli, [*path, "--help"])
        assert res.exit_code == 0, path
        assert cmd.help and len(cmd.help.strip()) > 20, f"{path} has no help text"
        for param in cmd.params:
            if isinstance(param, click.Option) and param.name not in ("help",):
                assert param.help, f"{path} option {param.name} has no help"


def test_missing_config_is_exit_2_one_line(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["run", "--config", str(tmp_path / "nope.toml"), "--bank", str(tmp_path)])
    assert res.exit_code == 2
    assert "configuration file not found" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[[creditor]]\nname = "x"\ncountry = "DK"\n', encoding="utf-8")
    res = CliRunner().invoke(cli, ["run", "--config", str(cfg), "--bank", str(tmp_path)])
    assert res.exit_code == 2
    assert "country must be one of NO, SE" in res.output


def test_missing_input_is_exit_3(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["validate", str(tmp_path / "missing.txt")])
    assert res.exit_code == 3
    assert "no such file or folder" in res.output


def test_bytecode_caches_are_never_input(tmp_path: Path) -> None:
    from etl.sources import iter_input_files

    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "generate.cpython-311.pyc").write_bytes(b"\x00\x01")
    (tmp_path / "bank.txt").write_text("x", encoding="utf-8")
    assert iter_input_files([tmp_path]) == [tmp_path / "bank.txt"]


def test_operations_commands_are_registered_and_their_arguments_explained() -> None:
    paths = {path for path, _ in _walk(cli)}
    for expected in (("inbox",), ("runs",), ("show",), ("rerun",), ("config", "check"), ("state", "export")):
        assert expected in paths, expected
    for path, cmd in _walk(cli):
        for param in cmd.params:
            if isinstance(param, click.Argument):
                name = (param.name or "").upper()
                assert name in (cmd.help or "") or f"{name.rstrip('S')}..." in (cmd.help or ""), (
                    f"{path}: argument {param.name} is not explained in its help")


def test_top_level_help_lists_every_command_without_cutting_its_description() -> None:
    res = CliRunner().invoke(cli, ["--help"], terminal_width=100)
    listing = res.output.split("Commands:", 1)[1]
    assert "..." not in listing, listing
    for name, cmd in cli.commands.items():
        assert cmd.get_short_help_str(limit=200) in " ".join(listing.split()), name


def test_one_metavar_per_kind_of_option() -> None:
    """--config is FILE everywhere, --out DIR, --bank/--invoices PATH: the same word for the same kind of value."""
    expected = {"config_path": "FILE", "out": "DIR", "bank": "PATH", "invoices": "PATH", "sandbox_seed": "FILE",
                "seed_file": "FILE", "state_file": "FILE", "logins_file": "FILE"}
    seen = 0
    ctx = click.Context(cli)
    for path, cmd in _walk(cli):
        for param in cmd.params:
            if isinstance(param, click.Option) and param.name in expected:
                shown = param.get_help_record(ctx)[0]
                assert shown.endswith(" " + expected[param.name]), (path, shown)
                seen += 1
    assert seen > 15


def test_shell_completion_as_the_readme_says(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "_AMILI_ETL_COMPLETE": "bash_complete", "COMP_WORDS": "amili-etl con", "COMP_CWORD": "1"}
    proc = subprocess.run([sys.executable, "-c", "from etl.cli import main; main()"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert "plain,config" in proc.stdout.splitlines(), proc.stdout + proc.stderr
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert '_AMILI_ETL_COMPLETE=bash_source amili-etl' in readme


def test_a_usage_error_is_one_line_naming_the_command_and_its_help(tmp_path: Path) -> None:
    for args, says in ((["reconcile", "--config", str(tmp_path / "x.toml")], "Missing option '--period'"),
                       (["run", "--bogus"], "No such option '--bogus'"), (["runs", "--limit", "0"], "--limit"),
                       (["nope"], "No such command 'nope'")):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 2, (args, res.output)
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("amili-etl: error: ") and says in lines[0], (args, res.output)
        assert "--help`)" in lines[0]
