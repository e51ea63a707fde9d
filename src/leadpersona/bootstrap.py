"""The one wiring point: settings in, connected adapters out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from sqlalchemy import Engine

from leadpersona.adapters.mongo.connection import MongoDatabase, connect
from leadpersona.adapters.mongo.embedded import EmbeddedMongo
from leadpersona.adapters.warehouse.engine import make_engine
from leadpersona.config import Settings

__all__ = ["mongo_server", "open_database", "warehouse_engine"]


@contextmanager
def mongo_server(settings: Settings) -> Iterator[str]:
    """Yield the MongoDB URI to use, running the embedded server meanwhile if none is set."""
    if settings.mongodb_uri is not None:
        yield settings.mongodb_uri
        return
    with EmbeddedMongo(settings.embedded_mongo_dir) as uri:
        yield uri


@asynccontextmanager
async def open_database(
    settings: Settings, uri: str, *, ensure_indexes: bool = True
) -> AsyncIterator[MongoDatabase]:
    """Connect to ``uri`` and the configured database, with Beanie initialised."""
    async with connect(uri, settings.mongodb_db, ensure_indexes=ensure_indexes) as database:
        yield database


@contextmanager
def warehouse_engine(settings: Settings) -> Iterator[Engine]:
    """The warehouse engine (``LEADPERSONA_WAREHOUSE_URL``, SQLite by default), then disposed."""
    engine = make_engine(settings.effective_warehouse_url)
    try:
        yield engine
    finally:
        engine.dispose()
