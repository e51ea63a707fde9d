"""``leadpersona sales``: load from the mock sales API (in-process and over loopback), quality,
quarantine, report, bad input, and a load killed with SIGKILL finished by the next one; on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from leadpersona.adapters.local_server import serve_in_thread
from leadpersona.adapters.mock_sales_api import SalesMockConfig, create_sales_app
from leadpersona.adapters.warehouse.engine import make_engine
from leadpersona.config import Settings
from leadpersona.entrypoints.cli.main import app
from tests.warehouse_support import warehouse_factory, warehouse_url

__all__ = ["warehouse_factory", "warehouse_url"]

runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


@pytest.mark.usefixtures("settings_env")
def test_load_report_quality_quarantine_and_a_second_load(
    warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADPERSONA_WAREHOUSE_URL", warehouse_url)
    span = ("--start-date", "2026-01-01", "--end-date", "2026-01-10")
    first = invoke("sales", "load", *span, "--source", "api", "--json")
    assert first.exit_code == 0, first.stderr
    report = json.loads(first.stdout)
    api = report["sources"]["api"]
    assert api["read"] == api["loaded"] + api["quarantined"] + api["duplicates"]
    assert api["loaded"] > 300 and api["quarantined"] > 0 and api["status"] == "completed"

    again = json.loads(invoke("sales", "load", *span, "--source", "api", "--json").stdout)
    assert again["sources"]["api"]["read"] == 0

    revenue = invoke("sales", "report", "--json")
    assert revenue.exit_code == 0, revenue.stderr
    rows = json.loads(revenue.stdout)["rows"]
    assert {row["month"] for row in rows} == {"2026-01"}
    assert sum(row["lines"] for row in rows) <= api["loaded"]
    assert any(row["academic_field"] is None for row in rows)  # customers who are not leads
    by_category = json.loads(invoke("sales", "report", "--by", "category", "--json").stdout)
    assert len({row["category"] for row in by_category["rows"]}) >= 4

    quality = json.loads(invoke("sales", "quality", "--json").stdout)["loads"]
    assert [q["source"] for q in quality] == ["api", "api"]
    assert quality[1]["read"] == api["read"] and 0.9 < quality[1]["validity"] < 1

    quarantine = json.loads(invoke("sales", "quarantine", "--json").stdout)
    assert quarantine["count"] == api["quarantined"]
    first_reason = quarantine["records"][0]["reasons"][0]
    assert first_reason["message"] and "GET /sales page" in quarantine["records"][0]["location"]

    table = invoke("sales", "report", "--month", "2026-01")
    assert table.exit_code == 0 and "revenue by persona, 2026-01" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sales", "load", "--start-date", "2026-13-01"), "--start-date must be a date"),
        (("sales", "load", "--source", "ftp"), "unknown sales source 'ftp'"),
        (("sales", "report", "--by", "shoe_size"), "cannot group sales by shoe_size"),
        (("sales", "report", "--month", "2026-1x"), "--month must look like YYYY-MM"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


@pytest.mark.usefixtures("settings_env")
def test_shop_database_source_needs_its_url(monkeypatch: pytest.MonkeyPatch) -> None:
    result = invoke("sales", "load", "--source", "db")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "LEADPERSONA_SALES_SOURCE_URL" in lines[0]


def facts(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text(
                    "SELECT f.order_id, f.line_no, f.date_id, p.sku, c.email, f.quantity, "
                    "f.amount, f.status FROM fact_sales f "
                    "JOIN dim_product p ON p.product_key = f.product_key "
                    "JOIN dim_customer c ON c.customer_key = f.customer_key "
                    "ORDER BY 1, 2"
                )
            )
        ]


def test_a_load_killed_midway_is_finished_by_the_next(
    settings_env: Settings, warehouse_factory: Callable[[], str]
) -> None:
    config = SalesMockConfig(latency_s=0.05, orders_per_day=60)
    span = ("--start-date", "2025-06-01", "--end-date", "2025-07-31")
    with serve_in_thread(create_sales_app(config)) as url:
        killed_url = warehouse_factory()
        engine = make_engine(killed_url)
        env = {**os.environ, "LEADPERSONA_WAREHOUSE_URL": killed_url}
        env["LEADPERSONA_SALES_API_URL"] = url
        command = [sys.executable, "-m", "leadpersona", "sales", "load", "--source", "api", *span]
        try:
            process = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            deadline = time.monotonic() + 90
            pages = 0
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    with engine.connect() as connection:
                        state = connection.execute(
                            text("SELECT state FROM sales_checkpoints")
                        ).scalar()
                except Exception:  # the schema is not there yet
                    state = None
                if state is not None:
                    pages = int((json.loads(state) if isinstance(state, str) else state)["pages"])
                if pages >= 3:
                    break
                time.sleep(0.01)
            process.send_signal(signal.SIGKILL)
            _, stderr = process.communicate()
            assert pages >= 3, stderr.decode()
            with engine.connect() as connection:
                stored = connection.execute(text("SELECT count(*) FROM fact_sales")).scalar_one()
            done = json.loads(
                runner.invoke(
                    app,
                    ["sales", "load", "--source", "api", *span, "--json"],
                    env={"LEADPERSONA_WAREHOUSE_URL": killed_url, "LEADPERSONA_SALES_API_URL": url},
                ).stdout
            )
            assert 0 < stored < stored + done["sources"]["api"]["loaded"]
            twin_url = warehouse_factory()
            twin = make_engine(twin_url)
            clean = runner.invoke(
                app,
                ["sales", "load", "--source", "api", *span, "--json"],
                env={"LEADPERSONA_WAREHOUSE_URL": twin_url, "LEADPERSONA_SALES_API_URL": url},
            )
            assert clean.exit_code == 0, clean.stderr
            assert facts(engine) == facts(twin)
            with engine.connect() as connection:
                quarantined = connection.execute(
                    text("SELECT count(*) FROM sales_quarantine")
                ).scalar_one()
            assert quarantined == json.loads(clean.stdout)["sources"]["api"]["quarantined"]
            twin.dispose()
        finally:
            engine.dispose()
