"""Each lead's enrichment state in MongoDB (collection ``enrichment``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import UpdateOne

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.mongo.persona_documents import EnrichmentStateDocument
from leadpersona.adapters.repositories import EnrichmentOutcome, EnrichmentStateRepository

__all__ = ["MongoEnrichmentStateRepository"]


class MongoEnrichmentStateRepository(EnrichmentStateRepository):
    """``enrichment``: one document per lead (``_id`` = lead id)."""

    def __init__(self, database: MongoDatabase) -> None:
        self.collection = database[EnrichmentStateDocument.get_collection_name()]

    async def record_attempts(
        self, outcomes: Sequence[EnrichmentOutcome], *, run_id: str, at: datetime
    ) -> None:
        if not outcomes:
            return
        operations = [
            UpdateOne(
                {"_id": outcome.lead_id},
                {
                    "$set": {
                        "state": outcome.state,
                        "last_error": outcome.error,
                        "email": outcome.email,
                        "run_id": run_id,
                        "updated_at": at,
                    },
                    "$inc": {"attempts": 1},
                },
                upsert=True,
            )
            for outcome in outcomes
        ]
        await self.collection.bulk_write(operations, ordered=False)

    async def state_counts(self) -> dict[str, int]:
        pipeline: list[dict[str, Any]] = [{"$group": {"_id": "$state", "n": {"$sum": 1}}}]
        return {
            str(row["_id"]): int(row["n"])
            async for row in await self.collection.aggregate(pipeline)
        }
