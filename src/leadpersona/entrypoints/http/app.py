"""FastAPI application: SPEC section 5 routes (``routes/``, one module per resource), the
dashboard and ``/metrics``; OpenAPI at ``/docs``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from leadpersona import __version__
from leadpersona.bootstrap import (
    MongoDatabase,
    field_map_store,
    mongo_repositories,
    mongo_server,
    open_database,
    raw_archive,
    warehouse_or_reason,
)
from leadpersona.config import Settings, load_settings
from leadpersona.entrypoints.http.dashboard import router as dashboard_router
from leadpersona.entrypoints.http.deps import AppState
from leadpersona.entrypoints.http.metrics import router as metrics_router
from leadpersona.entrypoints.http.routes.leads import router as leads_router
from leadpersona.entrypoints.http.routes.personas import router as personas_router
from leadpersona.errors import DatabaseError, InvalidInput, NotFoundError
from leadpersona.services.personas import PersonaService

__all__ = ["create_app"]


def create_app(
    settings: Settings | None = None, *, database: MongoDatabase | None = None
) -> FastAPI:
    """The persona API. With ``database`` the app uses it; otherwise it opens the configured
    MongoDB (starting the embedded server if none is set) for its lifetime."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        config = settings or load_settings()
        async with AsyncExitStack() as stack:
            db = database
            if db is None:
                uri = stack.enter_context(mongo_server(config))
                db = await stack.enter_async_context(open_database(config, uri))
            state = AppState()
            state.settings = config
            state.database = db
            state.repositories = mongo_repositories(db)
            state.service = PersonaService(state.repositories)
            state.archive = raw_archive(config, db)
            state.field_maps = field_map_store(config)
            state.warehouse = stack.enter_context(warehouse_or_reason(config))
            app.state.leadpersona = state
            yield

    app = FastAPI(
        title="leadpersona",
        version=__version__,
        summary="Personas of B2B leads: get, update, find, statistics, raw enrichment answers.",
        lifespan=lifespan,
    )
    for router in (leads_router, personas_router, dashboard_router, metrics_router):
        app.include_router(router)

    @app.exception_handler(NotFoundError)
    async def _not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(DatabaseError)
    async def _database(_: Request, exc: DatabaseError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    return app
