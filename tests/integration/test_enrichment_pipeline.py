"""The enrichment pipeline end to end: real MongoDB-wire server, the mock API over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient, monitoring

from leadpersona.adapters.enrichment_client import EnrichmentClient
from leadpersona.adapters.mock_api import MockConfig, create_app
from leadpersona.adapters.mongo.connection import MongoDatabase, connect
from leadpersona.adapters.mongo.runs import MongoRunRepository
from leadpersona.bootstrap import field_map_store, mongo_repositories, raw_archive, run_enrichment
from leadpersona.config import Settings
from leadpersona.domain.samples import DEMO_EMAIL
from leadpersona.errors import AuthenticationError, FatalEnrichmentError
from leadpersona.services.personas import PersonaService
from leadpersona.services.runs import recorded_run


def leads(count: int, *, prefix: str = "p") -> list[dict[str, Any]]:
    return [
        {
            "_id": f"{prefix}{i:05d}",
            "status": 0,
            "first_name": f"First{i}",
            "last_name": "Last",
            "email": f"{prefix}.person{i}@example.com",
            "photo_url": None,
        }
        for i in range(count)
    ]


def mock_client(config: MockConfig | None = None, **options: Any) -> EnrichmentClient:
    transport = httpx.ASGITransport(app=create_app(config or MockConfig()))
    options.setdefault("backoff_base", 0.01)
    options.setdefault("backoff_max", 0.05)
    return EnrichmentClient("http://mock.invalid", transport=transport, **options)


@pytest.fixture
async def db(settings_env: Settings, mongo_uri: str) -> AsyncIterator[MongoDatabase]:
    async with connect(mongo_uri, settings_env.mongodb_db) as database:
        try:
            yield database
        finally:
            await database.client.drop_database(settings_env.mongodb_db)


async def test_enrich_builds_personas_once_and_refresh_reuses_the_archive(
    settings_env: Settings, db: MongoDatabase
) -> None:
    rows = leads(60)
    rows[1]["email"] = rows[0]["email"].upper()  # two leads, one person: one API call
    rows[2]["email"] = None  # never sent
    rows[3]["email"] = "   "
    rows.append({"_id": "demo", "email": DEMO_EMAIL, "status": 0})
    await db["leads"].insert_many(rows)

    async with mock_client() as client:
        first = await run_enrichment(settings_env, db, client=client, batch_size=16)
    assert first.skipped == 2
    assert first.processed == 59
    assert first.enriched + first.no_data + first.failed == 59
    assert first.failed == 0
    assert first.api_calls == 58
    assert first.no_data > 0  # the mock answers some emails with success:false or 404

    assert await db["personas"].count_documents({}) == 59
    twin_a = await PersonaService(mongo_repositories(db)).get("p00000")
    twin_b = await PersonaService(mongo_repositories(db)).get("p00001")
    assert twin_a.features == twin_b.features
    assert twin_a.archive_id == twin_b.archive_id

    demo = await PersonaService(mongo_repositories(db)).get("demo")
    assert demo.status == "enriched"
    assert demo.field_of_study is not None
    assert demo.field_of_study.startswith("Diplôme d'ingénieur, Informatique")
    assert demo.features["company_type"] in {"Startup", "Mid Market", "Multi National Company"}
    assert demo.mapping_version and demo.rules_version
    # The French field of study was discovered and appended to the mapping CSV once.
    assert field_map_store(settings_env).load().is_known(demo.field_of_study)
    assert first.new_fields_of_study >= 1

    _, raw = await raw_archive(settings_env, db).latest(lead_id="demo")
    assert json.loads(raw)["person"]["lastName"] == "Keraval"

    async with mock_client() as client:
        again = await run_enrichment(settings_env, db, client=client)
    assert (again.processed, again.api_calls, again.skipped) == (0, 0, 2)

    async with mock_client() as client:
        refreshed = await run_enrichment(settings_env, db, client=client, refresh=True)
    assert refreshed.processed == 59
    assert refreshed.api_calls == 0
    assert refreshed.cache_hits == 58
    assert await db["personas"].count_documents({}) == 59
    assert await db["runs"].count_documents({"status": "completed"}) == 3


async def test_failures_are_recorded_and_only_they_are_retried(
    settings_env: Settings, db: MongoDatabase
) -> None:
    await db["leads"].insert_many(leads(20))
    async with mock_client(MockConfig(error_rate=1.0), max_retries=1) as client:
        broken = await run_enrichment(settings_env, db, client=client)
    assert broken.failed == 20
    assert broken.processed == 20
    assert await db["personas"].count_documents({}) == 0
    state = await db["enrichment"].find_one({"_id": "p00003"})
    assert state is not None
    assert state["state"] == "failed"
    assert state["attempts"] == 1
    assert "500" in state["last_error"] or "5" in state["last_error"]
    run = await db["runs"].find_one({"_id": broken.run_id})
    assert run is not None
    assert run["counts"]["failed"] == 20
    assert len(run["errors"]) == 20

    await db["leads"].insert_one({"_id": "zz", "email": "late@example.com"})
    async with mock_client(limit_check := MockConfig()) as client:
        assert limit_check.error_rate == 0
        partial = await run_enrichment(settings_env, db, client=client, limit=5)
    assert partial.processed == 5
    async with mock_client() as client:
        healed = await run_enrichment(settings_env, db, client=client)
    assert healed.processed == 16
    assert healed.failed == 0
    state = await db["enrichment"].find_one({"_id": "p00019"})
    assert state is not None
    assert state["attempts"] == 2
    assert state["state"] in {"enriched", "no_data"}


async def test_a_bad_key_stops_the_run_and_writes_no_persona(
    settings_env: Settings, db: MongoDatabase
) -> None:
    await db["leads"].insert_many(leads(10))
    async with mock_client(MockConfig(api_key="right"), api_key="wrong") as client:
        with pytest.raises(AuthenticationError):
            await run_enrichment(settings_env, db, client=client)
    assert await db["personas"].count_documents({}) == 0
    assert await db["enrichment"].count_documents({}) == 0
    run = await db["runs"].find_one({})
    assert run is not None
    assert run["status"] == "aborted"
    assert run["error"]


class _FindCommands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.finds: list[dict[str, Any]] = []
        self.active = True

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.active and event.command_name == "find":
            self.finds.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_leads_are_read_with_a_projection_in_pages(
    settings_env: Settings, mongo_uri: str
) -> None:
    listener = _FindCommands()
    monitoring.register(listener)
    try:
        raw: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
        await raw[settings_env.mongodb_db]["leads"].insert_many(leads(25))
        await raw.close()
        async with connect(mongo_uri, settings_env.mongodb_db) as database:
            async with mock_client() as client:
                await run_enrichment(settings_env, database, client=client, batch_size=10)
            await database.client.drop_database(settings_env.mongodb_db)
    finally:
        listener.active = False
    lead_finds = [f for f in listener.finds if f.get("find") == "leads"]
    assert len(lead_finds) == 1  # one cursor, read a page (10, 10, 5) per round trip
    for command in lead_finds:
        assert command["projection"] == {"email": 1}
        assert command["batchSize"] == 10
        assert command["sort"] == {"_id": 1}


async def test_no_credits_left_stops_the_run_after_one_call(
    settings_env: Settings, db: MongoDatabase
) -> None:
    await db["leads"].insert_many(leads(30))
    calls: list[str] = []

    def no_credits(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(402, json={"success": False, "message": "no credits"})

    client = EnrichmentClient(
        "http://api.invalid", transport=httpx.MockTransport(no_credits), concurrency=1
    )
    async with client:
        with pytest.raises(FatalEnrichmentError, match="no credits"):
            await run_enrichment(settings_env, db, client=client, batch_size=10)
    assert len(calls) == 1
    assert await db["personas"].count_documents({}) == 0
    run = await db["runs"].find_one({})
    assert run is not None
    assert run["status"] == "aborted"


async def test_a_reused_answer_is_linked_to_every_lead_it_serves(
    settings_env: Settings, db: MongoDatabase
) -> None:
    await db["leads"].insert_one({"_id": "first", "email": DEMO_EMAIL})
    async with mock_client() as client:
        await run_enrichment(settings_env, db, client=client)
    await db["leads"].insert_one({"_id": "second", "email": DEMO_EMAIL.upper()})
    async with mock_client() as client:
        summary = await run_enrichment(settings_env, db, client=client)
    assert (summary.api_calls, summary.cache_hits) == (0, 1)
    archive = raw_archive(settings_env, db)
    first, raw_first = await archive.latest(lead_id="first")
    second, raw_second = await archive.latest(lead_id="second")
    assert first.archive_id == second.archive_id
    assert raw_first == raw_second
    persona = await PersonaService(mongo_repositories(db)).get("second")
    assert persona.archive_id == first.archive_id


async def test_404_and_unsuccessful_answers_give_no_data_personas(
    settings_env: Settings, db: MongoDatabase
) -> None:
    await db["leads"].insert_many(
        [
            {"_id": "missing", "email": "missing@example.com"},
            {"_id": "unsuccessful", "email": "unsuccessful@example.com"},
            {"_id": "company-only", "email": "company@example.com"},
        ]
    )
    bodies: dict[str, tuple[int, dict[str, Any]]] = {
        "missing@example.com": (404, {"success": False, "message": "not found"}),
        "unsuccessful@example.com": (200, {"success": False, "person": None}),
        "company@example.com": (
            200,
            {"success": True, "person": None, "company": {"employeeCountRange": {"start": 1001}}},
        ),
    }

    def api(request: httpx.Request) -> httpx.Response:
        status, body = bodies[request.url.params["email"]]
        return httpx.Response(status, json=body)

    async with EnrichmentClient("http://api.invalid", transport=httpx.MockTransport(api)) as client:
        summary = await run_enrichment(settings_env, db, client=client)
    assert (summary.enriched, summary.no_data, summary.failed) == (1, 2, 0)
    service = PersonaService(mongo_repositories(db))
    for lead_id in ("missing", "unsuccessful"):
        persona = await service.get(lead_id)
        assert persona.status == "no_data"
        assert persona.public()["features"] == {"academic_field": None, "company_type": None}
        assert persona.archive_id is not None  # the answer is archived all the same
    company_only = await service.get("company-only")
    assert company_only.status == "enriched"
    assert company_only.public()["features"] == {
        "academic_field": None,
        "company_type": "Multi National Company",
    }
    state = await db["enrichment"].find_one({"_id": "missing"})
    assert state is not None
    assert state["state"] == "no_data"


async def test_an_interrupted_run_is_recorded_as_aborted(
    settings_env: Settings, db: MongoDatabase
) -> None:
    await db["leads"].insert_many(leads(20))

    def interrupt(done: int, total: int | None) -> None:
        raise KeyboardInterrupt

    async with mock_client() as client:
        with pytest.raises(KeyboardInterrupt):
            await run_enrichment(
                settings_env, db, client=client, batch_size=5, on_progress=interrupt
            )
    run = await db["runs"].find_one({})
    assert run is not None
    assert run["status"] == "aborted"
    assert run["error"] == "interrupted: KeyboardInterrupt"
    assert run["counts"]["processed"] == 5


class _BrokenClient(EnrichmentClient):
    """A client whose calls fail with something that is not an API error."""

    async def fetch_profile(self, email: str) -> Any:
        raise OSError("archive volume is full")


async def test_a_non_api_error_in_the_fetch_group_fails_the_run_as_itself(
    settings_env: Settings, db: MongoDatabase
) -> None:
    await db["leads"].insert_many(leads(6))
    async with _BrokenClient("http://api.invalid", concurrency=3) as client:
        with pytest.raises(OSError, match="archive volume is full") as caught:
            await run_enrichment(settings_env, db, client=client)
    assert not isinstance(caught.value, BaseExceptionGroup)
    run = await db["runs"].find_one({})
    assert run is not None
    assert run["kind"] == "enrich"
    assert run["status"] == "failed"
    assert run["error"] == "archive volume is full"
    assert await db["personas"].count_documents({}) == 0


async def test_the_mongo_run_ledger_round_trips_runs_and_their_steps(db: MongoDatabase) -> None:
    runs = MongoRunRepository(db)
    async with recorded_run(runs, "daily") as daily:
        async with recorded_run(runs, "enrich", parent_id=daily.id, details={"limit": 3}) as step:
            step.counts["processed"] = 3
            await step.checkpoint()
            assert (await db["runs"].find_one({"_id": step.id}) or {})["counts"] == {"processed": 3}
        with pytest.raises(RuntimeError):
            async with recorded_run(runs, "warehouse_sync", parent_id=daily.id):
                raise RuntimeError("warehouse unreachable")
    steps = await runs.children(daily.id)
    assert [(s.kind, s.status) for s in steps] == [
        ("enrich", "completed"),
        ("warehouse_sync", "failed"),
    ]
    assert steps[0].details == {"limit": 3}
    assert steps[1].error == "warehouse unreachable"
    parent = await runs.get(daily.id)
    assert parent is not None and parent.status == "completed" and parent.finished_at
    await db["runs"].insert_one({"_id": "old", "started_at": parent.started_at, "refresh": True})
    enrich_runs = await runs.recent(10, kind="enrich")
    assert {r.id for r in enrich_runs} == {step.id, "old"}
    assert next(r for r in enrich_runs if r.id == "old").details == {"refresh": True}
