"""``leadpersona run`` (the daily job, SPEC section 8) and ``leadpersona runs`` (the ledger)."""

from __future__ import annotations

import typer
from rich.table import Table

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.mongo.runs import MongoRunRepository
from leadpersona.adapters.run_lock import run_lock
from leadpersona.bootstrap import sales_sources, warehouse_engine, wired
from leadpersona.config import Settings
from leadpersona.domain.runs import RunRecord
from leadpersona.entrypoints.cli.common import (
    EXIT_ERROR,
    JsonOption,
    console,
    emit_json,
    error_boundary,
    run_with_database,
    settings_or_exit,
)
from leadpersona.entrypoints.cli.views import print_runs
from leadpersona.services.daily_run import DailyRunReport, run_daily

__all__ = ["run", "runs"]

#: The lock file that keeps two daily runs from working at once (in the data dir).
LOCK_FILE = "run.lock"


def run(as_json: bool = JsonOption) -> None:
    """The daily job: enrich, warehouse sync, sales load, recorded as one run with a step each."""
    settings = settings_or_exit()

    async def work(settings: Settings, database: MongoDatabase) -> DailyRunReport:
        async with wired(settings, database) as adapters:
            with warehouse_engine(settings) as engine:
                return await run_daily(
                    settings, adapters, engine=engine, sales_sources=sales_sources(settings)
                )

    with error_boundary(), run_lock(settings.data_dir / LOCK_FILE):
        report = run_with_database(work, settings=settings)
    if as_json:
        emit_json(report)
    else:
        table = Table(title=f"run {report.run_id}: {report.status}")
        for name in ("step", "status", "counts", "error"):
            table.add_column(name)
        for step in report.steps:
            counts = ", ".join(f"{key} {value}" for key, value in step.counts.items())
            table.add_row(step.kind, step.status, counts, step.error or "")
        console.print(table)
    if report.status != "completed":
        raise typer.Exit(EXIT_ERROR)


def _row(record: RunRecord) -> dict[str, object]:
    return record.model_dump(mode="json") | {"duration_s": record.duration_s}


def runs(
    last: int = typer.Option(20, "--last", min=1, max=10_000, help="How many runs to show."),
    as_json: bool = JsonOption,
) -> None:
    """The run ledger, newest first: every kind of run in one shape."""

    async def work(_settings: Settings, database: MongoDatabase) -> list[RunRecord]:
        return await MongoRunRepository(database).recent(last)

    records = run_with_database(work)
    if as_json:
        emit_json([_row(record) for record in records])
        return
    print_runs(records)
