"""The Lead document against leads written by another system with plain PyMongo."""

from __future__ import annotations

import uuid
from typing import Any

from pymongo import AsyncMongoClient

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.mongo.documents import LeadDocument


async def test_reads_leads_written_by_plain_pymongo(
    database: MongoDatabase, raw_client: AsyncMongoClient[dict[str, Any]]
) -> None:
    full_id, sparse_id = uuid.uuid4().hex, uuid.uuid4().hex
    leads = raw_client[database.name]["leads"]
    await leads.insert_many(
        [
            {
                "_id": full_id,
                "status": 2,
                "first_name": "Julien",
                "last_name": "Keraval",
                "email": "julien@visum.run",
                "photo_url": "https://example.org/p.jpg",
                "owner": "crm-sync",  # a field another system added
            },
            {"_id": sparse_id, "email": None},  # nulls and missing fields
        ]
    )
    full = await LeadDocument.get(full_id)
    assert full is not None
    lead = full.to_domain()
    assert (lead.id, lead.status, lead.email) == (full_id, 2, "julien@visum.run")
    assert lead.first_name == "Julien"
    sparse = await LeadDocument.get(sparse_id)
    assert sparse is not None
    assert sparse.status == 0
    assert sparse.email is None
    assert sparse.first_name is None

    # Writing through the model keeps what the other system wrote.
    full.status = 3
    await full.save()
    raw = await leads.find_one({"_id": full_id})
    assert raw is not None
    assert raw["owner"] == "crm-sync"
    assert raw["status"] == 3
    assert set(raw) >= {"_id", "status", "first_name", "last_name", "email", "photo_url"}
    assert "revision_id" not in raw


async def test_lead_written_by_the_product_has_the_given_shape(
    database: MongoDatabase, raw_client: AsyncMongoClient[dict[str, Any]]
) -> None:
    lead_id = uuid.uuid4().hex
    await LeadDocument(_id=lead_id, email="a@b.example").insert()
    raw = await raw_client[database.name]["leads"].find_one({"_id": lead_id})
    assert raw == {
        "_id": lead_id,
        "status": 0,
        "first_name": None,
        "last_name": None,
        "email": "a@b.example",
        "photo_url": None,
    }
