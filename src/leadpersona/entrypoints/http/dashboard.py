"""Dashboard routes: the page at ``/``, its data as JSON, and its bundled assets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import HTMLResponse, Response

from leadpersona.entrypoints.http.deps import app_state
from leadpersona.entrypoints.http.page import ASSETS, asset_bytes, render_page
from leadpersona.services.dashboard import DashboardData, collect_dashboard

__all__ = ["router"]

router = APIRouter(tags=["dashboard"])


async def _collect(request: Request) -> DashboardData:
    state = app_state(request)
    return await collect_dashboard(
        state.repositories,
        state.field_maps,
        database=state.database.name,
        warehouse=state.warehouse,
    )


@router.get(
    "/",
    summary="The persona dashboard (HTML)",
    response_class=HTMLResponse,
)
async def dashboard_page(request: Request) -> HTMLResponse:
    data = await _collect(request)
    token_required = app_state(request).settings.api_token is not None
    html = render_page(data, live=True, token_required=token_required)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get(
    "/dashboard/data",
    summary="Everything the dashboard shows: stats, last runs, quarantine, mapping cleaning",
    response_model=DashboardData,
)
async def dashboard_data(request: Request) -> DashboardData:
    return await _collect(request)


@router.get(
    "/dashboard/assets/{name}",
    summary="A script or style sheet of the dashboard (bundled, no CDN)",
    response_class=Response,
    include_in_schema=False,
)
async def dashboard_asset(name: Annotated[str, Path(max_length=64)]) -> Response:
    if name not in ASSETS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no asset {name!r}")
    _, media_type = ASSETS[name]
    return Response(
        asset_bytes(name),
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=3600"},
    )
