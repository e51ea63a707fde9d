"""Leads: the raw enrichment answer kept for a lead, and the service's health."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from leadpersona.entrypoints.http.deps import Archive, Database, LeadId

__all__ = ["router"]

router = APIRouter(tags=["leads"])


@router.get("/health", summary="Liveness and database reachability")
async def health(database: Database) -> dict[str, str]:
    await database.command("ping")
    return {"status": "ok"}


@router.get(
    "/leads/{lead_id}/raw",
    summary="The enrichment API's answer for this lead, exactly as received",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def raw_answer(archive: Archive, lead_id: LeadId) -> Response:
    _, raw = await archive.latest(lead_id=lead_id)
    return Response(content=raw, media_type="application/json")
