"""Synthetic leads: deterministic, idempotent, incremental, the demo lead always present."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.mongo.documents import LeadDocument
from leadpersona.bootstrap import mongo_repositories
from leadpersona.domain.lead_rows import checked_email
from leadpersona.domain.samples import DEMO_EMAIL, DEMO_FIRST_NAME, DEMO_LAST_NAME
from leadpersona.errors import InvalidInput
from leadpersona.services.seed import seed_leads, synthetic_lead


async def all_leads(database: MongoDatabase) -> list[dict[str, Any]]:
    return [doc async for doc in database["leads"].find({}).sort("_id", 1)]


async def test_seeding_is_idempotent_and_incremental(database: MongoDatabase) -> None:
    first = await seed_leads(mongo_repositories(database).leads, 300)
    assert (first.requested, first.inserted, first.existing) == (300, 300, 0)
    snapshot = await all_leads(database)

    again = await seed_leads(mongo_repositories(database).leads, 300)
    assert (again.inserted, again.existing) == (0, 300)
    assert await all_leads(database) == snapshot

    more = await seed_leads(mongo_repositories(database).leads, 450)
    assert (more.inserted, more.existing) == (150, 300)
    leads = await all_leads(database)
    assert len(leads) == 450
    assert {doc["_id"] for doc in snapshot} <= {doc["_id"] for doc in leads}
    fewer = await seed_leads(mongo_repositories(database).leads, 10)
    assert (fewer.inserted, fewer.existing) == (0, 10)


async def test_seeded_leads_have_the_lead_shape(database: MongoDatabase) -> None:
    await seed_leads(mongo_repositories(database).leads, 200)
    leads = await all_leads(database)
    emails = [doc["email"] for doc in leads]
    assert len(set(emails)) == 200
    demo = [doc for doc in leads if doc["email"] == DEMO_EMAIL]
    assert len(demo) == 1
    assert (demo[0]["first_name"], demo[0]["last_name"]) == (DEMO_FIRST_NAME, DEMO_LAST_NAME)
    without_photo = sum(doc["photo_url"] is None for doc in leads)
    assert 20 < without_photo < 90  # about a quarter
    for doc in leads:
        assert set(doc) == {"_id", "status", "first_name", "last_name", "email", "photo_url"}
        assert uuid.UUID(hex=doc["_id"]).version == 4
        assert isinstance(doc["status"], int)
        # Every email is valid and already in its normalised form.
        assert checked_email(doc["email"]) == doc["email"]
        if doc["email"] != DEMO_EMAIL:
            assert doc["email"].split("@")[1].split(".")[-2] == "example"
        lead = await LeadDocument.get(doc["_id"])
        assert lead is not None
        assert lead.to_domain().email == doc["email"]


def test_synthetic_leads_are_deterministic_per_seed() -> None:
    assert synthetic_lead(7) == synthetic_lead(7)
    assert synthetic_lead(7, seed=1) != synthetic_lead(7)
    assert synthetic_lead(0)["email"] == synthetic_lead(0, seed=5)["email"] == DEMO_EMAIL


async def test_an_imported_demo_email_counts_as_the_demo_lead(
    database: MongoDatabase, raw_client: AsyncMongoClient[dict[str, Any]]
) -> None:
    await raw_client[database.name]["leads"].insert_one(
        {"_id": "d" * 32, "status": 0, "email": DEMO_EMAIL}
    )
    report = await seed_leads(mongo_repositories(database).leads, 5)
    assert (report.inserted, report.existing) == (4, 1)
    assert await database["leads"].count_documents({"email": DEMO_EMAIL}) == 1


@pytest.mark.parametrize("count", [0, -1, 10_000_001])
async def test_count_is_checked(database: MongoDatabase, count: int) -> None:
    with pytest.raises(InvalidInput, match="count must be between 1 and"):
        await seed_leads(mongo_repositories(database).leads, count)
