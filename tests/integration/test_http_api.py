"""The persona HTTP API under uvicorn on loopback, against the real MongoDB-wire server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from pymongo import MongoClient

from leadpersona.adapters.mongo.persona_store import to_document
from leadpersona.config import Settings
from leadpersona.domain.persona import FeatureProvenance, Persona
from leadpersona.entrypoints.http.app import create_app
from tests.support import serve_in_thread

TOKEN = "s3cret-token"
TYPES = ["Startup", "Mid Market", "Multi National Company"]


@pytest.fixture
def api(settings_env: Settings, monkeypatch: pytest.MonkeyPatch, mongo_uri: str) -> Iterator[str]:
    monkeypatch.setenv("LEADPERSONA_API_TOKEN", TOKEN)
    settings = Settings()
    client: MongoClient[dict[str, object]] = MongoClient(mongo_uri)
    now = datetime.now(UTC)
    personas = [
        Persona(
            lead_id=f"lead{i:03d}",
            features={
                "academic_field": "law" if i % 2 else "marketing",
                "company_type": TYPES[i % 3],
            },
            provenance={"company_type": FeatureProvenance(source="rule", employee_count=10)},
            computed_at=now,
            updated_at=now,
        )
        for i in range(25)
    ]
    client[settings.mongodb_db]["personas"].insert_many([to_document(p) for p in personas])
    client[settings.mongodb_db]["leads"].insert_many(
        [{"_id": f"lead{i:03d}", "email": f"l{i}@example.com"} for i in range(30)]
    )
    try:
        with serve_in_thread(create_app(settings)) as base_url:
            yield base_url
    finally:
        client.drop_database(settings.mongodb_db)
        client.close()


def test_health_get_and_not_found(api: str) -> None:
    with httpx.Client(base_url=api) as http:
        assert http.get("/health").status_code == 200
        answer = http.get("/leads/lead001/persona")
        assert answer.status_code == 200
        assert answer.json()["features"] == {"academic_field": "law", "company_type": "Mid Market"}
        assert answer.json()["lead_id"] == "lead001"
        missing = http.get("/leads/nobody/persona")
        assert missing.status_code == 404
        assert "nobody" in missing.json()["detail"]
        assert http.get("/leads/nobody/raw").status_code == 404
        assert http.get("/openapi.json").json()["info"]["title"] == "leadpersona"


def test_patch_needs_the_token_and_validates(api: str) -> None:
    with httpx.Client(base_url=api) as http:
        body = {"features": {"company_type": "Startup", "seniority": "senior"}}
        assert http.patch("/leads/lead001/persona", json=body).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert http.patch("/leads/lead001/persona", json=body, headers=wrong).status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        answer = http.patch("/leads/lead001/persona", json=body, headers=auth)
        assert answer.status_code == 200
        assert answer.json()["features"]["seniority"] == "senior"
        assert answer.json()["provenance"]["company_type"]["source"] == "manual"
        removed = http.patch(
            "/leads/lead001/persona", json={"features": {"seniority": None}}, headers=auth
        )
        assert "seniority" not in removed.json()["features"]
        for bad in (
            {"features": {"company_type": "Tiny"}},
            {"features": {"$set": "x"}},
            {"features": {"x": {"$ne": 1}}},
            {"features": {}},
            {"features": {"a": 1}, "$where": "1"},
            {},
        ):
            assert http.patch("/leads/lead001/persona", json=bad, headers=auth).status_code == 422
        assert http.patch("/leads/nobody/persona", json=body, headers=auth).status_code == 404
        assert http.get("/leads/lead001/persona").json()["features"]["company_type"] == "Startup"


def test_find_pages_and_rejects_operator_injection(api: str) -> None:
    with httpx.Client(base_url=api) as http:
        seen: list[str] = []
        params: dict[str, str | int] = {"academic_field": "Law", "limit": 5}
        while True:
            page = http.get("/personas/leads", params=params).json()
            seen += page["lead_ids"]
            if page["next"] is None:
                break
            params["after"] = page["next"]
        assert seen == [f"lead{i:03d}" for i in range(1, 25, 2)]
        both = http.get(
            "/personas/leads", params={"academic_field": "law", "company_type": "Startup"}
        ).json()
        assert both == {"lead_ids": ["lead003", "lead009", "lead015", "lead021"], "next": None}
        by_feature = http.get("/personas/leads", params={"feature": "company_type=Startup"})
        assert len(by_feature.json()["lead_ids"]) == 9
        for query in (
            "company_type[$ne]=x",
            "company_type=startup",
            "limit=0",
            "after[$gt]=a",
            "feature=$where=1",
            "academic_field=law&$where=1",
        ):
            assert http.get(f"/personas/leads?{query}").status_code == 422, query


def test_stats(api: str) -> None:
    with httpx.Client(base_url=api) as http:
        stats = http.get("/personas/stats").json()
    assert stats["total_leads"] == 30
    assert stats["personas"] == 25
    assert stats["coverage"] == pytest.approx(25 / 30, abs=1e-4)
    assert sum(row["count"] for row in stats["matrix"]) == 25
