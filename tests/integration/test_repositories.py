"""One contract for each repository, run on the MongoDB implementation and on the test fake, so
the fakes the unit tests use behave as the real thing does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.repositories import (
    EnrichmentOutcome,
    ExampleKind,
    ImportedLead,
    NewImport,
    Repositories,
)
from leadpersona.bootstrap import mongo_repositories
from leadpersona.domain.models import Lead
from leadpersona.domain.persona import FeatureProvenance, Persona, PersonaQuery
from leadpersona.domain.persona_stats import PersonaGroup
from leadpersona.domain.runs import QuarantineReason, QuarantineRecord
from leadpersona.errors import PersonaNotFound
from tests.fakes import in_memory_repositories

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture(params=["mongo", "memory"])
async def repositories(
    request: pytest.FixtureRequest, database: MongoDatabase
) -> AsyncIterator[Repositories]:
    yield mongo_repositories(database) if request.param == "mongo" else in_memory_repositories()


def lead(lead_id: str, email: str, row: int = 1, import_id: str = "file-1") -> ImportedLead:
    return ImportedLead(lead_id, {"email": email, "status": row % 3}, import_id, row)


async def test_leads_are_read_in_id_order_a_page_at_a_time(repositories: Repositories) -> None:
    leads = repositories.leads
    await leads.add_imported([lead(f"l{i:02d}", f"p{i}@example.com", i) for i in (3, 1, 4, 2, 5)])
    await leads.add_imported([lead("l01", "changed@example.com")])  # already there: kept

    pages = [[c.id for c in page] async for page in leads.contact_pages(2)]

    assert pages == [["l01", "l02"], ["l03", "l04"], ["l05"]]
    assert await leads.count() == 5
    first = await leads.first_by_id(2)
    assert [(x.id, x.email, x.status) for x in first] == [
        ("l01", "p1@example.com", 1),
        ("l02", "p2@example.com", 2),
    ]
    assert await leads.first_by_id(0) == []

    whole = [Lead(id="l00", first_name="Ada", email="ada@example.com"), Lead(id="l01")]
    assert await leads.add_new(whole) == 1  # l01 is stored already: left as it is
    assert (await leads.first_by_id(2))[0] == whole[0]
    assert (await leads.first_by_id(2))[1].email == "p1@example.com"


async def test_email_keys_have_one_owner(repositories: Repositories) -> None:
    leads = repositories.leads
    await leads.add_imported([lead("a", "Ann@example.com", 1), lead("b", "ann@EXAMPLE.com", 2)])

    shared = await leads.register_email_keys()

    assert (shared.emails, shared.leads) == (1, 2)
    assert shared.examples == [{"email": "ann@example.com", "lead_ids": ["a", "b"]}]
    assert await leads.register_email_keys() == shared  # idempotent
    owners = await leads.email_owners(["ann@example.com", "nobody@example.com"])
    assert list(owners) == ["ann@example.com"]
    assert (owners["ann@example.com"].lead_id, owners["ann@example.com"].row) == ("a", 1)
    assert owners["ann@example.com"].import_id == "file-1"

    claims = [
        ("ann@example.com", "c", "ann@example.com"),  # held by a: lost
        ("new@example.com", "d", "new@example.com"),  # free: won
        ("new@example.com", "d", "new@example.com"),  # already d's: won again
    ]
    assert await leads.claim_email_keys(claims[:2]) == [0]
    assert await leads.claim_email_keys(claims[2:]) == []
    # d's claim stands while d is not written yet; an unwritten owner's key can be taken over.
    assert await leads.claim_email_keys([("new@example.com", "e", "new@example.com")]) == []
    assert await leads.email_owners(["new@example.com"]) == {}


async def test_personas_are_upserted_by_lead_id(repositories: Repositories) -> None:
    personas = repositories.personas

    def computed(lead_id: str, tier: int) -> Persona:
        return Persona(lead_id=lead_id, features={"tier": tier}, computed_at=NOW, updated_at=NOW)

    await personas.save_computed([computed("a", 1), computed("b", 2)])
    assert await personas.existing_ids(["a", "c"]) == {"a"}
    assert await personas.count_all() == 2
    await personas.save_computed([computed("a", 3), computed("c", 1)])
    await personas.save_computed([])
    assert await personas.existing_ids(["a", "b", "c", "d"]) == {"a", "b", "c"}
    assert await personas.count_all() == 3


async def test_personas_are_read_edited_queried_and_counted(repositories: Repositories) -> None:
    personas = repositories.personas
    await personas.save_computed(
        [
            Persona(
                lead_id=lead_id,
                features={"academic_field": field, "company_type": "Startup"},
                provenance={"academic_field": FeatureProvenance(source=source)},
            )
            for lead_id, field, source in (
                ("a", "law", "mapping"),
                ("b", "law", "inferred"),
                ("c", "medicine", "mapping"),
            )
        ]
        + [Persona(lead_id="d", status="no_data")]
    )
    with pytest.raises(PersonaNotFound):
        await personas.get("nobody")
    edited = await personas.update("c", {"academic_field": "law", "tier": 2})
    assert edited.overrides == {"academic_field": "law", "tier": 2}
    assert (await personas.get("c")).features["tier"] == 2

    law = PersonaQuery(features={"academic_field": "law", "company_type": "Startup"})
    assert await personas.find_ids(law) == ["a", "b", "c"]
    assert await personas.find_ids(law, after="a", limit=1) == ["b"]
    assert [i async for i in personas.iter_ids(PersonaQuery(features={"tier": 2}))] == ["c"]
    assert await personas.count(law) == 3
    assert await personas.count(PersonaQuery()) == 4
    mapped = ExampleKind(academic_source="mapping")
    assert await personas.example(mapped) == await personas.get("a")
    assert await personas.example(mapped, exclude=["a"]) is None  # c is manual now
    assert await personas.example(ExampleKind(status="no_data")) is not None
    assert await personas.example(ExampleKind("no_data", with_company_type=True)) is None
    assert sorted(await personas.group_counts(), key=repr) == sorted(
        [
            PersonaGroup("law", "Startup", "enriched", "inferred", 1),
            PersonaGroup("law", "Startup", "enriched", "mapping", 1),
            PersonaGroup("law", "Startup", "enriched", "manual", 1),
            PersonaGroup(None, None, "no_data", None, 1),
        ],
        key=repr,
    )


async def test_the_store_is_set_up_once(repositories: Repositories) -> None:
    await repositories.setup.create_missing()
    await repositories.setup.create_missing()
    collections = await repositories.setup.describe()
    names = [c.name for c in collections]
    assert names == sorted(set(names))
    assert {"enrichment", "imports", "leads", "personas", "runs"} <= set(names)
    assert all("_id_" in c.indexes for c in collections)


async def test_enrichment_states_are_counted(repositories: Repositories) -> None:
    states = repositories.enrichment_states
    assert await states.state_counts() == {}
    outcomes = [
        EnrichmentOutcome("a", "a@example.com", "enriched"),
        EnrichmentOutcome("b", "b@example.com", "failed", "timeout"),
    ]
    await states.record_attempts(outcomes, run_id="r1", at=NOW)
    await states.record_attempts(outcomes[1:], run_id="r2", at=NOW)
    assert await states.state_counts() == {"enriched": 1, "failed": 1}


async def test_an_import_is_started_resumed_and_completed(repositories: Repositories) -> None:
    imports = repositories.imports
    new = NewImport(
        sha256="f" * 64,
        file="leads.csv",
        delimiter=",",
        columns=["email"],
        extra_columns=[],
        records=10,
        counters={"read": 0, "inserted": 0},
        started_at=NOW,
    )
    assert await imports.find(new.sha256) is None
    assert await imports.start_or_resume(new) is None
    logged = await imports.find(new.sha256)
    assert logged is not None and logged.status == "running"

    await imports.checkpoint(
        new.sha256, counters={"read": 4, "inserted": 3, "by_reason": {"x": 1}}, rows_done=4
    )
    progress = await imports.start_or_resume(new)
    assert progress is not None
    assert (progress.counters, progress.by_reason, progress.rows_done) == (
        {"read": 4, "inserted": 3},
        {"x": 1},
        4,
    )

    await imports.complete(new.sha256, at=NOW)
    logged = await imports.find(new.sha256)
    assert logged is not None and logged.status == "complete"
    assert logged.finished_at is not None
    assert logged.finished_at.replace(tzinfo=UTC) == NOW
    older = NewImport(**{**vars(new), "sha256": "e" * 64, "file": "old.csv"})
    await imports.start_or_resume(replace(older, started_at=NOW - timedelta(days=1)))
    recent = await imports.recent(5)
    assert [(x.file, x.status) for x in recent] == [
        ("leads.csv", "complete"),
        ("old.csv", "running"),
    ]
    assert recent[0].counters == {
        "read": 4,
        "inserted": 3,
        "duplicates_in_file": 0,
        "duplicates_existing": 0,
        "quarantined": 0,
    }
    assert [x.file for x in await imports.recent(1)] == ["leads.csv"]


def rejected(batch: str, row: int, codes: list[str], minutes_ago: int) -> QuarantineRecord:
    return QuarantineRecord(
        id=f"{batch}:{row}",
        source="leads",
        batch_id=batch,
        location=f"{batch}.csv",
        row=row,
        line=row + 1,
        raw={"email": f"row{row}"},
        reasons=[QuarantineReason(code=code, message=code) for code in codes],
        quarantined_at=NOW - timedelta(minutes=minutes_ago),
    )


async def test_the_quarantine_is_counted_and_listed_newest_first(
    repositories: Repositories,
) -> None:
    quarantine = repositories.quarantine
    await quarantine.add(
        [
            rejected("a", 4, ["bad", "worse"], 10),
            rejected("a", 2, ["bad"], 10),
            rejected("b", 7, ["dup"], 1),
        ]
    )
    await quarantine.add([rejected("a", 2, ["bad"], 10)])  # the same row again: replaced

    assert await quarantine.count() == 3
    assert await quarantine.count(batch_id="a") == 2
    assert await quarantine.reason_counts() == {"bad": 2, "worse": 1, "dup": 1}
    assert await quarantine.reason_counts(batch_id="b") == {"dup": 1}
    newest = await quarantine.newest(2)
    assert [(r.batch_id, r.row, r.location) for r in newest] == [
        ("b", 7, "b.csv"),
        ("a", 2, "a.csv"),
    ]
    assert [r.row for r in await quarantine.newest(5, batch_id="a")] == [2, 4]
    assert await quarantine.newest(0) == []
