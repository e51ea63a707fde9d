"""What the routes share: the app's state and the dependencies they declare with ``Annotated``."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from leadpersona.adapters.archive import RawArchive
from leadpersona.adapters.repositories import Repositories
from leadpersona.bootstrap import MongoDatabase
from leadpersona.config import Settings
from leadpersona.errors import LeadPersonaError
from leadpersona.mapping import FieldMapStore
from leadpersona.services.personas import PersonaService

__all__ = [
    "AppState",
    "Archive",
    "Database",
    "LeadId",
    "Personas",
    "app_state",
    "require_token",
]


class AppState:
    """What ``create_app``'s lifespan opens: settings, the database and its repositories, the
    persona service on them, the raw archive, and the field-of-study map store (one for the
    app's lifetime, so requests share its snapshot, memoised answers and write guard)."""

    service: PersonaService
    archive: RawArchive
    settings: Settings
    database: MongoDatabase
    repositories: Repositories
    field_maps: FieldMapStore
    #: The warehouse engine (sales views), or why it could not be opened.
    warehouse: Engine | LeadPersonaError


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.leadpersona
    return state


def _personas(request: Request) -> PersonaService:
    return app_state(request).service


def _archive(request: Request) -> RawArchive:
    return app_state(request).archive


def _database(request: Request) -> MongoDatabase:
    return app_state(request).database


Personas = Annotated[PersonaService, Depends(_personas)]
Archive = Annotated[RawArchive, Depends(_archive)]
Database = Annotated[MongoDatabase, Depends(_database)]
LeadId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")]

_bearer = HTTPBearer(auto_error=False, description="required on writes when a token is set")


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse a write without the configured bearer token (none configured: open)."""
    token = app_state(request).settings.api_token
    if token is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not secrets.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
