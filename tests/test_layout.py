"""The tree shows the product: every module says what it is for, none imports in a circle,
none grows past ~550 lines without saying why, and the CLI keeps one module per group."""

from __future__ import annotations

import ast
from pathlib import Path

import click
import pytest

from cli.main import main

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(p for p in [*ROOT.glob("rnmail/**/*.py"), *ROOT.glob("cli/*.py")]
                 if "migrations" not in p.parts)
LONG = 550


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_at_the_top(path: Path, known: set[str]) -> set[str]:
    """The modules of ours ``path`` imports when it is imported (not inside functions nor
    under ``if TYPE_CHECKING``)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n in known}
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_module_says_what_it_is_for(path: Path) -> None:
    tree = ast.parse(path.read_text())
    assert ast.get_docstring(tree), f"{path.name} has no docstring"
    lines = path.read_text().count("\n")
    if lines > LONG:
        assert "long" in (ast.get_docstring(tree) or ""), (
            f"{lines} lines: split it, or say in its docstring why one job needs that long")


def test_no_import_cycles() -> None:
    """A cycle hidden behind an import inside a function is still a cycle: there are none,
    so no import needs to be lazy to work."""
    names = {module_name(p): p for p in MODULES}
    graph = {name: imports_at_the_top(path, set(names)) - {name}
             for name, path in names.items()}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), list(graph[start])
        while todo:
            current = todo.pop()
            if current == goal:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(graph[current])
        return False

    cycles = sorted(name for name in graph if reaches(name, name))
    assert cycles == []


def test_one_cli_module_per_command_group() -> None:
    """``rnmail ticket`` lives in ``cli/ticket.py``, and so on for every group
    (``serve-commands`` in ``cli/serve_commands.py``)."""
    ctx = click.Context(main)
    names = [name for name in main.list_commands(ctx) if name != "init"]
    assert len(names) > 20
    for name in names:
        command = main.get_command(ctx, name)
        module = command.callback.__module__ if command and command.callback else ""
        assert module == f"cli.{name.replace('-', '_')}", (name, module)


def test_no_test_module_imports_another() -> None:
    """What tests share lives in tests/harness/, so a test module can move or go alone."""
    importers = sorted(p.name for p in (ROOT / "tests").glob("test_*.py")
                       if any(isinstance(node, ast.ImportFrom) and node.module
                              and node.module.startswith("tests.test_")
                              for node in ast.walk(ast.parse(p.read_text()))))
    assert importers == []
