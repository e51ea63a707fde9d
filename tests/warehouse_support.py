"""Warehouse fixtures: every warehouse test runs on SQLite and on the local PostgreSQL.

Each PostgreSQL test gets its own database, created and dropped around it, so runs (and
tests) never see each other's rows. PostgreSQL is at 127.0.0.1:5432 (user postgres, trust
auth) unless ``LEADPERSONA_TEST_POSTGRES`` names another server URL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

__all__ = ["POSTGRES", "warehouse_url"]

POSTGRES = os.environ.get(
    "LEADPERSONA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty warehouse database, on each dialect."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
        return
    name = f"lp_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
