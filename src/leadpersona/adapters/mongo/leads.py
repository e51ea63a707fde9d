"""Bulk writes to ``leads`` and ``quarantine``, and the product's index of lead email keys.

Leads may come from another system and repeat an email in any letter case, so the product puts
no unique index on ``leads``. Import dedup relies instead on ``lead_emails``, a collection the
product owns: one document per normalised email (``domain.email.normalize_email``) naming the
lead that owns it. A new lead claims its key before it is written (a crash in between leaves a
claim whose lead the next run writes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, PyMongoError

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.repositories import (
    EmailOwner,
    ImportedLead,
    LeadContact,
    LeadRepository,
    SharedEmails,
)
from leadpersona.domain.email import normalize_email
from leadpersona.domain.models import Lead
from leadpersona.errors import DatabaseError

__all__ = [
    "EMAIL_UNIQUE_INDEX",
    "LEAD_EMAILS",
    "InsertOutcome",
    "MongoLeadRepository",
    "SharedEmails",
    "claim_emails",
    "email_owners",
    "insert_ignoring_duplicates",
    "register_emails",
]

#: The index earlier versions built on ``leads.email``; dropped: leads are not ours to constrain.
EMAIL_UNIQUE_INDEX = "email_unique"
#: The product's own collection of email keys: ``{_id: normalised email, lead_id, email}``.
LEAD_EMAILS = "lead_emails"
_DUPLICATE_KEY = 11000
_BATCH = 250
_EXAMPLES = 5

Collection = AsyncCollection[dict[str, Any]]


class _ContactDocument(BaseModel):
    """A lead projected to id and email, validated as the pipeline reads it."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(alias="_id")
    email: str | None = None


class MongoLeadRepository(LeadRepository):
    """``leads``, and their email keys in ``lead_emails``."""

    def __init__(self, database: MongoDatabase) -> None:
        self.database = database
        self.collection = database["leads"]

    async def contact_pages(self, page_size: int) -> AsyncIterator[list[LeadContact]]:
        # One cursor for the whole run, read a page per round trip: a new ``find`` per page
        # (``_id > last``, sorted, limited) made some servers sort the collection again for
        # every page, a cost per page that grew with the number of leads.
        cursor = self.collection.find({}, {"email": 1}).sort("_id", 1).batch_size(page_size)
        page: list[LeadContact] = []
        async for document in cursor:
            contact = _ContactDocument.model_validate(document)
            page.append(LeadContact(id=contact.id, email=contact.email))
            if len(page) >= page_size:
                yield page
                page = []
        if page:
            yield page

    async def count(self) -> int:
        return await self.collection.count_documents({})

    async def first_by_id(self, limit: int) -> list[Lead]:
        if limit <= 0:
            return []
        return [
            Lead(
                id=str(document["_id"]),
                status=int(document.get("status") or 0),
                first_name=document.get("first_name"),
                last_name=document.get("last_name"),
                email=document.get("email"),
                photo_url=document.get("photo_url"),
            )
            async for document in self.collection.find({}).sort("_id", ASCENDING).limit(limit)
        ]

    async def register_email_keys(self) -> SharedEmails:
        return await register_emails(self.database)

    async def email_owners(self, keys: Sequence[str]) -> dict[str, EmailOwner]:
        owners = {}
        for key, document in (await email_owners(self.database, keys)).items():
            source = document.get("imported")
            if isinstance(source, dict):
                owner = EmailOwner(str(document["_id"]), source.get("import_id"), source.get("row"))
            else:
                owner = EmailOwner(str(document["_id"]))
            owners[key] = owner
        return owners

    async def claim_email_keys(self, claims: Sequence[tuple[str, str, str]]) -> list[int]:
        return await claim_emails(self.database, claims)

    async def add_new(self, leads: Sequence[Lead]) -> int:
        documents = [{"_id": lead.id, **lead.model_dump(exclude={"id"})} for lead in leads]
        return (await insert_ignoring_duplicates(self.collection, documents)).inserted

    async def add_imported(self, leads: Sequence[ImportedLead]) -> None:
        documents = []
        for lead in leads:
            source: dict[str, Any] = {"import_id": lead.import_id, "row": lead.row}
            if lead.extra:
                source["extra"] = lead.extra
            documents.append({"_id": lead.lead_id, **lead.fields, "imported": source})
        await insert_ignoring_duplicates(self.collection, documents)


