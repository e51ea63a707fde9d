"""Personas: one lead's persona (get, partial update), lead ids by persona, statistics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from leadpersona.entrypoints.http.deps import LeadId, Personas, require_token
from leadpersona.errors import InvalidInput
from leadpersona.services.personas import MAX_PAGE, parse_assignment

__all__ = ["LeadIdsPage", "PersonaPatch", "PersonaResponse", "router"]

router = APIRouter(tags=["personas"])

_FIND_PARAMS = frozenset({"academic_field", "company_type", "feature", "limit", "after"})


class PersonaPatch(BaseModel):
    """``PATCH /leads/{id}/persona``: features to set; null removes one."""

    model_config = ConfigDict(extra="forbid")

    features: dict[str, str | int | float | bool | None] = Field(
        description="feature name → value (text, number, boolean) or null to remove it",
        min_length=1,
    )


class PersonaResponse(BaseModel):
    """A persona as the API returns it: the lead, its features, then provenance and metadata."""

    model_config = ConfigDict(extra="allow")

    lead_id: str
    features: dict[str, Any]


class LeadIdsPage(BaseModel):
    """A page of lead ids and the cursor of the next page (null on the last)."""

    lead_ids: list[str]
    next: str | None


@router.get("/leads/{lead_id}/persona", summary="One lead's persona")
async def get_persona(service: Personas, lead_id: LeadId) -> PersonaResponse:
    persona = await service.get(lead_id)
    return PersonaResponse.model_validate(persona.public())


@router.patch(
    "/leads/{lead_id}/persona",
    summary="Partial update of a persona (null removes a feature); kept over recomputation",
    dependencies=[Depends(require_token)],
)
async def patch_persona(service: Personas, lead_id: LeadId, body: PersonaPatch) -> PersonaResponse:
    persona = await service.update(lead_id, body.features)
    return PersonaResponse.model_validate(persona.public())


@router.get("/personas/leads", summary="Lead ids of a persona, in pages")
async def find_leads(
    request: Request,
    service: Personas,
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
    features = dict(parse_assignment(item) for item in feature or [])
    query = service.query(
        academic_field=academic_field, company_type=company_type, features=features
    )
    ids, next_cursor = await service.find(query, after=after, limit=limit)
    return LeadIdsPage(lead_ids=ids, next=next_cursor)


@router.get("/personas/stats", summary="Counts by academic field x company type, coverage")
async def stats(service: Personas) -> dict[str, Any]:
    return await service.stats()
