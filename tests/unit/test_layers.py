"""The layers' import rules (README, architecture): checked on the source, so a break fails fast.

- ``domain/`` is pure: it imports no database driver, HTTP client or SQL toolkit.
- ``services/`` reach MongoDB through repositories in ``adapters/``: a service that does not
  import the driver today must never start to. The services listed in ``DRIVER_STILL_USED``
  still do; the list may only shrink (a listed service that stops importing the driver fails
  the test until it is taken off the list).
- ``services/`` are handed their adapters: they neither import ``bootstrap`` nor instantiate an
  adapter class (the field map store, archives, API client, repositories, sales sources).
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import inspect
from pathlib import Path

import pytest
from pydantic import BaseModel

import leadpersona

PACKAGE = Path(leadpersona.__file__).parent
DRIVERS = {"pymongo", "beanie", "motor", "gridfs", "bson"}
IO_LIBRARIES = DRIVERS | {"httpx", "sqlalchemy", "alembic", "psycopg", "boto3", "aiobotocore"}
DRIVER_STILL_USED: set[str] = set()
#: Warehouse writers a service makes for one transaction it runs (on a connection or run id it
#: holds): a unit of work, not an adapter chosen from the settings.
WRITERS_OF_A_TRANSACTION = {"WarehouseWriter", "SalesWriter"}
#: Where the classes a service is handed come from (the sales sources among them).
ADAPTER_PACKAGES = ("leadpersona.adapters", "leadpersona.mapping", "leadpersona.sales.sources")
#: Functions that open an adapter from the settings: bootstrap's to call.
OPENERS = {"make_engine"}


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


def _is_value_type(cls: type) -> bool:
    """Data a service may build: records, models, enums, errors, not adapters."""
    return (
        dataclasses.is_dataclass(cls)
        or issubclass(cls, (BaseModel, enum.Enum, BaseException, tuple, dict))
        or getattr(cls, "__total__", None) is not None  # TypedDict
    )


def adapter_constructions(path: Path) -> set[str]:
    """The adapter classes (from ``ADAPTER_PACKAGES``) that ``path`` instantiates, and the
    ``OPENERS`` it calls."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: dict[str, tuple[str, str]] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.startswith(ADAPTER_PACKAGES)
        ):
            for alias in node.names:
                imported[alias.asname or alias.name] = (node.module, alias.name)
    built: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            origin = imported.get(node.func.id)
            if origin is None:
                continue
            if origin[1] in OPENERS:
                built.add(origin[1])
                continue
            found = getattr(importlib.import_module(origin[0]), origin[1])
            if (
                inspect.isclass(found)
                and not _is_value_type(found)
                and origin[1] not in WRITERS_OF_A_TRANSACTION
            ):
                built.add(origin[1])
    return built


@pytest.mark.parametrize("path", sorted((PACKAGE / "services").rglob("*.py")), ids=lambda p: p.name)
def test_services_never_build_adapters(path: Path) -> None:
    # The field map store, the archives, the API clients, the repositories and the sales
    # sources are built in bootstrap.py from the settings and handed over.
    assert adapter_constructions(path) == set()


def test_a_constructed_adapter_is_seen(tmp_path: Path) -> None:
    source = tmp_path / "service.py"
    source.write_text(
        "from leadpersona.mapping import FieldMapStore, MappingResult\n"
        "from leadpersona.adapters.archive import GridFSArchive\n"
        "from leadpersona.adapters.warehouse.engine import make_engine\n"
        "from leadpersona.sales.sources.files import FileInboxSource\n"
        "def f(path, database, settings):\n"
        "    FileInboxSource(path), make_engine(settings.warehouse_url)\n"
        "    MappingResult(field_of_study='x', academic_field=None, source=None,"
        " confidence=None)\n"
        "    return FieldMapStore(path), GridFSArchive(database)\n",
        encoding="utf-8",
    )
    assert adapter_constructions(source) == {
        "FieldMapStore",
        "GridFSArchive",
        "FileInboxSource",
        "make_engine",
    }


def test_the_mapping_package_keeps_no_store_per_process() -> None:
    # One store per process is the entry point's to keep (the HTTP app's state), not a
    # module-level cache that outlives the settings it was opened with.
    import leadpersona.mapping.store as store

    assert not hasattr(store, "open_field_map")
    tree = ast.parse(Path(store.__file__).read_text(encoding="utf-8"))
    module_dicts = [
        node
        for node in tree.body
        if isinstance(node, ast.AnnAssign | ast.Assign)
        and isinstance(node.value, ast.Dict | ast.Call)
        and "Store" in ast.unparse(node)
    ]
    assert module_dicts == []


@pytest.mark.parametrize(
    "path",
    sorted(
        path
        for package in ("adapters", "mapping", "sales")
        for path in (PACKAGE / package).rglob("*.py")
    ),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_adapters_do_not_read_the_settings(path: Path) -> None:
    # bootstrap reads the settings and hands adapters what they need.
    source = path.read_text(encoding="utf-8")
    assert "leadpersona.config" not in source, f"{path.name} reads the settings"
