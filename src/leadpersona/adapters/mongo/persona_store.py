"""Persona storage in MongoDB: bulk writes, partial updates, index-backed queries, counts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReplaceOne
from pymongo.errors import BulkWriteError

from leadpersona.adapters.mongo.connection import MongoDatabase, find_in
from leadpersona.adapters.mongo.persona_documents import PersonaDocument
from leadpersona.adapters.repositories import ExampleKind, PersonaRepository
from leadpersona.domain.persona import (
    FeatureValue,
    Persona,
    PersonaQuery,
    apply_overrides,
    feature_key,
)
from leadpersona.domain.persona_stats import PersonaGroup
from leadpersona.errors import DatabaseError, PersonaNotFound

__all__ = ["PersonaStore"]

_UPDATE_ATTEMPTS = 5
_DUPLICATE_KEY = 11000


def _raise_unless_id_race(exc: BulkWriteError) -> None:
    """Raise a :class:`DatabaseError` for a bulk write failure other than the duplicate-_id race."""
    details: dict[str, Any] = dict(exc.details or {})
    for error in details.get("writeErrors") or []:
        message = str(error.get("errmsg", ""))
        key_pattern = error.get("keyPattern")
        on_id = key_pattern == {"_id": 1} if key_pattern else "_id_" in message
        if error.get("code") != _DUPLICATE_KEY or not on_id:
            raise DatabaseError(f"saving personas failed: {message or error}") from exc
    if details.get("writeConcernErrors"):
        first = details["writeConcernErrors"][0]
        raise DatabaseError(f"saving personas failed: {first.get('errmsg', first)}") from exc


def _page_filter(key: str | None, after: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {} if key is None else {"feature_index": key}
    if after is not None:
        query["_id"] = {"$gt": after}
    return query


def to_document(persona: Persona, revision: str | None = None) -> dict[str, Any]:
    document = persona.model_dump(mode="python", exclude={"lead_id"})
    document["_id"] = persona.lead_id
    document["provenance"] = {
        name: value.model_dump(exclude_none=True) for name, value in persona.provenance.items()
    }
    document["feature_index"] = sorted(feature_key(n, v) for n, v in persona.features.items())
    # Changes on every write: writers replace only the revision they read (optimistic locking).
    document["revision"] = revision or uuid.uuid4().hex
    return document


def _persona(document: Mapping[str, Any]) -> Persona:
    data = {k: v for k, v in document.items() if k not in ("_id", "feature_index", "revision")}
    return Persona(lead_id=document["_id"], **data)


class PersonaStore(PersonaRepository):
    """The ``personas`` collection (``_id`` = lead id)."""

    def __init__(self, database: MongoDatabase) -> None:
        self.database = database
        self.collection = database[PersonaDocument.get_collection_name()]

    async def get(self, lead_id: str) -> Persona:
        document = await self.collection.find_one({"_id": lead_id})
        if document is None:
            raise PersonaNotFound(f"no persona for lead {lead_id}")
        return _persona(document)

    async def existing_ids(self, lead_ids: Sequence[str]) -> set[str]:
        """Which of ``lead_ids`` already have a persona (one query)."""
        found = await find_in(self.collection, "_id", list(lead_ids), {"_id": 1})
        return {document["_id"] for document in found}

    async def count_all(self) -> int:
        return await self.collection.count_documents({})

    async def _current(self, lead_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Overrides and revision of those of ``lead_ids`` that have a persona (one query)."""
        found = await find_in(
            self.collection, "_id", list(lead_ids), {"_id": 1, "overrides": 1, "revision": 1}
        )
        return {document["_id"]: document for document in found}

    async def save_computed(self, personas: Sequence[Persona]) -> None:
        """Upsert freshly computed personas in one bulk write, keeping manual overrides.

        Each persona is replaced only if it is still the revision read with its overrides, so a
        manual edit made meanwhile is not lost: the personas it touched are merged again.
        """
        pending = {persona.lead_id: persona for persona in personas}
        for _ in range(_UPDATE_ATTEMPTS):
            if not pending:
                return
            current = await self._current(list(pending))
            operations = []
            written: dict[str, str] = {}
            for lead_id, persona in pending.items():
                document = current.get(lead_id)
                merged = apply_overrides(persona, (document or {}).get("overrides") or {})
                written[lead_id] = revision = uuid.uuid4().hex
                if document is None:
                    filter_: dict[str, Any] = {"_id": lead_id}
                else:
                    filter_ = {"_id": lead_id, "revision": document.get("revision")}
                operations.append(
                    ReplaceOne(filter_, to_document(merged, revision), upsert=document is None)
                )
            try:
                result = await self.collection.bulk_write(operations, ordered=False)
                if result.matched_count + result.upserted_count == len(operations):
                    return
            except BulkWriteError as exc:
                # Only a persona created meanwhile (duplicate _id) is merged again below;
                # any other failure is reported, not retried.
                _raise_unless_id_race(exc)
            landed = await self._current(list(pending))
            pending = {
                lead_id: persona
                for lead_id, persona in pending.items()
                if landed.get(lead_id, {}).get("revision") != written[lead_id]
            }
        if pending:
            raise DatabaseError(f"{len(pending)} personas kept changing; recomputation not saved")

    async def update(self, lead_id: str, changes: Mapping[str, FeatureValue | None]) -> Persona:
        """Partial update by hand (validated values; None removes), recorded as overrides so
        that it survives recomputation."""
        for _ in range(_UPDATE_ATTEMPTS):
            document = await self.collection.find_one({"_id": lead_id})
            if document is None:
                raise PersonaNotFound(f"no persona for lead {lead_id}")
            current = _persona(document)
            updated = apply_overrides(current, {**current.overrides, **changes}).model_copy(
                update={"updated_at": datetime.now(UTC)}
            )
            # Optimistic concurrency: replace only the revision read above.
            result = await self.collection.replace_one(
                {"_id": lead_id, "revision": document.get("revision")}, to_document(updated)
            )
            if result.matched_count == 1:
                return updated
        raise DatabaseError(f"persona {lead_id} kept changing; update not applied")

    async def _driver(self, query: PersonaQuery) -> tuple[str | None, set[str]]:
        """The index key that drives a query (the rarest one) and the keys left to check.

        A single equality on ``feature_index`` is answered from the index by mongod and by the
        embedded server alike; ``$all`` or ``$and`` over the array make the embedded server
        scan the collection, and hinting the index makes it walk the whole index. So a query
        on several features scans the rarest key's entries and checks the others here.
        """
        keys = query.keys()
        if len(keys) <= 1:
            return (keys[0] if keys else None), set()
        counts = [(await self.collection.count_documents({"feature_index": k}), k) for k in keys]
        driver = min(counts)[1]
        return driver, set(keys) - {driver}

    async def _matching(
        self, query: PersonaQuery, *, after: str | None = None, batch_size: int = 1000
    ) -> AsyncIterator[str]:
        driver, rest = await self._driver(query)
        projection = {"_id": 1, "feature_index": 1} if rest else {"_id": 1}
        cursor = self.collection.find(
            _page_filter(driver, after),
            projection,
            sort=[("_id", ASCENDING)],
            batch_size=batch_size,
        )
        try:
            async for document in cursor:
                if not rest or rest.issubset(document.get("feature_index", ())):
                    yield document["_id"]
        finally:
            await cursor.close()

    async def find_ids(
        self, query: PersonaQuery, *, after: str | None = None, limit: int = 1000
    ) -> list[str]:
        """One page of lead ids (ascending) after the cursor ``after``."""
        if len(query.features) <= 1:
            driver = query.keys()[0] if query.features else None
            cursor = self.collection.find(
                _page_filter(driver, after), {"_id": 1}, sort=[("_id", ASCENDING)], limit=limit
            )
            return [document["_id"] async for document in cursor]
        ids: list[str] = []
        async for lead_id in self._matching(query, after=after, batch_size=limit):
            ids.append(lead_id)
            if len(ids) == limit:
                break
        return ids

    def iter_ids(self, query: PersonaQuery, *, batch_size: int = 1000) -> AsyncIterator[str]:
        """Every matching lead id, streamed from one cursor (constant memory)."""
        return self._matching(query, batch_size=batch_size)

    async def count(self, query: PersonaQuery) -> int:
        if len(query.features) <= 1:
            return await self.collection.count_documents(
                _page_filter(query.keys()[0] if query.features else None, None)
            )
        total = 0
        async for _ in self._matching(query):
            total += 1
        return total

    async def explain(self, query: PersonaQuery) -> dict[str, Any]:
        """The server's plan for the index scan behind ``find_ids``."""
        driver, _ = await self._driver(query)
        command: dict[str, Any] = {
            "find": self.collection.name,
            "filter": _page_filter(driver, None),
            "projection": {"_id": 1},
            "sort": {"_id": 1},
        }
        result: dict[str, Any] = await self.database.command({"explain": command})
        return result

    async def example(self, kind: ExampleKind, exclude: Sequence[str] = ()) -> Persona | None:
        query: dict[str, Any] = {"_id": {"$nin": list(exclude)}}
        if kind.status is not None:
            query["status"] = kind.status
        if kind.academic_source is not None:
            query["provenance.academic_field.source"] = kind.academic_source
        if kind.with_company_type:
            query["features.company_type"] = {"$exists": 1}
        document = await self.collection.find_one(query, sort=[("_id", ASCENDING)])
        return None if document is None else _persona(document)

    async def group_counts(self) -> list[PersonaGroup]:
        """Personas counted by academic field, company type, status and academic source."""
        pipeline: list[dict[str, Any]] = [
            {
                "$group": {
                    "_id": {
                        "a": "$features.academic_field",
                        "c": "$features.company_type",
                        "s": "$status",
                        "src": "$provenance.academic_field.source",
                    },
                    "n": {"$sum": 1},
                }
            }
        ]
        return [
            PersonaGroup(
                academic_field=row["_id"].get("a"),
                company_type=row["_id"].get("c"),
                status=row["_id"].get("s"),
                academic_source=row["_id"].get("src"),
                count=int(row["n"]),
            )
            async for row in await self.collection.aggregate(pipeline)
        ]
