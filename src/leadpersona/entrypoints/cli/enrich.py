"""``leadpersona enrich``: leads without a persona → API → archive → persona."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.config import Settings
from leadpersona.entrypoints.cli.common import (
    JsonOption,
    console,
    emit_json,
    err_console,
    progress_bar,
    run_with_database,
)
from leadpersona.entrypoints.cli.main import app
from leadpersona.services.enrichment import ProgressCallback, RunSummary, run_enrichment

__all__ = ["enrich", "print_summary"]


@contextmanager
def progress_reporter(enabled: bool) -> Iterator[ProgressCallback]:
    """A Rich progress bar on a terminal, plain log lines on stderr otherwise."""
    done = 0
    if enabled and err_console.is_terminal:
        with progress_bar("enriching") as update:

            def advance(n: int, total: int | None) -> None:
                nonlocal done
                done += n
                update(done, total)

            yield advance
        return

    def log(n: int, total: int | None) -> None:
        nonlocal done
        done += n
        if enabled:
            err_console.print(f"enriched {done}" + (f" of {total}" if total else "") + " leads")

    yield log


def print_summary(summary: RunSummary) -> None:
    """Human view of a run."""
    console.print(
        f"run {summary.run_id}: {summary.processed} leads processed in {summary.duration_s:.1f} s"
        f" — {summary.enriched} enriched, {summary.no_data} without data, {summary.failed} failed,"
        f" {summary.skipped} skipped (no email)"
    )
    console.print(
        f"API calls {summary.api_calls}, answers reused from the archive {summary.cache_hits},"
        f" new fields of study added to the mapping {summary.new_fields_of_study}"
        + (f", credits left {summary.credits_left}" if summary.credits_left is not None else "")
    )
    if summary.failed:
        console.print("failed leads are retried by the next `leadpersona enrich`")


@app.command()
def enrich(
    limit: int | None = typer.Option(None, min=1, help="Process at most N leads."),
    refresh: bool = typer.Option(False, help="Recompute every persona, not only missing ones."),
    batch_size: int = typer.Option(500, min=1, max=10_000, help="Leads per page."),
    as_json: bool = JsonOption,
) -> None:
    """Enrich leads without a persona (all with --refresh): API, raw archive, persona."""

    async def work(settings: Settings, database: MongoDatabase) -> RunSummary:
        with progress_reporter(not as_json) as on_progress:
            return await run_enrichment(
                settings,
                database,
                limit=limit,
                refresh=refresh,
                batch_size=batch_size,
                on_progress=on_progress,
            )

    summary = run_with_database(work)
    if as_json:
        emit_json(summary.model_dump(mode="json"))
    else:
        print_summary(summary)