async def register_emails(database: MongoDatabase) -> SharedEmails:
    """Give every lead's email key an owner in ``lead_emails``; report keys shared by leads.

    Idempotent and safe on any ``leads`` collection, including one written by another system
    that repeats emails (in any letter case): the first lead by ``_id`` owns a key, the
    others are reported and still enriched (they share one API call). One pass over the
    leads (projected to ``_id`` and ``email``) in batches; the unique index earlier versions
    put on ``leads.email`` is dropped.
    """
    leads = database["leads"]
    owners = database[LEAD_EMAILS]
    shared: dict[str, set[str]] = {}  # only keys held by several leads: memory stays small

    async def flush(batch: list[dict[str, Any]]) -> None:
        # Look before writing: a re-run finds every claim in place and writes nothing (a bulk
        # insert that fails on each document would carry every failure back in memory).
        held = {
            doc["_id"]: doc["lead_id"]
            async for doc in owners.find({"_id": {"$in": [c["_id"] for c in batch]}})
        }
        fresh: dict[str, dict[str, Any]] = {}
        for claim in batch:
            holder = held.get(claim["_id"]) or fresh.get(claim["_id"], {}).get("lead_id")
            if holder is None:
                fresh[claim["_id"]] = claim
            elif holder != claim["lead_id"]:
                shared.setdefault(claim["_id"], {holder}).add(claim["lead_id"])
        # A claim another process made meanwhile is skipped (its sharing is counted next time).
        await insert_ignoring_duplicates(owners, list(fresh.values()))

    try:
        names = [index["name"] async for index in await leads.list_indexes()]
        if EMAIL_UNIQUE_INDEX in names:
            await leads.drop_index(EMAIL_UNIQUE_INDEX)
        batch: list[dict[str, Any]] = []
        cursor = (
            leads.find({"email": {"$type": "string"}}, {"email": 1})
            .sort("_id", ASCENDING)
            .batch_size(_BATCH)  # what the server sends at once: bounded memory
        )
        async for document in cursor:
            key = normalize_email(document["email"])
            if key:
                batch.append(
                    {"_id": key, "lead_id": str(document["_id"]), "email": document["email"]}
                )
            if len(batch) >= _BATCH:
                await flush(batch)
                batch = []
        await flush(batch)
    except PyMongoError as exc:
        raise DatabaseError(f"cannot register lead emails: {exc}") from None
    return SharedEmails(
        emails=len(shared),
        leads=sum(len(ids) for ids in shared.values()),
        examples=[
            {"email": key, "lead_ids": sorted(ids)[:_EXAMPLES]}
            for key, ids in sorted(shared.items())[:_EXAMPLES]
        ],
    )


async def email_owners(database: MongoDatabase, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The stored lead owning each email key (``_id``, ``email``, ``imported``), by key."""
    if not keys:
        return {}
    claims = {
        doc["_id"]: doc["lead_id"]
        async for doc in database[LEAD_EMAILS].find({"_id": {"$in": list(set(keys))}})
    }
    if not claims:
        return {}
    leads = {
        doc["_id"]: doc
        async for doc in database["leads"].find(
            {"_id": {"$in": list(set(claims.values()))}}, {"email": 1, "imported": 1}
        )
    }
    return {key: leads[lead_id] for key, lead_id in claims.items() if lead_id in leads}


async def claim_emails(
    database: MongoDatabase, claims: Sequence[tuple[str, str, str]]
) -> list[int]:
    """Claim email keys for new leads (key, lead id, email as written), before the leads are
    written; the indexes of claims that lost to an existing owner. A claim whose owner lead
    no longer exists is taken over.
    """
    owners = database[LEAD_EMAILS]
    outcome = await insert_ignoring_duplicates(
        owners, [{"_id": key, "lead_id": lead_id, "email": email} for key, lead_id, email in claims]
    )
    if not outcome.duplicates:
        return []
    lost = [claims[i] for i in outcome.duplicates]
    held = {
        doc["_id"]: doc["lead_id"]
        async for doc in owners.find({"_id": {"$in": [key for key, _, _ in lost]}})
    }
    alive = {
        doc["_id"]
        async for doc in database["leads"].find(
            {"_id": {"$in": list(set(held.values()))}}, {"_id": 1}
        )
    }
    losers = []
    for index in outcome.duplicates:
        key, lead_id, email = claims[index]
        owner = held.get(key)
        if owner == lead_id:
            continue  # claimed by an interrupted run of this very row
        if owner is not None and owner not in alive:
            taken = await owners.update_one(
                {"_id": key, "lead_id": owner}, {"$set": {"lead_id": lead_id, "email": email}}
            )
            if taken.modified_count == 1:
                continue
        losers.append(index)
    return losers


class InsertOutcome:
    """Which documents of a bulk insert went in, and which hit a unique key."""

    def __init__(self, inserted: int, duplicates: list[int]) -> None:
        self.inserted = inserted
        self.duplicates = duplicates  # indexes into the documents given


async def insert_ignoring_duplicates(
    collection: Collection, documents: Sequence[dict[str, Any]]
) -> InsertOutcome:
    """Insert unordered; a duplicate key skips that document only, anything else raises."""
    if not documents:
        return InsertOutcome(0, [])
    try:
        result = await collection.insert_many(list(documents), ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        others = [error for error in errors if error.get("code") != _DUPLICATE_KEY]
        if others or exc.details.get("writeConcernErrors"):
            first = others[0]["errmsg"] if others else "write concern error"
            raise DatabaseError(
                f"writing to {collection.name} failed: {str(first)[:300]}"
            ) from None
        duplicates = sorted(int(error["index"]) for error in errors)
        return InsertOutcome(int(exc.details.get("nInserted", 0)), duplicates)
    return InsertOutcome(len(result.inserted_ids), [])
