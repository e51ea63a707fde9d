"""Shared fixtures: a real MongoDB-wire server, isolated settings, unique databases."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient, MongoClient
from pymongo.errors import PyMongoError
from tenacity import retry, retry_if_result, stop_after_delay, wait_fixed

from leadpersona.adapters.local_server import free_port
from leadpersona.adapters.mongo.connection import MongoDatabase, connect
from leadpersona.adapters.mongo.embedded import mongo_uri_for_port
from leadpersona.config import Settings
from tests import network_guard
from tests.support import stop_process

network_guard.install()

REPO = Path(__file__).resolve().parents[1]


@retry(stop=stop_after_delay(60), wait=wait_fixed(0.1), retry=retry_if_result(lambda ok: not ok))
def _wait_for_ping(uri: str) -> bool:
    client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=500)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    """A real MongoDB-wire server for the whole session.

    ``LEADPERSONA_TEST_MONGODB_URI`` selects a real mongod; otherwise secantus is started as a
    child process on a free port with a throw-away storage directory.
    """
    external = os.environ.get("LEADPERSONA_TEST_MONGODB_URI")
    if external:
        yield external
        return
    storage = Path(tempfile.mkdtemp(prefix="lp-secantus-"))
    port = free_port("127.0.0.1")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "secantus",
            "--port",
            str(port),
            "--storage-path",
            str(storage),
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    uri = mongo_uri_for_port(port)
    try:
        _wait_for_ping(uri)
        yield uri
    finally:
        stop_process(process)
        shutil.rmtree(storage, ignore_errors=True)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No LEADPERSONA_* variable or .env leaks into a test; each test runs in its own dir."""
    for name in list(os.environ):
        if name.startswith("LEADPERSONA_") and name != "LEADPERSONA_TEST_MONGODB_URI":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


def unique_db_name(prefix: str = "t") -> str:
    """A database name no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def db_name() -> str:
    return unique_db_name()


@pytest.fixture
def settings_env(
    monkeypatch: pytest.MonkeyPatch, mongo_uri: str, db_name: str, tmp_path: Path
) -> Settings:
    """Environment pointing the product at the test server, a fresh database and data dir."""
    monkeypatch.setenv("LEADPERSONA_MONGODB_URI", mongo_uri)
    monkeypatch.setenv("LEADPERSONA_MONGODB_DB", db_name)
    monkeypatch.setenv("LEADPERSONA_DATA_DIR", str(tmp_path / "data"))
    return Settings()


@pytest.fixture
async def database(mongo_uri: str, db_name: str) -> AsyncIterator[MongoDatabase]:
    """A fresh database with Beanie initialised; dropped at teardown."""
    async with connect(mongo_uri, db_name) as db:
        try:
            yield db
        finally:
            await db.client.drop_database(db_name)


@pytest.fixture
async def raw_client(mongo_uri: str) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    """A plain PyMongo client, as another system writing leads would use."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    try:
        yield client
    finally:
        await client.close()
