"""The one wiring point: settings in, connected adapters out.

Adapters take plain values, never the settings; services take adapters, never build them. The
two wrappers at the end (``run_enrichment``, ``import_leads``) run a service on a database for
callers that hold one (the CLI, tests, benchmarks).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import Engine

from leadpersona.adapters.archive import GridFSArchive, RawArchive, S3Archive
from leadpersona.adapters.enrichment_client import MOCK_BASE_URL, EnrichmentClient
from leadpersona.adapters.mongo.connection import MongoDatabase, connect
from leadpersona.adapters.mongo.embedded import EmbeddedMongo
from leadpersona.adapters.mongo.enrichment_states import MongoEnrichmentStateRepository
from leadpersona.adapters.mongo.imports import MongoImportLedger
from leadpersona.adapters.mongo.leads import MongoLeadRepository
from leadpersona.adapters.mongo.persona_store import PersonaStore
from leadpersona.adapters.mongo.runs import MongoQuarantineRepository, MongoRunRepository
from leadpersona.adapters.mongo.setup import MongoStoreSetup
from leadpersona.adapters.mongo.sync_source import MongoSyncSource
from leadpersona.adapters.repositories import Repositories, RunRepository
from leadpersona.adapters.sales_api import MOCK_SALES_BASE_URL, SalesApiClient
from leadpersona.adapters.warehouse.engine import make_engine
from leadpersona.config import Settings
from leadpersona.errors import ConfigError, WarehouseError
from leadpersona.mapping import FieldMapStore
from leadpersona.sales.records import SOURCE_NAMES, SalesSource
from leadpersona.services import warehouse_sync
from leadpersona.services.enrichment import (
    DEFAULT_BATCH,
    RunSummary,
    enrich_leads,
)
from leadpersona.services.lead_import import ImportReport, import_lead_file
from leadpersona.services.runs import ProgressCallback
from leadpersona.services.warehouse_sync import SyncReport
from leadpersona.services.wiring import SalesSources, SourceFactory, SourceWindow, Wired

if TYPE_CHECKING:
    from leadpersona.adapters.mock_sales_api import SalesMockConfig

__all__ = [
    "MongoDatabase",
    "Wired",
    "enrichment_client",
    "field_map_store",
    "import_leads",
    "mongo_repositories",
    "mongo_server",
    "open_database",
    "raw_archive",
    "run_enrichment",
    "sales_client",
    "sales_sources",
    "sync_warehouse",
    "warehouse_engine",
    "warehouse_or_reason",
    "wired",
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


@contextmanager
def warehouse_or_reason(settings: Settings) -> Iterator[Engine | WarehouseError]:
    """:func:`warehouse_engine`, or why it cannot be opened, for readers that show the reason
    instead of failing (the dashboard's sales section)."""
    try:
        engine = make_engine(settings.effective_warehouse_url)
    except WarehouseError as exc:
        yield exc
        return
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
        setup=MongoStoreSetup(database),
        sync_source=MongoSyncSource(database),
    )


def raw_archive(settings: Settings, database: MongoDatabase) -> RawArchive:
    """The raw answer archive the settings choose (GridFS in ``database``, or S3)."""
    if settings.archive_backend == "s3":
        import boto3

        client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url)
        return S3Archive(database, client, settings.s3_bucket, prefix=settings.s3_prefix)
    return GridFSArchive(database)


def enrichment_client(settings: Settings) -> EnrichmentClient:
    """The enrichment API client the settings describe (the in-process mock API when no API
    URL is set); enter it."""
    transport: httpx.AsyncBaseTransport | None = None
    base_url = settings.linkedin_api_url
    if base_url is None:
        from leadpersona.adapters.mock_api import create_app

        transport = httpx.ASGITransport(app=create_app())
        base_url = MOCK_BASE_URL
    return EnrichmentClient(
        base_url,
        api_key=settings.linkedin_api_key.get_secret_value(),
        rate_limit=settings.effective_rate_limit,
        concurrency=settings.linkedin_concurrency,
        timeout=settings.linkedin_timeout,
        max_retries=settings.linkedin_max_retries,
        transport=transport,
    )


@asynccontextmanager
async def sales_client(
    settings: Settings, *, mock: SalesMockConfig | None = None, **options: Any
) -> AsyncIterator[SalesApiClient]:
    """The sales API client the settings describe, entered: the configured sales API, or the
    in-process mock (:mod:`leadpersona.adapters.mock_sales_api`, configured by ``mock``)
    through an ASGI transport, no port opened. ``options`` go to :class:`SalesApiClient`
    (``timeout``, ``max_retries``, ...)."""
    transport: httpx.AsyncBaseTransport | None = None
    base_url = settings.sales_api_url
    if base_url is None:
        from leadpersona.adapters.mock_sales_api import create_sales_app

        transport = httpx.ASGITransport(app=create_sales_app(mock))
        base_url = MOCK_SALES_BASE_URL
    client = SalesApiClient(
        base_url,
        api_key=settings.sales_api_key.get_secret_value(),
        rate_limit=settings.effective_sales_rate_limit,
        transport=transport,
        **options,
    )
    async with client:
        yield client


