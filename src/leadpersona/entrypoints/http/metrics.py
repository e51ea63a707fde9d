"""``GET /metrics``: the run ledger in Prometheus text format (official client library).

Read from the ledger at each scrape, so every process that runs jobs (the CLI, cron, the
daily run) is counted, not only this server: runs by kind and status, alerts by kind, and for
the last run of each kind its status, start time, duration and every count it recorded
(rows per step, API calls, 429 answers, ...).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from leadpersona.adapters.repositories import RunRepository
from leadpersona.domain.runs import RunKind, RunRecord
from leadpersona.entrypoints.http.deps import AppState, app_state

__all__ = ["KINDS", "render_metrics", "router"]

router = APIRouter(tags=["monitoring"])

KINDS: tuple[RunKind, ...] = ("enrich", "import", "warehouse_sync", "sales_load", "daily")


def _numbers(counts: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric counts of a run, nested ones flattened as ``outer_inner``."""
    found: dict[str, float] = {}
    for key, value in counts.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            found[name] = float(value)
        elif isinstance(value, dict):
            found.update(_numbers(value, f"{name}_"))
    return found


async def render_metrics(runs: RunRepository) -> bytes:
    """The metrics page for the ledger in ``runs``."""
    registry = CollectorRegistry(auto_describe=True)
    total = Gauge(
        "leadpersona_runs",
        "Runs in the ledger, by kind and status.",
        ["kind", "status"],
        registry=registry,
    )
    alerts = Gauge("leadpersona_alerts", "Alerts raised, by kind.", ["kind"], registry=registry)
    last_status = Gauge(
        "leadpersona_last_run_info",
        "The last run of each kind (1), labelled with its status.",
        ["kind", "status"],
        registry=registry,
    )
    last_start = Gauge(
        "leadpersona_last_run_start_timestamp_seconds",
        "When the last run of each kind started (Unix time).",
        ["kind"],
        registry=registry,
    )
    last_duration = Gauge(
        "leadpersona_last_run_duration_seconds",
        "How long the last finished run of each kind took.",
        ["kind"],
        registry=registry,
    )
    last_counts = Gauge(
        "leadpersona_last_run_count",
        "Every count the last run of each kind recorded (rows per step, API calls, 429s, ...).",
        ["kind", "name"],
        registry=registry,
    )
    tally = await runs.tally()
    for (kind, status), count in sorted(tally.runs.items()):
        total.labels(kind=kind, status=status).set(count)
    for kind, count in sorted(tally.alerts.items()):
        alerts.labels(kind=kind).set(count)
    for kind in KINDS:
        recent: list[RunRecord] = await runs.recent(1, kind=kind)
        if not recent:
            continue
        run = recent[0]
        last_status.labels(kind=kind, status=run.status).set(1)
        last_start.labels(kind=kind).set(run.started_at.timestamp())
        if run.duration_s is not None:
            last_duration.labels(kind=kind).set(run.duration_s)
        for name, value in sorted(_numbers(run.counts).items()):
            last_counts.labels(kind=kind, name=name).set(value)
    return generate_latest(registry)


@router.get(
    "/metrics",
    summary="Run ledger metrics in Prometheus text format",
    response_class=Response,
)
async def metrics(state: Annotated[AppState, Depends(app_state)]) -> Response:
    body = await render_metrics(state.repositories.runs)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
