"""Read-only views of leads and of the import quarantine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.domain.models import Lead
from leadpersona.errors import InvalidInput

__all__ = [
    "LeadListing",
    "QuarantineEntry",
    "QuarantineListing",
    "QuarantineReason",
    "list_leads",
    "list_quarantine",
]

MAX_LIMIT = 10_000


class QuarantineReason(BaseModel):
    code: str
    field: str | None = None
    message: str


class QuarantineEntry(BaseModel):
    """One rejected row: where it was, what it held, every reason."""

    import_id: str
    file: str
    row: int
    line: int
    raw: dict[str, Any]
    reasons: list[QuarantineReason]
    quarantined_at: datetime


class QuarantineListing(BaseModel):
    count: int
    by_reason: dict[str, int] = Field(default_factory=dict)
    entries: list[QuarantineEntry]


class LeadListing(BaseModel):
    count: int
    leads: list[Lead]


def _check_limit(limit: int) -> None:
    if not 0 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 0 and {MAX_LIMIT}, not {limit}")


async def list_quarantine(
    database: MongoDatabase, *, limit: int = 20, import_id: str | None = None
) -> QuarantineListing:
    """The most recently quarantined rows (optionally of one import), with totals."""
    _check_limit(limit)
    quarantine = database["quarantine"]
    query: dict[str, Any] = {} if import_id is None else {"import_id": import_id}
    count = await quarantine.count_documents(query)
    by_reason: dict[str, int] = {}
    pipeline: list[dict[str, Any]] = [
        {"$match": query},
        {"$unwind": "$reasons"},
        {"$group": {"_id": "$reasons.code", "n": {"$sum": 1}}},
    ]
    async for group in await quarantine.aggregate(pipeline):
        by_reason[str(group["_id"])] = int(group["n"])
    entries = []
    if limit:
        cursor = quarantine.find(query).sort([("quarantined_at", DESCENDING), ("row", ASCENDING)])
        async for document in cursor.limit(limit):
            entries.append(QuarantineEntry.model_validate(document))
    return QuarantineListing(
        count=count, by_reason=dict(sorted(by_reason.items())), entries=entries
    )


async def list_leads(database: MongoDatabase, *, limit: int = 10) -> LeadListing:
    """How many leads there are, and the first ``limit`` by id."""
    _check_limit(limit)
    leads = database["leads"]
    count = await leads.count_documents({})
    found = []
    if limit:
        async for document in leads.find({}).sort("_id", ASCENDING).limit(limit):
            found.append(
                Lead(
                    id=str(document["_id"]),
                    status=int(document.get("status") or 0),
                    first_name=document.get("first_name"),
                    last_name=document.get("last_name"),
                    email=document.get("email"),
                    photo_url=document.get("photo_url"),
                )
            )
    return LeadListing(count=count, leads=found)
