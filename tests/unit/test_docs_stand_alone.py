"""The project's docs stand alone: nothing a user reads (README, docs/, --help, the shipped files) points outside."""

from __future__ import annotations

import re
from pathlib import Path

import click
from click.testing import CliRunner

from etl.cli import cli

ROOT = Path(__file__).resolve().parents[2]
# Files a user of the repository never has (the project's design notes live outside it).
OUTSIDE = re.compile(r"shared/|DESIGN\.md|FORMATS\.md|PERF-NOTES|API-NOTES")
SHIPPED = ("README.md", "docs", "etl", "mappings", "sample_data")


def _text_files() -> list[Path]:
    found = []
    for name in SHIPPED:
        path = ROOT / name
        for f in [path] if path.is_file() else sorted(path.rglob("*")):
            if f.is_file() and f.suffix in (".md", ".py", ".toml", ".sql", ".txt", ".json", ".csv") \
                    and "__pycache__" not in f.parts:
                found.append(f)
    return found


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path]
    for name, cmd in group.commands.items():
        out += _commands(cmd, (*path, name)) if isinstance(cmd, click.Group) else [(*path, name)]
    return out


def test_nothing_shipped_points_outside_the_repo() -> None:
    files = _text_files()
    assert any(f.name == "contracts.md" for f in files) and len(files) > 100
    hits = [f"{f.relative_to(ROOT)}:{i}: {line.strip()}" for f in files
            for i, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
            if OUTSIDE.search(line)]
    assert hits == []


def test_no_help_text_points_outside_the_repo() -> None:
    runner = CliRunner()
    for path in _commands(cli):
        res = runner.invoke(cli, [*path, "--help"], terminal_width=200)
        assert res.exit_code == 0, path
        assert not OUTSIDE.search(res.output), (path, res.output)


def test_links_between_the_docs_resolve() -> None:
    """Every relative link in README.md and docs/*.md names a file of the repository."""
    broken = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            if "://" not in target and not (doc.parent / target).exists():
                broken.append(f"{doc.name}: {target}")
    assert broken == []


def test_the_contracts_page_names_every_category_and_exit_code() -> None:
    from etl.reconcile import CATEGORIES

    text = (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
    missing = [c for c in CATEGORIES if c not in text]
    assert missing == []
    for code in (0, 1, 2, 3, 4, 70, 75):
        assert f"| {code} |" in text
    for command in _commands(cli)[1:]:
        assert f"amili-etl {' '.join(command)}" in text, command