def field_map_store(settings: Settings) -> FieldMapStore:
    """The field-of-study mapping the settings point at: the working copy at
    ``settings.mapping_csv_path``, copied from the packaged CSV on first use.

    Open it once per process and hand it over (the HTTP app keeps it in its state): its
    snapshot, memoised answers and write guard belong to the one store.
    """
    return FieldMapStore(settings.mapping_csv_path.resolve(), working_copy=True)


def sales_sources(settings: Settings, names: Sequence[str] | None = None) -> SalesSources:
    """The sales sources a load reads, by name, each opened from the settings when the load
    reaches it: ``api`` (the configured sales API, or the in-process mock), ``files`` (the
    inbox) and ``db`` (the shop database).

    ``names`` default to the API and the inbox, and the shop database when
    ``LEADPERSONA_SALES_SOURCE_URL`` is set; an unknown name, or ``db`` without that URL, is a
    :class:`ConfigError`.
    """
    if names is None:
        names = [n for n in SOURCE_NAMES if n != "db" or settings.sales_source_url is not None]
    for name in names:
        if name not in SOURCE_NAMES:
            raise ConfigError(
                f"unknown sales source {name!r}: use one of {', '.join(SOURCE_NAMES)}"
            )
    shop_url = settings.sales_source_url
    if "db" in names and shop_url is None:
        raise ConfigError("no shop database: set LEADPERSONA_SALES_SOURCE_URL to load --source db")

    async def api(window: SourceWindow) -> SalesSource:
        from leadpersona.sales.sources.api import ApiSource

        client = await window.stack.enter_async_context(sales_client(settings))
        return ApiSource(client, window.start_date, window.end_date)

    async def files(_window: SourceWindow) -> SalesSource:
        from leadpersona.sales.sources.files import FileInboxSource

        return FileInboxSource(settings.effective_sales_inbox)

    factories: dict[str, SourceFactory] = {"api": api, "files": files}
    if shop_url is not None:
        factories["db"] = _shop_source(shop_url)
    return {name: factories[name] for name in dict.fromkeys(names)}


def _shop_source(url: str) -> SourceFactory:
    async def db(window: SourceWindow) -> SalesSource:
        from leadpersona.sales.shop_db import create_shop_engine
        from leadpersona.sales.sources.shopdb import ShopDbSource

        shop = create_shop_engine(url)
        window.stack.callback(shop.dispose)
        return ShopDbSource(shop)

    return db


@asynccontextmanager
async def wired(
    settings: Settings,
    database: MongoDatabase,
    *,
    client: EnrichmentClient | None = None,
    runs: RunRepository | None = None,
    field_maps: FieldMapStore | None = None,
) -> AsyncIterator[Wired]:
    """The adapters the settings choose, on ``database``: repositories (with ``runs`` as the
    run ledger when given), raw archive, field map (``field_maps``, or the one the settings
    point at), and the API client (``client``, or one opened here and closed on the way
    out)."""
    repositories = mongo_repositories(database)
    if runs is not None:
        repositories = replace(repositories, runs=runs)
    async with AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(enrichment_client(settings))
        yield Wired(
            repositories=repositories,
            archive=raw_archive(settings, database),
            field_maps=field_maps if field_maps is not None else field_map_store(settings),
            client=client,
        )


async def run_enrichment(
    settings: Settings,
    database: MongoDatabase,
    *,
    limit: int | None = None,
    refresh: bool = False,
    batch_size: int = DEFAULT_BATCH,
    client: EnrichmentClient | None = None,
    on_progress: ProgressCallback | None = None,
) -> RunSummary:
    """``enrich_leads`` on ``database`` with the adapters :func:`wired` builds."""
    async with wired(settings, database, client=client) as adapters:
        return await enrich_leads(
            settings,
            adapters,
            limit=limit,
            refresh=refresh,
            batch_size=batch_size,
            on_progress=on_progress,
        )


async def sync_warehouse(settings: Settings, database: MongoDatabase, **options: Any) -> SyncReport:
    """The warehouse sync service on ``database``'s documents, archive and run ledger
    (``options``: those of :func:`leadpersona.services.warehouse_sync.sync_warehouse`)."""
    return await warehouse_sync.sync_warehouse(
        settings,
        source=MongoSyncSource(database),
        archive=raw_archive(settings, database),
        runs=options.pop("runs", None) or MongoRunRepository(database),
        **options,
    )


async def import_leads(
    database: MongoDatabase,
    path: Path,
    *,
    dry_run: bool = False,
    batch_size: int = 1000,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """``import_lead_file`` with the repositories on ``database``."""
    return await import_lead_file(
        mongo_repositories(database),
        path,
        dry_run=dry_run,
        batch_size=batch_size,
        on_progress=on_progress,
    )
