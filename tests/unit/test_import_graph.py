"""Imports in etl/ point one way: no module imports (directly or through others) a module that imports it."""

from __future__ import annotations

import ast
from pathlib import Path

ETL = Path(__file__).resolve().parents[2] / "etl"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ETL.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in ETL.rglob("*.py")}


def _target(name: str, modules: dict[str, Path]) -> str | None:
    """The etl module `name` is (or lies in): the longest known prefix."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return None


def import_graph() -> dict[str, set[str]]:
    """module -> the etl modules it imports, at the top or inside a function (a lazy import is still an arrow)."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from etl.x import y`: y is a module of its own, or a name defined in etl.x.
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for name in names:
                if name.startswith("etl") and (target := _target(name, modules)) and target != mod:
                    graph[mod].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_no_import_circle_in_etl() -> None:
    graph = import_graph()
    assert len(graph) > 50  # the whole package was read
    assert graph["etl.pipeline"] and "etl.history" in graph["etl.pipeline"]
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_circle_finder_finds_a_planted_circle() -> None:
    graph = {"etl.a": {"etl.b"}, "etl.b": {"etl.c"}, "etl.c": {"etl.a"}, "etl.d": set()}
    assert find_cycle(graph) == ["etl.a", "etl.b", "etl.c", "etl.a"]
    assert find_cycle({"etl.a": {"etl.b"}, "etl.b": set()}) is None


def test_the_cli_is_one_package_with_its_helpers_below() -> None:
    """etl/cli/: the command modules share `support` and import no other command module; only `app` gathers them;
    no module outside etl/cli/ imports a command module (the orchestrator uses `support` alone)."""
    graph = import_graph()
    commands = {m for m in graph if m.startswith("etl.cli.") and m not in ("etl.cli.app", "etl.cli.support")}
    assert {"etl.cli.ops", "etl.cli.reconcile", "etl.cli.resolve", "etl.cli.init"} <= commands
    for m in commands:
        assert {t for t in graph[m] if t.startswith("etl.cli")} <= {"etl.cli.support"}, (m, graph[m])
    assert not {t for t in graph["etl.cli.support"] if t.startswith("etl.cli")}
    assert commands <= graph["etl.cli.app"]
    outside = {m: {t for t in ts if t.startswith("etl.cli") and t != "etl.cli.support"}
               for m, ts in graph.items() if not m.startswith("etl.cli") and m != "etl.__main__"}
    assert not any(outside.values()), {m: t for m, t in outside.items() if t}
