"""``leadpersona init``: collections, indexes and the working copy of the mapping CSV."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from leadpersona.adapters.field_map_csv import ensure_working_copy
from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.mongo.documents import DOCUMENT_MODELS
from leadpersona.adapters.mongo.leads import LEAD_EMAILS, SharedEmails, register_emails
from leadpersona.config import Settings

__all__ = ["CollectionInfo", "InitReport", "initialise"]


class CollectionInfo(BaseModel):
    """One collection and its indexes."""

    name: str
    documents: int
    indexes: list[str]


class InitReport(BaseModel):
    """What ``init`` left in place."""

    database: str
    collections: list[CollectionInfo]
    shared_emails: SharedEmails
    mapping_csv: Path


async def initialise(settings: Settings, database: MongoDatabase) -> InitReport:
    """Create every collection and index (idempotent) and the mapping CSV's working copy.

    Indexes are created by Beanie when the database is opened; this adds the collections
    that have no document yet, so that a fresh database looks complete, and registers every
    lead's email key in ``lead_emails`` (see ``register_emails``): leads that share an email
    are reported, not refused.
    """
    existing = set(await database.list_collection_names())
    names = sorted({model.get_collection_name() for model in DOCUMENT_MODELS} | {LEAD_EMAILS})
    for name in names:
        if name not in existing:
            await database.create_collection(name)
    shared = await register_emails(database)
    collections = []
    for name in names:
        collection = database[name]
        indexes = [index["name"] async for index in await collection.list_indexes()]
        count = await collection.estimated_document_count()
        collections.append(CollectionInfo(name=name, documents=count, indexes=sorted(indexes)))
    csv_path = ensure_working_copy(settings.mapping_csv_path)
    return InitReport(
        database=database.name,
        collections=collections,
        mapping_csv=csv_path,
        shared_emails=shared,
    )
