"""The persona commands as users run them: enrich, persona get/update/find/stats."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from typer.testing import CliRunner

from leadpersona.adapters.mock_api import MockConfig, create_app
from leadpersona.config import Settings
from leadpersona.entrypoints.cli.main import app
from tests.support import serve_in_thread

runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def seeded(settings_env: Settings, mongo_uri: str) -> Any:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    db = client[settings_env.mongodb_db]
    db["leads"].insert_many(
        [
            {"_id": f"c{i:04d}", "email": f"cli.person{i}@example.org", "status": 0}
            for i in range(40)
        ]
    )
    try:
        yield db
    finally:
        client.drop_database(settings_env.mongodb_db)
        client.close()


def test_enrich_then_query_personas(seeded: Any) -> None:
    result = invoke("enrich", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    for key in (
        "processed",
        "enriched",
        "no_data",
        "failed",
        "skipped",
        "api_calls",
        "cache_hits",
        "duration_s",
        "credits_left",
    ):
        assert key in summary
    assert summary["processed"] == 40

    persona = json.loads(invoke("persona", "get", "c0001", "--json").stdout)
    assert persona["lead_id"] == "c0001"
    assert set(persona["features"]) >= {"academic_field", "company_type"}

    updated = invoke(
        "persona", "update", "c0001", "--set", "company_type=Startup", "--set", "tier=2", "--json"
    )
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.stdout)["features"]["tier"] == 2

    found = json.loads(invoke("persona", "find", "--company-type", "Startup", "--json").stdout)
    assert "c0001" in found["lead_ids"]
    assert found["count"] == len(found["lead_ids"])
    by_tier = json.loads(invoke("persona", "find", "--feature", "tier=2", "--json").stdout)
    assert by_tier == {"lead_ids": ["c0001"], "count": 1}
    count = json.loads(invoke("persona", "find", "--feature", "tier=2", "--count", "--json").stdout)
    assert count == {"count": 1}
    plain = invoke("persona", "find", "--feature", "tier=2")
    assert plain.stdout.split() == ["c0001"]

    stats = json.loads(invoke("persona", "stats", "--json").stdout)
    assert stats["personas"] == 40
    assert invoke("persona", "stats").exit_code == 0
    assert "persona of lead c0001" in invoke("persona", "get", "c0001").stdout

    refreshed = json.loads(invoke("enrich", "--refresh", "--json").stdout)
    assert refreshed["api_calls"] == 0
    kept = json.loads(invoke("persona", "get", "c0001", "--json").stdout)
    assert kept["features"]["company_type"] == "Startup"
    assert kept["features"]["tier"] == 2


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("persona", "get", "nobody"), 3, "no persona for lead nobody"),
        (("persona", "find", "--company-type", "startup"), 2, "company_type must be one of"),
        (("persona", "update", "c0001", "--set", "bad name=1"), 2, "invalid feature name"),
        (("persona", "update", "c0001"), 2, "nothing to update"),
    ],
)
def test_bad_input_gives_one_line_and_an_exit_code(
    seeded: Any, args: tuple[str, ...], code: int, message: str
) -> None:
    invoke("enrich", "--limit", "2")
    result = runner.invoke(app, list(args))
    assert result.exit_code == code
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_a_bad_api_key_stops_the_run_with_one_line(
    seeded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_in_thread(create_app(MockConfig(api_key="right"))) as url:
        monkeypatch.setenv("LEADPERSONA_LINKEDIN_API_URL", url)
        monkeypatch.setenv("LEADPERSONA_LINKEDIN_API_KEY", "wrong")
        result = runner.invoke(app, ["enrich"])
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert seeded["personas"].count_documents({}) == 0


def test_a_killed_run_is_finished_by_the_next_one_without_duplicates(
    seeded: Any, settings_env: Settings, tmp_path: Path
) -> None:
    config = MockConfig(latency_s=0.05)
    mock = create_app(config)
    with serve_in_thread(mock) as url:
        env = {**os.environ, "LEADPERSONA_LINKEDIN_API_URL": url}
        env["LEADPERSONA_LINKEDIN_CONCURRENCY"] = "2"
        command = [sys.executable, "-m", "leadpersona", "enrich", "--batch-size", "5", "--json"]
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path
        )
        deadline = time.monotonic() + 60
        while seeded["personas"].count_documents({}) < 5:
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        done_before = seeded["personas"].count_documents({})
        assert 5 <= done_before < 40

        finish = subprocess.run(command, env=env, capture_output=True, timeout=120, check=True)
    summary = json.loads(finish.stdout)
    assert summary["processed"] == 40 - done_before
    assert seeded["personas"].count_documents({}) == 40
    assert len(seeded["personas"].distinct("_id")) == 40
    states = list(seeded["runs"].find({}, {"status": 1}))
    assert sorted(run["status"] for run in states) == ["completed", "running"]
    # Every email cost one call, except those in flight when the first run was killed.
    assert mock.state.mock.requests <= 40 + 2 * 5
