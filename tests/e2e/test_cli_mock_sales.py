"""``leadpersona mock-api`` serves the mock sales API beside the enrichment mock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date

import httpx

from leadpersona.adapters.local_server import free_port
from leadpersona.sales.synthetic import synthetic_sales
from tests.conftest import REPO


def test_mock_api_command_serves_sales_with_its_options() -> None:
    port = free_port("127.0.0.1")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "leadpersona", "mock-api", "--port", str(port)),
            *("--api-key", "k3y", "--seed", "5", "--sales-orders-per-day", "3"),
            *("--sales-messy-rate", "0", "--sales-invalid-rate", "0"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/sales"
    params: dict[str, str | int] = {"start_date": "2026-02-01", "end_date": "2026-02-03"}
    pages = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                refused = httpx.get(url, params=params)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the mock API did not start"
                time.sleep(0.1)
        cursor = None
        while True:
            query = {**params, "limit": 4, **({"cursor": cursor} if cursor else {})}
            answer = httpx.get(url, params=query, headers={"X-API-Key": "k3y"})
            assert answer.status_code == 200, answer.text
            pages.append(answer.json()["data"])
            cursor = answer.json()["next_cursor"]
            if cursor is None:
                break
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert refused.status_code == 401
    records = [r for page in pages for r in page]
    assert records == list(
        synthetic_sales(date(2026, 2, 1), date(2026, 2, 3), seed=5, orders_per_day=3)
    )
    assert len(pages) > 1
    assert process.returncode == 0, stderr
    assert f"mock sales API on http://127.0.0.1:{port}/sales".encode() in stderr
