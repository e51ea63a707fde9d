"""The layers' import rules (README, architecture): checked on the source, so a break fails fast.

- ``domain/`` is pure: it imports no database driver, HTTP client or SQL toolkit.
- ``services/`` reach MongoDB through repositories in ``adapters/``: a service that does not
  import the driver today must never start to. The services listed in ``DRIVER_STILL_USED``
  still do; the list may only shrink (a listed service that stops importing the driver fails
  the test until it is taken off the list).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import leadpersona

PACKAGE = Path(leadpersona.__file__).parent
DRIVERS = {"pymongo", "beanie", "motor", "gridfs", "bson"}
IO_LIBRARIES = DRIVERS | {"httpx", "sqlalchemy", "alembic", "psycopg", "boto3", "aiobotocore"}
DRIVER_STILL_USED: set[str] = set()


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted((PACKAGE / "domain").rglob("*.py")), ids=lambda p: p.name)
def test_the_domain_does_no_io(path: Path) -> None:
    assert imported_roots(path) & IO_LIBRARIES == set()


@pytest.mark.parametrize("path", sorted((PACKAGE / "services").rglob("*.py")), ids=lambda p: p.name)
def test_services_reach_the_database_through_repositories(path: Path) -> None:
    uses_driver = bool(imported_roots(path) & DRIVERS)
    assert uses_driver == (path.name in DRIVER_STILL_USED), (
        f"{path.name}: take it off DRIVER_STILL_USED"
        if path.name in DRIVER_STILL_USED
        else f"{path.name} imports a MongoDB driver; use a repository in adapters/"
    )


def test_every_form_of_import_is_seen(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text(
        "import pymongo.errors\nfrom beanie import Document\nfrom . import sibling\n"
        "def f():\n    import motor\n",
        encoding="utf-8",
    )
    assert imported_roots(source) == {"pymongo", "beanie", "motor"}


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


@pytest.mark.parametrize("path", sorted((PACKAGE / "services").rglob("*.py")), ids=lambda p: p.name)
def test_services_are_handed_their_adapters(path: Path) -> None:
    # bootstrap.py builds adapters from the settings; a service that imported it would build
    # its own (and bootstrap imports the services, so it would also be a cycle).
    assert "leadpersona.bootstrap" not in imported_modules(path)
