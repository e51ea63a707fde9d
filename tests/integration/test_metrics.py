"""``GET /metrics`` over loopback, read from the run ledger in the real MongoDB-wire server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient

from leadpersona.config import Settings
from leadpersona.entrypoints.http.app import create_app
from tests.support import serve_in_thread


@pytest.fixture
def ledger(settings_env: Settings, mongo_uri: str) -> Iterator[str]:
    client: MongoClient[dict[str, object]] = MongoClient(mongo_uri)
    runs = client[settings_env.mongodb_db]["runs"]
    start = datetime(2026, 1, 5, 6, tzinfo=UTC)
    runs.insert_many(
        [
            {
                "_id": "e1",
                "kind": "enrich",
                "status": "completed",
                "started_at": start,
                "finished_at": start + timedelta(seconds=12),
                "counts": {"processed": 40, "api_calls": 38, "rate_limited": 3},
            },
            {
                "_id": "e2",
                "kind": "enrich",
                "status": "failed",
                "started_at": start + timedelta(hours=1),
                "counts": {"processed": 2, "api_calls": 9, "rate_limited": 0},
                "alerts": [{"kind": "step_failed", "message": "x"}],
            },
            {
                "_id": "s1",
                "kind": "sales_load",
                "status": "completed",
                "started_at": start + timedelta(hours=2),
                "finished_at": start + timedelta(hours=2, seconds=3),
                "counts": {"api": {"read": 100, "loaded": 97, "status": "completed"}},
                "alerts": [
                    {"kind": "quality", "message": "y"},
                    {"kind": "freshness", "message": "z"},
                ],
            },
        ]
    )
    try:
        with serve_in_thread(create_app(settings_env)) as base_url:
            yield base_url
    finally:
        client.drop_database(settings_env.mongodb_db)
        client.close()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_runs_alerts_and_the_last_run_of_each_kind(ledger: str) -> None:
    response = httpx.get(f"{ledger}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert found[("leadpersona_runs", (("kind", "enrich"), ("status", "completed")))] == 1
    assert found[("leadpersona_runs", (("kind", "enrich"), ("status", "failed")))] == 1
    assert found[("leadpersona_alerts", (("kind", "quality"),))] == 1
    assert found[("leadpersona_alerts", (("kind", "step_failed"),))] == 1
    assert found[("leadpersona_last_run_info", (("kind", "enrich"), ("status", "failed")))] == 1
    rate_limited = (("kind", "enrich"), ("name", "rate_limited"))
    assert found[("leadpersona_last_run_count", rate_limited)] == 0
    assert (
        found[("leadpersona_last_run_count", (("kind", "sales_load"), ("name", "api_loaded")))]
        == 97
    )
    assert found[("leadpersona_last_run_duration_seconds", (("kind", "sales_load"),))] == 3
    assert ("leadpersona_last_run_duration_seconds", (("kind", "enrich"),)) not in found
