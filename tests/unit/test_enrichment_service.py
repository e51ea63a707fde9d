"""The enrichment service on in-memory repositories and archive, with the mock API in process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from leadpersona.adapters.enrichment_client import EnrichmentClient
from leadpersona.adapters.field_map_csv import ensure_working_copy
from leadpersona.adapters.mock_api import MockConfig, create_app
from leadpersona.adapters.repositories import LeadContact, Repositories
from leadpersona.config import Settings
from leadpersona.errors import AuthenticationError
from leadpersona.mapping import FieldMapStore
from leadpersona.services.enrichment import enrich_leads
from leadpersona.services.runs import ERRORS_KEPT
from leadpersona.services.wiring import Wired
from tests.fakes import (
    InMemoryArchive,
    InMemoryEnrichmentStateRepository,
    InMemoryLeadRepository,
    InMemoryPersonaRepository,
    InMemoryRunRepository,
    in_memory_repositories,
)


def contacts(count: int) -> list[LeadContact]:
    return [LeadContact(id=f"p{i:04d}", email=f"p.person{i}@example.com") for i in range(count)]


def mock_client(config: MockConfig | None = None, **options: Any) -> EnrichmentClient:
    transport = httpx.ASGITransport(app=create_app(config or MockConfig()))
    options.setdefault("backoff_base", 0.001)
    options.setdefault("backoff_max", 0.002)
    return EnrichmentClient("http://mock.invalid", transport=transport, **options)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LEADPERSONA_DATA_DIR", str(tmp_path / "data"))
    return Settings()


@pytest.fixture
def field_maps(settings: Settings) -> FieldMapStore:
    return FieldMapStore(ensure_working_copy(settings.mapping_csv_path), encoder=None)


class Pipeline:
    def __init__(self, settings: Settings, field_maps: FieldMapStore, leads: list[LeadContact]):
        self.settings = settings
        self.field_maps = field_maps
        self.repositories: Repositories = in_memory_repositories(leads)
        self.archive = InMemoryArchive()

    @property
    def leads(self) -> InMemoryLeadRepository:
        assert isinstance(self.repositories.leads, InMemoryLeadRepository)
        return self.repositories.leads

    @property
    def personas(self) -> InMemoryPersonaRepository:
        assert isinstance(self.repositories.personas, InMemoryPersonaRepository)
        return self.repositories.personas

    @property
    def states(self) -> InMemoryEnrichmentStateRepository:
        assert isinstance(self.repositories.enrichment_states, InMemoryEnrichmentStateRepository)
        return self.repositories.enrichment_states

    @property
    def runs(self) -> InMemoryRunRepository:
        assert isinstance(self.repositories.runs, InMemoryRunRepository)
        return self.repositories.runs

    async def run(self, client: EnrichmentClient | None = None, **options: Any) -> Any:
        async with client or mock_client() as api:
            adapters = Wired(self.repositories, self.archive, self.field_maps, api)
            return await enrich_leads(self.settings, adapters, **options)


@pytest.fixture
def pipeline(settings: Settings, field_maps: FieldMapStore) -> Pipeline:
    leads = contacts(25)
    leads[1] = LeadContact(id="p0001", email="P.PERSON0@example.com")  # p0000's person
    leads[2] = LeadContact(id="p0002", email=None)  # never sent
    leads[3] = LeadContact(id="p0003", email="   ")
    return Pipeline(settings, field_maps, leads)


async def test_a_run_writes_a_page_at_a_time_through_one_cursor(pipeline: Pipeline) -> None:
    summary = await pipeline.run(batch_size=10)

    assert summary.status == "completed"
    assert (summary.processed, summary.skipped, summary.api_calls) == (23, 2, 22)
    assert summary.enriched + summary.no_data == 23
    assert pipeline.leads.cursors == 1
    assert pipeline.personas.bulk_writes == 3  # 25 leads in pages of 10
    assert pipeline.states.bulk_writes == 3
    assert len(pipeline.personas.personas) == 23
    twin_a, twin_b = pipeline.personas.personas["p0000"], pipeline.personas.personas["p0001"]
    assert twin_a.archive_id == twin_b.archive_id  # one person, one call, one answer
    assert {s["attempts"] for s in pipeline.states.states.values()} == {1}
    run = pipeline.runs.runs[summary.run_id]
    assert run.status == "completed"
    assert run.counts["processed"] == 23


async def test_a_second_run_skips_done_leads_and_refresh_reuses_the_archive(
    pipeline: Pipeline,
) -> None:
    await pipeline.run(batch_size=10)

    again = await pipeline.run()
    assert (again.processed, again.api_calls, again.skipped) == (0, 0, 2)

    refreshed = await pipeline.run(refresh=True)
    assert (refreshed.processed, refreshed.api_calls, refreshed.cache_hits) == (23, 0, 22)
    assert {s["attempts"] for s in pipeline.states.states.values()} == {2}


async def test_a_limit_stops_after_that_many_leads(pipeline: Pipeline) -> None:
    partial = await pipeline.run(limit=7, batch_size=5)
    assert partial.processed + partial.skipped == 7
    assert sorted(pipeline.personas.personas) == ["p0000", "p0001", "p0004", "p0005", "p0006"]


async def test_failed_calls_are_recorded_and_the_run_fails(pipeline: Pipeline) -> None:
    broken = await pipeline.run(mock_client(MockConfig(error_rate=1.0), max_retries=1))

    assert broken.status == "failed"
    assert broken.failed == 23
    assert pipeline.personas.personas == {}
    assert pipeline.states.states["p0004"]["state"] == "failed"
    run = pipeline.runs.runs[broken.run_id]
    assert run.status == "failed"
    assert run.counts["failed"] == 23
    assert len(run.errors) == ERRORS_KEPT  # the first ones; the counts have them all

    healed = await pipeline.run()
    assert (healed.status, healed.failed, healed.processed) == ("completed", 0, 23)
    assert pipeline.states.states["p0004"]["attempts"] == 2


async def test_a_refused_key_aborts_the_run_and_writes_nothing(pipeline: Pipeline) -> None:
    with pytest.raises(AuthenticationError):
        await pipeline.run(mock_client(MockConfig(api_key="right"), api_key="wrong"))

    assert pipeline.personas.personas == {}
    assert pipeline.states.states == {}
    (run,) = pipeline.runs.runs.values()
    assert run.status == "aborted"


async def test_manual_overrides_survive_a_refresh(pipeline: Pipeline) -> None:
    await pipeline.run()
    persona = pipeline.personas.personas["p0004"]
    pipeline.personas.personas["p0004"] = persona.model_copy(update={"overrides": {"tier": 1}})

    await pipeline.run(refresh=True)

    assert pipeline.personas.personas["p0004"].features["tier"] == 1


async def test_progress_counts_the_leads_done_so_far_of_the_total(pipeline: Pipeline) -> None:
    calls: list[tuple[int, int | None]] = []

    await pipeline.run(batch_size=10, on_progress=lambda done, total: calls.append((done, total)))

    assert calls == [(10, 25), (20, 25), (25, 25)]
