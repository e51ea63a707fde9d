"""FastAPI application: SPEC section 5 routes, OpenAPI at ``/docs``."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from leadpersona import __version__
from leadpersona.adapters.archive import RawArchive, build_archive
from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.bootstrap import mongo_server, open_database
from leadpersona.config import Settings, load_settings
from leadpersona.entrypoints.http.dashboard import router as dashboard_router
from leadpersona.entrypoints.http.metrics import router as metrics_router
from leadpersona.errors import DatabaseError, InvalidInput, NotFoundError
from leadpersona.services.personas import MAX_PAGE, PersonaService, parse_assignment

__all__ = ["create_app"]

LEAD_ID = Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")
_FIND_PARAMS = frozenset({"academic_field", "company_type", "feature", "limit", "after"})


class PersonaPatch(BaseModel):
    """``PATCH /leads/{id}/persona``: features to set; null removes one."""

    model_config = ConfigDict(extra="forbid")

    features: dict[str, str | int | float | bool | None] = Field(
        description="feature name → value (text, number, boolean) or null to remove it",
        min_length=1,
    )


class LeadIdsPage(BaseModel):
    lead_ids: list[str]
    next: str | None


class _State:
    service: PersonaService
    archive: RawArchive
    settings: Settings


def _state(request: Request) -> _State:
    state: _State = request.app.state.leadpersona
    return state


_bearer = HTTPBearer(auto_error=False, description="required on writes when a token is set")


def _require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    token = _state(request).settings.api_token
    if token is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not secrets.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )


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
            state = _State()
            state.settings = config
            state.service = PersonaService(db)
            state.archive = build_archive(config, db)
            app.state.leadpersona = state
            yield

    app = FastAPI(
        title="leadpersona",
        version=__version__,
        summary="Personas of B2B leads: get, update, find, statistics, raw enrichment answers.",
        lifespan=lifespan,
    )
    app.include_router(dashboard_router)
    app.include_router(metrics_router)

    @app.exception_handler(NotFoundError)
    async def _not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(DatabaseError)
    async def _database(_: Request, exc: DatabaseError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.get("/health", summary="Liveness and database reachability")
    async def health(request: Request) -> dict[str, str]:
        await _state(request).service.database.command("ping")
        return {"status": "ok"}

    @app.get("/leads/{lead_id}/persona", summary="One lead's persona")
    async def get_persona(request: Request, lead_id: Annotated[str, LEAD_ID]) -> dict[str, Any]:
        persona = await _state(request).service.get(lead_id)
        return persona.public()

    @app.patch(
        "/leads/{lead_id}/persona",
        summary="Partial update of a persona (null removes a feature); kept over recomputation",
        dependencies=[Depends(_require_token)],
    )
    async def patch_persona(
        request: Request, lead_id: Annotated[str, LEAD_ID], body: PersonaPatch
    ) -> dict[str, Any]:
        persona = await _state(request).service.update(lead_id, body.features)
        return persona.public()

    @app.get(
        "/personas/leads",
        summary="Lead ids of a persona, in pages",
        response_model=LeadIdsPage,
    )
    async def find_leads(
        request: Request,
        academic_field: Annotated[str | None, Query(max_length=200)] = None,
        company_type: Annotated[str | None, Query(max_length=200)] = None,
        feature: Annotated[
            list[str] | None, Query(description="NAME=VALUE, repeatable", max_length=20)
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
        after: Annotated[str | None, Query(max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")] = None,
    ) -> LeadIdsPage:
        unknown = sorted(set(request.query_params) - _FIND_PARAMS)
        if unknown:
            raise InvalidInput(f"unknown query parameter(s): {', '.join(unknown)}")
        service = _state(request).service
        features = dict(parse_assignment(item) for item in feature or [])
        query = service.query(
            academic_field=academic_field, company_type=company_type, features=features
        )
        ids, next_cursor = await service.find(query, after=after, limit=limit)
        return LeadIdsPage(lead_ids=ids, next=next_cursor)

    @app.get("/personas/stats", summary="Counts by academic field x company type, coverage")
    async def stats(request: Request) -> dict[str, Any]:
        return await _state(request).service.stats()

    @app.get(
        "/leads/{lead_id}/raw",
        summary="The enrichment API's answer for this lead, exactly as received",
        response_class=Response,
        responses={200: {"content": {"application/json": {}}}},
    )
    async def raw_answer(request: Request, lead_id: Annotated[str, LEAD_ID]) -> Response:
        _, raw = await _state(request).archive.latest(lead_id=lead_id)
        return Response(content=raw, media_type="application/json")

    return app
