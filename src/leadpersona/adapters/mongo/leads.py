"""Bulk writes to ``leads`` and ``quarantine``, and the unique email index they rely on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, OperationFailure

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.errors import DatabaseError

__all__ = [
    "EMAIL_UNIQUE_INDEX",
    "InsertOutcome",
    "ensure_unique_email_index",
    "insert_ignoring_duplicates",
]

#: Unique where the email is a string: leads without an email (null or absent) may repeat.
EMAIL_UNIQUE_INDEX = "email_unique"
_DUPLICATE_KEY = 11000
# Codes mongod uses when an index with the same name or key exists with other options.
_INDEX_CONFLICT = {85, 86}

Collection = AsyncCollection[dict[str, Any]]


async def ensure_unique_email_index(database: MongoDatabase) -> None:
    """Create the partial unique index on ``leads.email`` (idempotent).

    Not declared on the Beanie document on purpose: leads written by another system may
    already repeat an email, and building the index then fails; that failure belongs to the
    commands that need the index (import, seed, init), with a clear message, not to every
    command that opens the database.
    """
    leads = database["leads"]
    try:
        await leads.create_index(
            [("email", ASCENDING)],
            name=EMAIL_UNIQUE_INDEX,
            unique=True,
            partialFilterExpression={"email": {"$type": "string"}},
        )
    except OperationFailure as exc:
        if exc.code == _DUPLICATE_KEY:
            example = await _a_repeated_email(leads)
            raise DatabaseError(
                "cannot create the unique index on leads.email: some leads share an email"
                f"{f' (e.g. {example})' if example else ''}; merge or remove them first"
            ) from None
        if exc.code in _INDEX_CONFLICT:
            raise DatabaseError(
                f"cannot create the unique index on leads.email: {exc.details or exc}"
                " (an index with this name or key exists with other options)"
            ) from None
        raise


async def _a_repeated_email(leads: Collection) -> str | None:
    pipeline: list[dict[str, Any]] = [
        {"$match": {"email": {"$type": "string"}}},
        {"$group": {"_id": "$email", "n": {"$sum": 1}}},
        {"$match": {"n": {"$gt": 1}}},
        {"$limit": 1},
    ]
    async for group in await leads.aggregate(pipeline):
        return str(group["_id"])
    return None


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
