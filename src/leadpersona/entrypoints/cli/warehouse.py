"""``leadpersona warehouse``: the SQL warehouse's schema (Alembic) and its sync from MongoDB."""

from __future__ import annotations

import typer
from rich.table import Table

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.warehouse.engine import migrate_to, safe_url
from leadpersona.bootstrap import sync_warehouse, warehouse_engine
from leadpersona.config import Settings
from leadpersona.entrypoints.cli.common import (
    JsonOption,
    console,
    emit_json,
    error_boundary,
    progress_bar,
    run_with_database,
    settings_or_exit,
)
from leadpersona.services.warehouse_sync import DEFAULT_BATCH, SyncReport

__all__ = ["warehouse_app"]

warehouse_app = typer.Typer(
    help="The SQL warehouse (LEADPERSONA_WAREHOUSE_URL): migrate its schema, sync it.",
    no_args_is_help=True,
)


@warehouse_app.command("migrate")
def migrate_command(
    revision: str = typer.Option(
        "head", "--revision", help="Target revision: head (default), a revision id, or base."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Bring the warehouse schema to a revision (Alembic upgrade or downgrade); idempotent."""
    settings = settings_or_exit()
    url = settings.effective_warehouse_url
    with error_boundary(), warehouse_engine(settings) as engine:
        before, after = migrate_to(engine, revision)
    document = {"warehouse": safe_url(url), "from": before, "to": after}
    if as_json:
        emit_json(document)
        return
    console.print(
        f"warehouse {document['warehouse']}: {before or 'empty'} → {after or 'base'}",
        highlight=False,
        markup=False,
    )


@warehouse_app.command("sync")
def sync_command(
    full: bool = typer.Option(False, "--full", help="Re-read everything, not only what changed."),
    batch_size: int = typer.Option(
        DEFAULT_BATCH, "--batch-size", min=1, help="Personas per transaction."
    ),
    parent_run: str | None = typer.Option(
        None, "--parent-run", help="Record this sync as a step of that run id."
    ),
    as_json: bool = JsonOption,
) -> None:
    """MongoDB → SQL: what changed since the last sync (everything with --full)."""
    settings = settings_or_exit()

    async def work(settings: Settings, database: MongoDatabase) -> SyncReport:
        with progress_bar("warehouse sync") as progress, warehouse_engine(settings) as engine:
            return await sync_warehouse(
                settings,
                database,
                engine=engine,
                full=full,
                batch_size=batch_size,
                on_progress=progress,
                parent_run_id=parent_run,
            )

    report = run_with_database(work, settings=settings)
    if as_json:
        emit_json(report)
        return
    table = Table(
        title=f"warehouse sync ({'full' if full else 'incremental'}, {report.seconds:.1f} s)",
        caption=" · ".join(f"{name} {s:.1f} s" for name, s in report.stage_seconds.items()),
    )
    for name in ("table", "inserted", "updated", "deleted"):
        table.add_column(name, justify="left" if name == "table" else "right")
    for name in report.inserted:
        table.add_row(
            name,
            str(report.inserted[name]),
            str(report.updated[name]),
            str(report.deleted[name]),
        )
    console.print(table)
