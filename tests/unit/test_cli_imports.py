"""The command line is put together in one place: ``cli/main.py`` registers every command group,
and no command module imports it back (so none can be part of an import cycle through it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import typer

import leadpersona.entrypoints.cli as cli_package
from leadpersona.entrypoints.cli.main import app

PACKAGE = Path(cli_package.__file__).parent
MODULES = sorted(path for path in PACKAGE.glob("*.py") if path.stem not in {"__init__", "main"})


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_no_command_module_imports_the_entry_point(path: Path) -> None:
    assert "leadpersona.entrypoints.cli.main" not in imported_modules(path)


def test_every_command_is_registered() -> None:
    command = typer.main.get_command(app)
    assert isinstance(command, typer.core.TyperGroup)
    assert list(command.commands) == [
        "init",
        "demo",
        "enrich",
        "mock-api",
        "report",
        "run",
        "runs",
        "serve",
        "archive",
        "leads",
        "mapping",
        "persona",
        "sales",
        "warehouse",
    ]
