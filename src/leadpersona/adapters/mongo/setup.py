"""The MongoDB collections themselves: created up front, listed with their indexes."""

from __future__ import annotations

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.mongo.documents import DOCUMENT_MODELS
from leadpersona.adapters.mongo.leads import LEAD_EMAILS
from leadpersona.adapters.repositories import CollectionInfo, StoreSetup

__all__ = ["MongoStoreSetup"]


class MongoStoreSetup(StoreSetup):
    """Every collection of the document models, and ``lead_emails``. Indexes are created by
    Beanie when the database is opened."""

    def __init__(self, database: MongoDatabase) -> None:
        self.database = database
        self.names = sorted(
            {model.get_collection_name() for model in DOCUMENT_MODELS} | {LEAD_EMAILS}
        )

    async def create_missing(self) -> None:
        existing = set(await self.database.list_collection_names())
        for name in self.names:
            if name not in existing:
                await self.database.create_collection(name)

    async def describe(self) -> list[CollectionInfo]:
        collections = []
        for name in self.names:
            collection = self.database[name]
            indexes = [index["name"] async for index in await collection.list_indexes()]
            count = await collection.estimated_document_count()
            collections.append(CollectionInfo(name=name, documents=count, indexes=sorted(indexes)))
        return collections
