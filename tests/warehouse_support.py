"""Warehouse fixtures: every warehouse test runs on SQLite and on the local PostgreSQL.

Each PostgreSQL warehouse is its own database, created for the test and dropped after it, so
runs (and tests) never see each other's rows. PostgreSQL is at 127.0.0.1:5432 (user postgres,
trust auth) unless ``LEADPERSONA_TEST_POSTGRES`` names another server URL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

__all__ = ["POSTGRES", "warehouse_factory", "warehouse_url"]

POSTGRES = os.environ.get(
    "LEADPERSONA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], str]]:
    """Makes URLs of empty warehouse databases, all on one dialect."""
    created: list[str] = []
    admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")

    def make() -> str:
        name = f"lp_test_{uuid.uuid4().hex[:12]}"
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path / name}.db"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return f"{POSTGRES}/{name}"

    try:
        yield make
    finally:
        if created:
            with admin.connect() as connection:
                for name in created:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def warehouse_url(warehouse_factory: Callable[[], str]) -> str:
    """The URL of one empty warehouse database, on each dialect."""
    return warehouse_factory()
