"""An error that is not an API answer stops ``leadpersona enrich`` with one error line and the
run recorded as failed (never an exception group, never a traceback)."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Sequence
from typing import Any

import pytest
from typer.testing import CliRunner

from leadpersona import bootstrap
from leadpersona.adapters.archive import ArchivedAnswer, GridFSArchive, RawArchive
from leadpersona.adapters.enrichment_client import EnrichmentClient, FetchResult
from leadpersona.adapters.mongo.connection import MongoDatabase, connect
from leadpersona.config import Settings
from leadpersona.entrypoints.cli.main import app

runner = CliRunner()


class _FullArchive(GridFSArchive):
    """The real archive, on a volume that has just filled up."""

    async def put_many(
        self, items: Sequence[tuple[FetchResult, Sequence[str]]]
    ) -> list[ArchivedAnswer]:
        raise OSError(errno.ENOSPC, "No space left on device")


def _runs(settings: Settings) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        assert settings.mongodb_uri is not None
        async with connect(settings.mongodb_uri, settings.mongodb_db) as database:
            return [run async for run in database["runs"].find({})]

    return asyncio.run(read())


class _UnpluggedClient(EnrichmentClient):
    """A client whose calls, run concurrently in the enrichment's task group, fail with an
    error that is not an API answer."""

    async def fetch_profile(self, email: str) -> Any:
        raise OSError(errno.EIO, "Input/output error")


def _full_archive(settings: Settings, database: MongoDatabase) -> RawArchive:
    return _FullArchive(database)


def _unplugged_client(settings: Settings) -> EnrichmentClient:
    return _UnpluggedClient("http://api.invalid", concurrency=3)


@pytest.mark.parametrize(
    ("adapter", "replacement", "message"),
    [
        ("raw_archive", _full_archive, "No space left on device"),
        ("enrichment_client", _unplugged_client, "Input/output error"),
    ],
    ids=["archive", "fetch-task-group"],
)
def test_a_non_api_error_ends_the_run_as_failed_with_one_error_line(
    settings_env: Settings,
    monkeypatch: pytest.MonkeyPatch,
    adapter: str,
    replacement: Any,
    message: str,
) -> None:
    seeded = runner.invoke(app, ["leads", "seed", "--count", "6", "--json"])
    assert seeded.exit_code == 0, seeded.stderr
    monkeypatch.setattr(bootstrap, adapter, replacement)

    result = runner.invoke(app, ["enrich", "--json"])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"error: {message}"]
    [run] = _runs(settings_env)
    assert (run["kind"], run["status"]) == ("enrich", "failed")
    assert message in run["error"]
