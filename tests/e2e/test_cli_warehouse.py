"""``leadpersona warehouse migrate`` on SQLite (the default) and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient
from typer.testing import CliRunner

from leadpersona.config import Settings
from leadpersona.entrypoints.cli.main import app
from tests.warehouse_support import warehouse_factory, warehouse_url

__all__ = ["warehouse_factory", "warehouse_url"]

runner = CliRunner()


def test_migrate_up_down_and_bad_revision(
    warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADPERSONA_WAREHOUSE_URL", warehouse_url)
    first = runner.invoke(app, ["warehouse", "migrate", "--json"])
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout) | {"warehouse": ""} == {
        "warehouse": "",
        "from": None,
        "to": "0006_persona_archive_id",
    }
    again = runner.invoke(app, ["warehouse", "migrate"])
    assert again.exit_code == 0
    assert "0006_persona_archive_id → 0006_persona_archive_id" in again.stdout
    down = runner.invoke(app, ["warehouse", "migrate", "--revision", "base", "--json"])
    assert json.loads(down.stdout)["to"] is None
    bad = runner.invoke(app, ["warehouse", "migrate", "--revision", "nope"])
    assert bad.exit_code == 1 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        "error: cannot migrate to 'nope': Can't locate revision identified by 'nope'"
    ]


def test_default_warehouse_is_sqlite_in_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["warehouse", "migrate", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["warehouse"].endswith("/warehouse.db")


def test_unreachable_server_is_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADPERSONA_WAREHOUSE_URL", "postgresql+psycopg://u:hunter2@127.0.0.1:1/x")
    result = runner.invoke(app, ["warehouse", "migrate"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "hunter2" not in lines[0] and "u:***@127.0.0.1:1" in lines[0]


@pytest.fixture
def enriched(settings_env: Settings, mongo_uri: str) -> Iterator[None]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    db = client[settings_env.mongodb_db]
    db["leads"].insert_many(
        [{"_id": f"w{i:04d}", "email": f"wh.person{i}@example.org", "status": 0} for i in range(12)]
    )
    try:
        assert runner.invoke(app, ["enrich"]).exit_code == 0
        yield
    finally:
        client.drop_database(settings_env.mongodb_db)
        client.close()


@pytest.mark.usefixtures("enriched")
def test_sync_then_nothing_to_do(warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPERSONA_WAREHOUSE_URL", warehouse_url)
    first = runner.invoke(app, ["warehouse", "sync", "--json"])
    assert first.exit_code == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["inserted"]["leads"] == 12 and report["inserted"]["personas"] == 12
    assert set(report["stage_seconds"]) == {"extract", "transform", "load"}
    assert report["stage_seconds"]["extract"] > 0 and report["stage_seconds"]["load"] > 0
    again = runner.invoke(app, ["warehouse", "sync"])
    assert again.exit_code == 0 and "incremental" in again.stdout
    assert "extract" in again.stdout and "load" in again.stdout
    full = json.loads(runner.invoke(app, ["warehouse", "sync", "--full", "--json"]).stdout)
    assert full["full"] is True and full["inserted"]["leads"] == 0
