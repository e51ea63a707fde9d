"""``leadpersona archive get`` and ``leadpersona mock-api``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from typer.testing import CliRunner

from leadpersona.adapters.archive import ArchivedAnswer
from leadpersona.adapters.local_server import free_port
from leadpersona.adapters.mock_api import example_answer_bytes
from leadpersona.adapters.mongo.connection import connect
from leadpersona.bootstrap import enrichment_client, raw_archive
from leadpersona.config import Settings
from leadpersona.domain.samples import DEMO_EMAIL
from leadpersona.entrypoints.cli.main import app
from tests.conftest import REPO

runner = CliRunner()


def enrich_and_archive(settings: Settings, emails: dict[str, list[str]]) -> list[ArchivedAnswer]:
    """Fetch through the in-process mock and archive, as the pipeline does."""

    async def work() -> list[ArchivedAnswer]:
        stored = []
        assert settings.mongodb_uri is not None
        async with (
            connect(settings.mongodb_uri, settings.mongodb_db) as database,
            enrichment_client(settings) as client,
        ):
            archive = raw_archive(settings, database)
            await archive.ensure_indexes()
            for email, lead_ids in emails.items():
                stored.append(await archive.put(await client.fetch_profile(email), lead_ids))
        return stored

    return asyncio.run(work())


def test_archive_get_prints_the_raw_answer_exactly(settings_env: Settings) -> None:
    enrich_and_archive(settings_env, {DEMO_EMAIL: ["lead-demo", "lead-twin"]})
    result = runner.invoke(app, ["archive", "get", "lead-twin"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == example_answer_bytes()


def test_archive_get_json(settings_env: Settings) -> None:
    (stored,) = enrich_and_archive(settings_env, {DEMO_EMAIL: ["lead-demo"]})
    result = runner.invoke(app, ["archive", "get", "lead-demo", "--json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["lead_id"] == "lead-demo"
    assert document["answer"] == json.loads(example_answer_bytes())
    assert document["archive"]["archive_id"] == stored.archive_id
    assert document["archive"]["sha256"] == stored.sha256
    assert document["archive"]["status_code"] == 200


def test_archive_get_all_versions(settings_env: Settings) -> None:
    first = enrich_and_archive(settings_env, {DEMO_EMAIL: ["lead-v"]})
    second = enrich_and_archive(settings_env, {DEMO_EMAIL: ["lead-v"]})
    result = runner.invoke(app, ["archive", "get", "lead-v", "--all", "--json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["count"] == 2
    ids = [v["archive"]["archive_id"] for v in document["versions"]]
    assert ids == [second[0].archive_id, first[0].archive_id]
    table = runner.invoke(app, ["archive", "get", "lead-v", "--all"])
    assert table.exit_code == 0, table.stderr
    assert first[0].archive_id in table.stdout and second[0].archive_id in table.stdout


@pytest.mark.usefixtures("settings_env")
def test_archive_get_unknown_lead_is_one_line() -> None:
    for extra in ([], ["--all"], ["--json"]):
        result = runner.invoke(app, ["archive", "get", "no-such-lead", *extra])
        assert result.exit_code == 3
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert lines == ["error: no archived API answer for lead no-such-lead"]


def test_mock_api_command_serves_until_terminated() -> None:
    port = free_port("127.0.0.1")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "leadpersona", "mock-api", "--port", str(port)),
            *("--mode", "fixture", "--api-key", "k3y"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/get_linkedin_data"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ok = httpx.get(url, params={"email": "x@example.com"}, headers={"X-API-Key": "k3y"})
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the mock API did not start"
                time.sleep(0.1)
        refused = httpx.get(url, params={"email": "x@example.com"})
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert ok.status_code == 200 and ok.content == example_answer_bytes()
    assert refused.status_code == 401
    assert process.returncode == 0, stderr
    assert b"Traceback" not in stderr
