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
