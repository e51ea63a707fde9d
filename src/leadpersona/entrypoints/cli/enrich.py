"""``leadpersona enrich``: leads without a persona → API → archive → persona."""

from __future__ import annotations

import typer

from leadpersona.bootstrap import MongoDatabase, mongo_repositories, run_enrichment
from leadpersona.config import Settings
from leadpersona.entrypoints.cli.common import (
    EXIT_ERROR,
    JsonOption,
    emit_json,
    run_with_database,
)
from leadpersona.entrypoints.cli.views import print_summary, progress_reporter
from leadpersona.services.alerts import Alert, Alerts, credits_alert
from leadpersona.services.enrichment import RunSummary

__all__ = ["enrich"]


def enrich(
    limit: int | None = typer.Option(None, min=1, help="Process at most N leads."),
    refresh: bool = typer.Option(False, help="Recompute every persona, not only missing ones."),
    batch_size: int = typer.Option(500, min=1, max=10_000, help="Leads per page."),
    as_json: bool = JsonOption,
) -> None:
    """Enrich leads without a persona (all with --refresh): API, raw archive, persona."""

    async def work(settings: Settings, database: MongoDatabase) -> RunSummary:
        with progress_reporter(not as_json) as on_progress:
            summary = await run_enrichment(
                settings,
                database,
                limit=limit,
                refresh=refresh,
                batch_size=batch_size,
                on_progress=on_progress,
            )
        alerts = Alerts(settings.alert_webhook, runs=mongo_repositories(database).runs)
        if summary.status == "failed":
            await alerts.raise_alert(
                Alert(
                    kind="step_failed",
                    message=f"enrich failed: {summary.error}",
                    run_id=summary.run_id,
                )
            )
        credits = credits_alert(summary.credits_left, settings.credits_floor, summary.run_id)
        if credits is not None:
            await alerts.raise_alert(credits)
        return summary

    summary = run_with_database(work)
    if as_json:
        emit_json(summary.model_dump(mode="json"))
    else:
        print_summary(summary)
    if summary.status == "failed":
        raise typer.Exit(EXIT_ERROR)
