"""``leadpersona run`` and ``runs``: steps recorded, a failing step alerts a loopback webhook,
two runs at once are refused, and a SIGKILLed holder leaves no stale lock."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient
from typer.testing import CliRunner

from leadpersona.adapters.run_lock import run_lock
from leadpersona.config import Settings
from leadpersona.entrypoints.cli.main import app
from tests.warehouse_support import warehouse_factory, warehouse_url
from tests.webhook_support import webhook_server

__all__ = ["warehouse_factory", "warehouse_url"]

runner = CliRunner()


@pytest.fixture
def with_leads(settings_env: Settings, mongo_uri: str) -> Iterator[MongoClient[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    client[settings_env.mongodb_db]["leads"].insert_many(
        [
            {"_id": f"d{i:04d}", "email": f"daily.person{i}@example.org", "status": 0}
            for i in range(8)
        ]
    )
    try:
        yield client
    finally:
        client.drop_database(settings_env.mongodb_db)
        client.close()


def test_run_records_a_step_each_and_runs_lists_them(
    with_leads: MongoClient[dict[str, Any]], warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADPERSONA_WAREHOUSE_URL", warehouse_url)
    first = runner.invoke(app, ["run", "--json"])
    assert first.exit_code == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["status"] == "completed"
    assert [(s["kind"], s["status"]) for s in report["steps"]] == [
        ("enrich", "completed"),
        ("warehouse_sync", "completed"),
        ("sales_load", "completed"),
    ]
    assert report["steps"][0]["counts"]["processed"] == 8
    assert report["steps"][1]["counts"]["inserted"] > 0
    sold = report["steps"][2]["counts"]
    assert sold["loaded"] > 0
    assert sold["read"] == sold["loaded"] + sold["quarantined"] + sold["duplicates"]

    again = json.loads(runner.invoke(app, ["run", "--json"]).stdout)
    assert again["steps"][0]["counts"]["processed"] == 0  # finished work is not redone
    assert again["steps"][1]["counts"] == {"inserted": 0, "updated": 0, "deleted": 0}
    # Only today's sales (the day is not over) are read again: nothing new to store.
    assert again["steps"][2]["counts"]["loaded"] == 0

    listed = runner.invoke(app, ["runs", "--last", "3", "--json"])
    assert listed.exit_code == 0, listed.stderr
    ledger = json.loads(listed.stdout)
    assert [r["kind"] for r in ledger] == ["sales_load", "warehouse_sync", "enrich"]
    assert {r["parent_id"] for r in ledger} == {again["run_id"]}
    assert all(r["status"] == "completed" for r in ledger)
    human = runner.invoke(app, ["runs"])
    assert human.exit_code == 0 and "daily" in human.stdout


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_failing_enrich_step_stops_the_run_and_alerts_the_webhook(
    with_leads: MongoClient[dict[str, Any]], settings_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADPERSONA_LINKEDIN_API_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("LEADPERSONA_LINKEDIN_MAX_RETRIES", "0")
    with webhook_server() as hook:
        monkeypatch.setenv("LEADPERSONA_ALERT_WEBHOOK", hook.url)
        result = runner.invoke(app, ["run", "--json"])
        assert result.exit_code == 1
        report = json.loads(result.stdout)
        assert report["status"] == "failed"
        assert [s["kind"] for s in report["steps"]] == ["enrich"]  # stopped at the first failure
        assert "8 of 8 enrichment calls failed" in report["error"]
        assert f"alert [step_failed] run {report['run_id']}" in result.stderr
        assert [a["kind"] for a in hook.received] == ["step_failed"]
        assert hook.received[0]["run_id"] == report["run_id"]

        alone = runner.invoke(app, ["enrich", "--json"])
        assert alone.exit_code == 1
        assert json.loads(alone.stdout)["status"] == "failed"
        assert len(hook.received) == 2

    daily = with_leads[settings_env.mongodb_db]["runs"].find_one({"_id": report["run_id"]})
    assert daily is not None and daily["status"] == "failed"
    assert daily["alerts"][0]["kind"] == "step_failed"


def test_a_second_run_is_refused_and_a_killed_holder_leaves_no_lock(
    settings_env: Settings,
) -> None:
    lock = settings_env.data_dir / "run.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path;"
            "from leadpersona.adapters.run_lock import run_lock\n"
            f"with run_lock(Path({str(lock)!r})):\n"
            "    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        refused = runner.invoke(app, ["run"])
        assert refused.exit_code == 1
        assert refused.stderr.strip() == (
            f"error: another run is in progress (pid {holder.pid}); try later"
        )
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()

    with run_lock(lock):  # the kernel released the killed holder's lock
        assert lock.read_text() == str(os.getpid())


def test_low_persona_coverage_raises_a_quality_alert(
    with_leads: MongoClient[dict[str, Any]],
    settings_env: Settings,
    warehouse_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADPERSONA_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("LEADPERSONA_PERSONA_MIN_COVERAGE", "0.95")
    # A lead without an email gets no persona: 8 of 9 leads have one.
    with_leads[settings_env.mongodb_db]["leads"].insert_one({"_id": "d9999", "status": 0})
    result = runner.invoke(app, ["run", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    quality = [a for a in report["alerts"] if a["kind"] == "quality"]
    assert any("persona coverage 88.9% is below 95%" in a["message"] for a in quality)
    assert "alert [quality]" in result.stderr


def test_a_failing_warehouse_sync_step_stops_the_run(
    with_leads: MongoClient[dict[str, Any]], settings_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "LEADPERSONA_WAREHOUSE_URL", f"postgresql+psycopg://nobody@127.0.0.1:{_closed_port()}/x"
    )
    result = runner.invoke(app, ["run", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [(s["kind"], s["status"]) for s in report["steps"]] == [
        ("enrich", "completed"),
        ("warehouse_sync", "failed"),
    ]
    assert report["error"].startswith("step warehouse_sync failed:")
    assert "step_failed" in [a["kind"] for a in report["alerts"]]


def test_a_failing_sales_load_step_stops_the_run_and_the_next_run_finishes(
    with_leads: MongoClient[dict[str, Any]],
    settings_env: Settings,
    warehouse_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADPERSONA_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv(
        "LEADPERSONA_SALES_SOURCE_URL", f"postgresql+psycopg://shop@127.0.0.1:{_closed_port()}/x"
    )
    result = runner.invoke(app, ["run", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [(s["kind"], s["status"]) for s in report["steps"]] == [
        ("enrich", "completed"),
        ("warehouse_sync", "completed"),
        ("sales_load", "failed"),
    ]
    assert "sales source db" in report["error"]
    assert "alert [step_failed]" in result.stderr
    # The other sources were loaded; once the shop database is fixed, the next run finishes.
    monkeypatch.delenv("LEADPERSONA_SALES_SOURCE_URL")
    again = json.loads(runner.invoke(app, ["run", "--json"]).stdout)
    assert again["status"] == "completed"
    assert again["steps"][2]["counts"]["loaded"] == 0  # the API's lines are already stored
