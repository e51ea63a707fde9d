"""The persona use cases on in-memory repositories."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadpersona.adapters.repositories import EnrichmentOutcome, LeadContact
from leadpersona.domain.persona import FeatureProvenance, Persona
from leadpersona.errors import InvalidFeature, InvalidInput, PersonaNotFound
from leadpersona.services.personas import PersonaService
from tests.fakes import in_memory_repositories


def persona(lead_id: str, academic: str | None, company: str | None) -> Persona:
    features = {
        name: value
        for name, value in (("academic_field", academic), ("company_type", company))
        if value is not None
    }
    return Persona(
        lead_id=lead_id,
        features=features,
        provenance={name: FeatureProvenance(source="mapping") for name in features},
    )


@pytest.fixture
async def service() -> PersonaService:
    repositories = in_memory_repositories([LeadContact(f"l{i}") for i in range(6)])
    await repositories.personas.save_computed(
        [
            persona("l0", "law", "Startup"),
            persona("l1", "law", "Mid Market"),
            persona("l2", "law", "Startup"),
            persona("l3", None, "Startup"),
            Persona(lead_id="l4", status="no_data"),
        ]
    )
    await repositories.enrichment_states.record_attempts(
        [EnrichmentOutcome("l0", "a@example.com", "enriched")], run_id="r", at=datetime.now(UTC)
    )
    return PersonaService(repositories)


async def test_a_manual_update_is_kept_as_an_override(service: PersonaService) -> None:
    updated = await service.update("l0", {"company_type": "Mid Market", "tier": 2})
    assert updated.features == {"academic_field": "law", "company_type": "Mid Market", "tier": 2}
    assert updated.provenance["tier"] == FeatureProvenance(source="manual")
    await service.store.save_computed([persona("l0", "medicine", "Startup")])
    again = await service.get("l0")
    assert again.features == {"academic_field": "medicine", "company_type": "Mid Market", "tier": 2}


async def test_updates_are_validated(service: PersonaService) -> None:
    with pytest.raises(InvalidInput, match="nothing to update"):
        await service.update("l0", {})
    with pytest.raises(InvalidFeature):
        await service.update("l0", {"company_type": "Galaxy"})
    with pytest.raises(PersonaNotFound):
        await service.update("nobody", {"tier": 1})


async def test_find_pages_through_the_matches(service: PersonaService) -> None:
    query = service.query(academic_field="Law", company_type="Startup")
    first, cursor = await service.find(query, limit=1)
    assert (first, cursor) == (["l0"], "l0")
    rest, end = await service.find(query, after=cursor, limit=5)
    assert (rest, end) == (["l2"], None)
    assert await service.count(query) == 2
    assert [lead_id async for lead_id in service.stream(query)] == ["l0", "l2"]
    with pytest.raises(InvalidInput):
        await service.find(query, limit=0)


async def test_a_query_refuses_contradictions_and_missing_values(service: PersonaService) -> None:
    with pytest.raises(InvalidInput, match="twice"):
        service.query(academic_field="law", features={"academic_field": "medicine"})
    with pytest.raises(InvalidFeature, match="needs a value"):
        service.query(features={"tier": None})


async def test_stats_count_leads_personas_and_states(service: PersonaService) -> None:
    stats = await service.stats()
    assert (stats["total_leads"], stats["personas"], stats["no_data"]) == (6, 5, 1)
    assert stats["enrichment_states"] == {"enriched": 1}
    assert stats["matrix"][0] == {"academic_field": "law", "company_type": "Startup", "count": 2}
