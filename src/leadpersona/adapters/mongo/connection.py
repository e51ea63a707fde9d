"""Connecting to MongoDB with Beanie on PyMongo's async client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConfigurationError, PyMongoError

from leadpersona.adapters.mongo.documents import DOCUMENT_MODELS
from leadpersona.errors import DatabaseError

__all__ = ["IN_CHUNK", "Lookahead", "MongoDatabase", "connect", "find_in", "redact_uri"]

MongoDatabase = AsyncDatabase[dict[str, Any]]

#: The longest ``$in`` list sent in one query. The embedded server compares each candidate
#: document with every value of the list, so a query's cost grows with the square of the list;
#: 64 values keep that below the cost of the round trips (measured in docs/decisions/warehouse.md).
IN_CHUNK = 64


async def find_in(
    collection: AsyncCollection[dict[str, Any]],
    field: str,
    values: Sequence[Any],
    projection: Mapping[str, Any] | None = None,
    *,
    where: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The documents whose ``field`` is one of ``values`` and that match ``where`` (in no
    particular order): one ``$in`` query per :data:`IN_CHUNK` values, run concurrently."""
    parts = await asyncio.gather(
        *(
            collection.find(
                {**(where or {}), field: {"$in": list(values[start : start + IN_CHUNK])}},
                projection,
            ).to_list()
            for start in range(0, len(values), IN_CHUNK)
        )
    )
    return [document for part in parts for document in part]


class Lookahead:
    """The documents of a cursor, each looked at before it is taken (a merge join's side)."""

    def __init__(self, documents: AsyncIterator[dict[str, Any]]) -> None:
        self._documents = documents
        self._next: dict[str, Any] | None = None
        self._done = False

    async def peek(self) -> dict[str, Any] | None:
        """The next document, left in place (None once there are no more)."""
        if self._next is None and not self._done:
            try:
                self._next = await anext(self._documents)
            except StopAsyncIteration:
                self._done = True
        return self._next

    def take(self) -> None:
        """Move past the document :meth:`peek` gave."""
        self._next = None


def redact_uri(uri: str) -> str:
    """The URI without credentials, fit for an error message."""
    scheme, sep, rest = uri.partition("://")
    if "@" in rest.split("/", 1)[0]:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


@asynccontextmanager
async def connect(
    uri: str,
    db_name: str,
    *,
    server_selection_timeout_s: float = 10.0,
    init_documents: bool = True,
    ensure_indexes: bool = True,
    **client_options: Any,
) -> AsyncIterator[MongoDatabase]:
    """Open a client, check the server answers, initialise Beanie, yield the database.

    With ``ensure_indexes`` Beanie creates every declared index (idempotent); every query and
    upsert of the product relies on one (see docs/decisions/persona-model.md).
    """
    options: dict[str, Any] = {"tz_aware": True, **client_options}
    if "serverselectiontimeoutms" not in uri.lower():  # an option in the URI wins
        options["serverSelectionTimeoutMS"] = int(server_selection_timeout_s * 1000)
    try:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, **options)
    except (ConfigurationError, ValueError) as exc:
        raise DatabaseError(f"invalid MongoDB URI {redact_uri(uri)}: {exc}") from None
    try:
        try:
            await client.admin.command("ping")
        except PyMongoError as exc:
            raise DatabaseError(
                f"cannot reach MongoDB at {redact_uri(uri)}: {str(exc).splitlines()[0][:200]}"
            ) from None
        database = client[db_name]
        if init_documents:
            await init_beanie(
                database=database,
                document_models=list(DOCUMENT_MODELS),
                skip_indexes=not ensure_indexes,
            )
        yield database
    finally:
        await client.close()
