"""The persona store on a real MongoDB-wire server: writes, overrides, queries, index use."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.mongo.persona_documents import FEATURE_INDEX_NAME, PersonaDocument
from leadpersona.adapters.mongo.persona_store import PersonaStore
from leadpersona.bootstrap import mongo_repositories
from leadpersona.domain.persona import FeatureProvenance, Persona
from leadpersona.errors import DatabaseError, InvalidFeature, InvalidInput, PersonaNotFound
from leadpersona.services.personas import PersonaService, parse_assignment

FIELDS = ["computer science", "marketing", "law"]
TYPES = ["Startup", "Mid Market", "Multi National Company"]


def computed(lead_id: str, academic: str | None, company: str | None) -> Persona:
    features: dict[str, Any] = {}
    provenance: dict[str, FeatureProvenance] = {}
    if academic is not None:
        features["academic_field"] = academic
        provenance["academic_field"] = FeatureProvenance(source="mapping", confidence=1.0)
    if company is not None:
        features["company_type"] = company
        provenance["company_type"] = FeatureProvenance(source="rule", employee_count=10)
    now = datetime.now(UTC)
    return Persona(
        lead_id=lead_id,
        features=features,
        provenance=provenance,
        computed_at=now,
        updated_at=now,
        mapping_version="m1",
        rules_version="r1",
    )


async def seed(store: PersonaStore, count: int = 30) -> list[Persona]:
    personas = [computed(f"{i:04d}", FIELDS[i % 3], TYPES[(i // 3) % 3]) for i in range(count)]
    await store.save_computed(personas)
    return personas


def _plan(explain: dict[str, Any]) -> str:
    return json.dumps(explain.get("queryPlanner", explain))


async def test_get_and_missing(database: MongoDatabase) -> None:
    store = PersonaStore(database)
    await seed(store, 3)
    persona = await store.get("0001")
    assert persona.features == {"academic_field": "marketing", "company_type": "Startup"}
    assert persona.provenance["company_type"].employee_count == 10
    with pytest.raises(PersonaNotFound):
        await store.get("nope")


async def test_find_pages_with_a_cursor_and_counts(database: MongoDatabase) -> None:
    store = PersonaStore(database)
    await seed(store, 30)
    service = PersonaService(mongo_repositories(database))
    query = service.query(academic_field="Computer  Science")
    expected = [f"{i:04d}" for i in range(0, 30, 3)]
    seen: list[str] = []
    after = None
    while True:
        ids, after = await service.find(query, after=after, limit=4)
        seen += ids
        if after is None:
            break
    assert seen == expected
    assert await service.count(query) == 10
    both = service.query(academic_field="law", company_type="Mid Market")
    assert await service.find(both, limit=100) == (["0005", "0014", "0023"], None)
    assert [i async for i in service.stream(both)] == ["0005", "0014", "0023"]
    assert await service.count(service.query()) == 30


async def test_a_feature_added_later_is_queried_through_the_index(database: MongoDatabase) -> None:
    store = PersonaStore(database)
    await seed(store, 12)
    service = PersonaService(mongo_repositories(database))
    await service.update("0005", {"seniority": "senior"})
    await service.update("0007", {"seniority": "senior", "score": 3})
    query = service.query(features={"seniority": "senior"})
    assert (await service.find(query))[0] == ["0005", "0007"]
    plan = _plan(await store.explain(query))
    assert "IXSCAN" in plan
    assert FEATURE_INDEX_NAME in plan
    assert "COLLSCAN" not in plan
    two = service.query(features={"seniority": "senior", "score": 3})
    assert (await service.find(two))[0] == ["0007"]
    assert "COLLSCAN" not in _plan(await store.explain(two))


async def test_manual_overrides_survive_recomputation(database: MongoDatabase) -> None:
    store = PersonaStore(database)
    await seed(store, 3)
    service = PersonaService(mongo_repositories(database))
    updated = await service.update("0000", {"company_type": "Mid Market", "academic_field": None})
    assert updated.features == {"company_type": "Mid Market"}
    assert updated.overrides == {"company_type": "Mid Market", "academic_field": None}
    assert updated.provenance["company_type"].source == "manual"
    # A refresh recomputes the persona from the API answer: the manual values stay.
    await store.save_computed([computed("0000", "law", "Startup")])
    again = await store.get("0000")
    assert again.features == {"company_type": "Mid Market"}
    assert again.mapping_version == "m1"
    ids, _ = await service.find(service.query(company_type="Startup"))
    assert "0000" not in ids
    ids, _ = await service.find(service.query(company_type="Mid Market"))
    assert "0000" in ids


async def test_invalid_updates_and_queries_are_refused(database: MongoDatabase) -> None:
    store = PersonaStore(database)
    await seed(store, 1)
    service = PersonaService(mongo_repositories(database))
    with pytest.raises(InvalidFeature):
        await service.update("0000", {"company_type": "Tiny"})
    with pytest.raises(InvalidFeature):
        await service.update("0000", {"$set": {"x": 1}})
    with pytest.raises(InvalidInput):
        await service.update("0000", {})
    with pytest.raises(PersonaNotFound):
        await service.update("zzz", {"score": 1})
    with pytest.raises(InvalidFeature):
        service.query(company_type="startup")
    with pytest.raises(InvalidInput):
        await service.find(service.query(), limit=0)
    assert (await store.get("0000")).features["company_type"] == "Startup"


def test_parse_assignment() -> None:
    assert parse_assignment("score=5") == ("score", 5)
    assert parse_assignment("flag=true") == ("flag", True)
    assert parse_assignment('code="5"') == ("code", "5")
    assert parse_assignment("company_type=Mid Market") == ("company_type", "Mid Market")
    assert parse_assignment("x={}") == ("x", "{}")
    with pytest.raises(InvalidInput):
        parse_assignment("novalue")


async def test_stats(database: MongoDatabase) -> None:
    store = PersonaStore(database)
    await seed(store, 9)
    inferred = computed("0100", "law", None)
    inferred.provenance["academic_field"] = FeatureProvenance(source="inferred", confidence=0.9)
    await store.save_computed(
        [inferred, Persona(lead_id="0101", status="no_data"), computed("0102", None, "Startup")]
    )
    stats = await PersonaService(mongo_repositories(database)).stats()
    assert stats["personas"] == 12
    assert stats["no_data"] == 1
    assert stats["enriched"] == 11
    assert stats["academic_field"]["known"] == 10
    assert stats["academic_field"]["inferred"] == 1
    assert stats["company_type"]["unknown"] == 1
    assert sum(row["count"] for row in stats["matrix"]) == 11
    assert {"academic_field": "law", "company_type": None, "count": 1} in stats["matrix"]


class _EditedMeanwhile(PersonaStore):
    """A store whose first read is followed by a real manual edit from another writer."""

    edited = False

    async def _current(self, lead_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        current = await super()._current(lead_ids)
        if not self.edited:
            self.edited = True
            await PersonaStore(self.database).update("0001", {"tier": 7})
        return current


async def test_a_manual_edit_made_during_recomputation_is_kept(database: MongoDatabase) -> None:
    await seed(PersonaStore(database), 3)
    store = _EditedMeanwhile(database)
    await store.save_computed([computed(f"{i:04d}", "law", "Startup") for i in range(3)])
    assert store.edited
    edited = await store.get("0001")
    assert edited.features == {"academic_field": "law", "company_type": "Startup", "tier": 7}
    assert edited.overrides == {"tier": 7}
    assert (await store.get("0002")).features["academic_field"] == "law"


async def test_the_beanie_document_reads_what_the_store_writes(database: MongoDatabase) -> None:
    store = PersonaStore(database)
    await seed(store, 2)
    await store.update("0001", {"tier": 2})
    document = await PersonaDocument.get("0001")
    assert document is not None
    assert document.to_domain() == await store.get("0001")
    assert "tier=2" in document.feature_index
    assert document.revision is not None


async def test_a_bulk_write_failure_other_than_the_id_race_is_reported(
    database: MongoDatabase,
) -> None:
    store = PersonaStore(database)
    await store.save_computed([computed("0000", "law", "Startup")])
    # A rule of the database that a recomputation breaks: not a race, so not retried.
    await database["personas"].create_index("features.academic_field", unique=True)
    with pytest.raises(DatabaseError, match=r"saving personas failed: .*dup"):
        await store.save_computed([computed("0001", "law", "Startup")])
    assert await database["personas"].count_documents({}) == 1
