"""The dashboard routes under uvicorn on loopback, against the real MongoDB-wire server."""

from __future__ import annotations

import re

import httpx
import pytest

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.config import Settings
from leadpersona.entrypoints.http.app import create_app
from leadpersona.entrypoints.http.page import ASSETS, asset_bytes
from leadpersona.services.dashboard import DashboardData
from tests.dashboard_fixtures import EXPECTED, seed_dashboard
from tests.support import serve_in_thread


async def test_page_data_and_assets(database: MongoDatabase, settings_env: Settings) -> None:
    await seed_dashboard(database)

    with (
        serve_in_thread(create_app(settings_env)) as base_url,
        httpx.Client(base_url=base_url) as http,
    ):
        page = http.get("/")
        data = http.get("/dashboard/data")
        stats = http.get("/personas/stats")
        assets = {name: http.get(f"/dashboard/assets/{name}") for name in ASSETS}
        missing = http.get("/dashboard/assets/secret.txt")
        traversal = http.get("/dashboard/assets/..%2F..%2Fconfig.py")
        openapi = http.get("/openapi.json").json()

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    # Scripts come from the app itself, in dependency order; nothing from another host.
    sources = re.findall(r'<script src="([^"]+)"', html)
    assert sources == [
        "dashboard/assets/vega.min.js",
        "dashboard/assets/vega-lite.min.js",
        "dashboard/assets/vega-embed.min.js",
        "dashboard/assets/dashboard.js",
    ]
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert 'id="lead-search"' in html
    assert 'id="api-token"' not in html  # no token configured: no token field
    assert 'id="chart-matrix"' in html
    assert f'id="kpi-quarantine">{EXPECTED["quarantine_total"]}<' in html

    assert data.status_code == 200
    document = DashboardData.model_validate(data.json())
    assert document.stats == stats.json()
    assert document.stats["personas"] == EXPECTED["personas"]
    assert document.quarantine.by_reason == EXPECTED["by_reason"]
    assert len(document.runs) == 10
    assert document.mapping is not None

    for name, answer in assets.items():
        assert answer.status_code == 200, name
        assert answer.content == asset_bytes(name), name
        assert answer.headers["content-type"] == ASSETS[name][1]
    assert missing.status_code == 404
    assert traversal.status_code == 404
    assert "/dashboard/data" in openapi["paths"]
    assert "/" in openapi["paths"]


async def test_page_asks_for_the_token_when_the_api_requires_one(
    database: MongoDatabase, settings_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADPERSONA_API_TOKEN", "t0ken")
    settings = Settings()

    with serve_in_thread(create_app(settings)) as base_url, httpx.Client(base_url=base_url) as http:
        page = http.get("/")

    assert page.status_code == 200
    assert 'id="api-token"' in page.text
    assert "t0ken" not in page.text
    assert 'id="chart-matrix-empty"' in page.text  # no persona yet: a note, not an empty chart


async def test_requests_share_the_one_field_map_store_the_app_opened(
    database: MongoDatabase, settings_env: Settings
) -> None:
    app = create_app(settings_env)
    with (
        serve_in_thread(app) as base_url,
        httpx.Client(base_url=base_url) as http,
    ):
        store = app.state.leadpersona.field_maps
        assert store.path == settings_env.mapping_csv_path.resolve()
        assert store._cache is None  # nothing read yet: the store reads on first use
        first = DashboardData.model_validate(http.get("/dashboard/data").json())
        assert store._cache is not None  # the request read through the app's store
        snapshot = store.load()
        second = DashboardData.model_validate(http.get("/dashboard/data").json())
        assert app.state.leadpersona.field_maps is store
        assert store.load() is snapshot  # the parsed CSV and its memo outlive a request

    assert first.mapping is not None and first.mapping == second.mapping
    assert first.mapping.rows_read == 375
