"""``leadpersona run``: enrich → warehouse sync → sales load as one recorded ``daily`` run, a
step each.

Each step is recorded as its own run with the daily run as parent. The job stops at the first
failing step, records why on the daily run and raises a ``step_failed`` alert. Re-running it
after the cause is fixed finishes the job: enrich only takes leads still without a persona and
the warehouse sync only what changed since its watermark, and the sales load resumes each source
after its last committed checkpoint, so finished work is not redone.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Engine

from leadpersona.config import Settings
from leadpersona.domain.runs import RunStatus
from leadpersona.services.alerts import (
    Alert,
    Alerts,
    credits_alert,
    persona_quality_alerts,
)
from leadpersona.services.enrichment import enrich_leads
from leadpersona.services.personas import PersonaService
from leadpersona.services.runs import describe_error, recorded_run
from leadpersona.services.sales_load import load_sales
from leadpersona.services.warehouse_sync import sync_warehouse
from leadpersona.services.wiring import SalesSources, Wired

__all__ = ["DailyRunReport", "StepReport", "run_daily"]


class StepReport(BaseModel):
    """One step of the daily run as it ended."""

    kind: str
    run_id: str | None
    status: RunStatus
    counts: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class DailyRunReport(BaseModel):
    """What ``leadpersona run --json`` prints."""

    run_id: str
    status: RunStatus = "completed"
    error: str | None = None
    steps: list[StepReport] = Field(default_factory=list)
    alerts: list[Alert] = Field(default_factory=list)


async def run_daily(
    settings: Settings,
    adapters: Wired,
    *,
    engine: Engine,
    sales_sources: SalesSources,
    alerts: Alerts | None = None,
) -> DailyRunReport:
    """Run every step in order, stopping at the first that fails; see the module docstring.

    The runs are recorded in ``adapters.repositories.runs``; the sales load reads
    ``sales_sources`` (``bootstrap.sales_sources(settings)``)."""
    runs = adapters.repositories.runs
    alerts = alerts or Alerts(settings.alert_webhook)
    alerts.runs = runs
    async with recorded_run(runs, "daily") as daily:
        report = DailyRunReport(run_id=daily.id)

        async def stop(step: StepReport) -> DailyRunReport:
            report.steps.append(step)
            daily.counts.update({done.kind: done.counts for done in report.steps})
            message = f"step {step.kind} {step.status}: {step.error}"
            daily.fail(message)
            report.status, report.error = "failed", message
            await alerts.raise_alert(Alert(kind="step_failed", message=message, run_id=daily.id))
            report.alerts = list(alerts.raised)
            return report

        async def raised(kind: str, exc: Exception) -> DailyRunReport:
            recorded = [s for s in await runs.children(daily.id) if s.kind == kind]
            return await stop(
                StepReport(
                    kind=kind,
                    run_id=recorded[-1].id if recorded else None,
                    status=recorded[-1].status if recorded else "failed",
                    error=describe_error(exc),
                )
            )

        # Step 1: enrich.
        try:
            summary = await enrich_leads(settings, adapters, parent_run_id=daily.id)
        except Exception as exc:
            return await raised("enrich", exc)
        step = StepReport(
            kind="enrich",
            run_id=summary.run_id,
            status=summary.status,
            counts=summary.model_dump(include={"processed", "enriched", "no_data", "failed"}),
            error=summary.error,
        )
        credits = credits_alert(summary.credits_left, settings.credits_floor, daily.id)
        if credits is not None:
            await alerts.raise_alert(credits)
        if summary.status != "completed":
            return await stop(step)
        report.steps.append(step)
        for alert in persona_quality_alerts(
            await PersonaService(adapters.repositories).stats(),
            min_coverage=settings.persona_min_coverage,
            max_unknown_rate=settings.academic_unknown_max_rate,
            run_id=daily.id,
        ):
            await alerts.raise_alert(alert)

        # Step 2: warehouse sync.
        try:
            synced = await sync_warehouse(
                settings,
                source=adapters.repositories.sync_source,
                archive=adapters.archive,
                runs=runs,
                engine=engine,
                parent_run_id=daily.id,
            )
        except Exception as exc:
            return await raised("warehouse_sync", exc)
        report.steps.append(
            StepReport(
                kind="warehouse_sync",
                run_id=synced.run_id,
                status="completed",
                counts={
                    "inserted": sum(synced.inserted.values()),
                    "updated": sum(synced.updated.values()),
                    "deleted": sum(synced.deleted.values()),
                },
            )
        )

        # Step 3: sales load (quality and freshness alerts are raised by the load itself).
        try:
            sold = await load_sales(
                settings,
                runs=runs,
                sources=sales_sources,
                engine=engine,
                alerts=alerts,
                parent_run_id=daily.id,
            )
        except Exception as exc:
            return await raised("sales_load", exc)
        report.steps.append(
            StepReport(
                kind="sales_load",
                run_id=sold.run_id,
                status="completed",
                counts=sold.totals(),
            )
        )
        daily.counts.update({done.kind: done.counts for done in report.steps})
        report.alerts = list(alerts.raised)
        return report
