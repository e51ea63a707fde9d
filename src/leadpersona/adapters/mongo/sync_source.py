"""What the warehouse sync reads from MongoDB, read the way the embedded server serves fastest.

- Personas after a watermark: one range on the ``updated_id`` index (an ``$or`` of two ranges
  used no index and scanned every persona).
- Leads by id: ``$in`` lists of :data:`~leadpersona.adapters.mongo.connection.IN_CHUNK` ids.
- Every lead in ``_id`` order: one cursor walking the ``_id`` index, for a merge join with
  personas in the same order (a lookup by id costs the embedded server about four times a walk).
- The leads written or deleted since the last sync: the change stream of ``leads``, resumed
  from the token the last sync kept (a replica set's oplog, which the embedded server keeps
  for an hour and 100,000 entries by default). Resuming past 200 writes to other collections
  and three to leads took the embedded server 9 ms; walking 20,000 lead ids, 0.2 s; even
  counting them (``count``, ``estimated_document_count``), 0.12 s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from bson import json_util
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.errors import OperationFailure

from leadpersona.adapters.mongo.connection import Lookahead, MongoDatabase, find_in
from leadpersona.adapters.repositories import LeadChanges, LeadsInOrder, SyncSource

__all__ = ["MongoSyncSource"]

#: What the warehouse never reads from a persona document.
_SKIPPED = {"feature_index": 0, "revision": 0}
_BY_ID = [("_id", 1)]
#: Leads per round trip of the walk in id order.
_WALK_BATCH = 500
#: A change event as the sync needs it: what happened to which lead (``_id`` is the token).
_CHANGES = [{"$project": {"operationType": 1, "documentKey": 1}}]
#: The events that name one lead; any other (drop, rename, invalidate) ends what the stream
#: can say.
_LEAD_EVENTS = {"insert", "update", "replace", "delete"}
#: How long a read of the stream waits for writes not there yet: it reads up to the present.
_NO_WAIT_MS = 1


def _since(since: datetime | None) -> dict[str, Any]:
    return {} if since is None else {"updated_at": {"$gte": since}}


class _MongoLeadsInOrder(LeadsInOrder):
    def __init__(self, cursor: AsyncCursor[dict[str, Any]]) -> None:
        self._leads = Lookahead(aiter(cursor))

    async def take(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        wanted, last = set(ids), max(ids)
        found = []
        while (lead := await self._leads.peek()) is not None:
            key = lead["_id"]
            if isinstance(key, str) and key > last:  # (persona ids are text: others never match)
                break
            if key in wanted:
                found.append(lead)
            self._leads.take()
        return found


class MongoSyncSource(SyncSource):
    """The ``personas`` and ``leads`` collections."""

    def __init__(self, database: MongoDatabase) -> None:
        self._personas = database["personas"]
        self._leads = database["leads"]

    async def count_personas(self, since: datetime | None) -> int:
        if since is None:
            # The collection's own count (a progress total; mongod keeps it in metadata):
            # counting the documents cost the embedded server 0.43 s of CPU at 20,000
            # personas, against 0.14 s, before the first persona was read.
            return await self._personas.estimated_document_count()
        return await self._personas.count_documents(_since(since))

    async def personas(
        self, since: datetime | None, *, by_id: bool, batch_size: int
    ) -> AsyncIterator[dict[str, Any]]:
        if by_id:
            # Every persona: the embedded server scans the collection and orders it by the
            # ``_id`` index when told to (unhinted, it fetched each document through the
            # index), and projects nothing (its projection copies each document first): 0.45
            # against 1.25 s of its CPU at 20,000 personas.
            cursor = self._personas.find(_since(since)).sort(_BY_ID).hint(_BY_ID)
        else:
            order = [("updated_at", 1), ("_id", 1)]
            cursor = self._personas.find(_since(since), _SKIPPED).sort(order)
        cursor = cursor.batch_size(batch_size)
        async for document in cursor:
            yield document

    async def leads(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        return await find_in(self._leads, "_id", ids)

    def leads_in_order(self) -> LeadsInOrder:
        # A bounded batch per round trip: by default a getMore brings up to 16 MB of leads.
        cursor = self._leads.find({}).sort(_BY_ID).hint(_BY_ID).batch_size(_WALK_BATCH)
        return _MongoLeadsInOrder(cursor)

    async def lead_ids(self, batch_size: int) -> AsyncIterator[str]:
        cursor = self._leads.find({}, {"_id": 1}).sort(_BY_ID).hint(_BY_ID).batch_size(batch_size)
        async for document in cursor:
            yield str(document["_id"])

    async def lead_log_position(self) -> str | None:
        try:
            async with await self._leads.watch(_CHANGES, max_await_time_ms=_NO_WAIT_MS) as stream:
                await stream.try_next()
                token = stream.resume_token
        except OperationFailure:  # not a replica set: no change stream
            return None
        return None if token is None else json_util.dumps(token)

    async def lead_changes(self, after: str, limit: int) -> LeadChanges | None:
        ids: set[str] = set()
        try:
            async with await self._leads.watch(
                _CHANGES, resume_after=json_util.loads(after), max_await_time_ms=_NO_WAIT_MS
            ) as stream:
                # try_next gives None once a read finds nothing new: the stream has caught up.
                while (event := await stream.try_next()) is not None:
                    if event.get("operationType") not in _LEAD_EVENTS:
                        return None
                    ids.add(str(event["documentKey"]["_id"]))
                    if len(ids) > limit:
                        return None
                token = stream.resume_token
        except (OperationFailure, ValueError):  # history lost, or not a token of this server
            return None
        if token is None:
            return None
        return LeadChanges(ids=frozenset(ids), position=json_util.dumps(token))
