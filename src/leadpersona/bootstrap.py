"""The one wiring point: settings in, connected adapters out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from sqlalchemy import Engine

from leadpersona.adapters.archive import RawArchive, build_archive
from leadpersona.adapters.enrichment_client import EnrichmentClient, build_enrichment_client
from leadpersona.adapters.mongo.connection import MongoDatabase, connect
from leadpersona.adapters.mongo.embedded import EmbeddedMongo
from leadpersona.adapters.mongo.enrichment_states import MongoEnrichmentStateRepository
from leadpersona.adapters.mongo.imports import MongoImportLedger
from leadpersona.adapters.mongo.leads import MongoLeadRepository
from leadpersona.adapters.mongo.persona_store import PersonaStore
from leadpersona.adapters.mongo.runs import MongoQuarantineRepository, MongoRunRepository
from leadpersona.adapters.repositories import Repositories
from leadpersona.adapters.warehouse.engine import make_engine
from leadpersona.config import Settings
from leadpersona.mapping import FieldMapStore, open_field_map

__all__ = [
    "MongoDatabase",
    "enrichment_client",
    "field_map_store",
    "mongo_repositories",
    "mongo_server",
    "open_database",
    "raw_archive",
    "warehouse_engine",
]


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


def mongo_repositories(database: MongoDatabase) -> Repositories:
    """Every repository, on ``database``."""
    return Repositories(
        leads=MongoLeadRepository(database),
        personas=PersonaStore(database),
        enrichment_states=MongoEnrichmentStateRepository(database),
        runs=MongoRunRepository(database),
        quarantine=MongoQuarantineRepository(database),
        imports=MongoImportLedger(database),
    )


def raw_archive(settings: Settings, database: MongoDatabase) -> RawArchive:
    """The raw answer archive the settings choose (GridFS in ``database``, or S3)."""
    return build_archive(settings, database)


def enrichment_client(settings: Settings) -> EnrichmentClient:
    """The enrichment API client (the in-process mock when no API URL is set); enter it."""
    return build_enrichment_client(settings)


def field_map_store(settings: Settings) -> FieldMapStore:
    """The field-of-study mapping the settings point at."""
    return open_field_map(settings)
