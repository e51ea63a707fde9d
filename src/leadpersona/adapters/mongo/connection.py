"""Connecting to MongoDB with Beanie on PyMongo's async client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConfigurationError, PyMongoError

from leadpersona.adapters.mongo.documents import DOCUMENT_MODELS
from leadpersona.errors import DatabaseError

__all__ = ["MongoDatabase", "connect", "redact_uri"]

MongoDatabase = AsyncDatabase[dict[str, Any]]


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
