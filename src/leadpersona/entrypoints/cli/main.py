"""The ``leadpersona`` command: one entry point, one sub-command per use case."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

import typer
from rich.table import Table

from leadpersona import __version__
from leadpersona.bootstrap import MongoDatabase, mongo_repositories
from leadpersona.config import Settings
from leadpersona.entrypoints.cli import (
    archive,
    demo,
    enrich,
    leads,
    mapping,
    mock_api,
    persona,
    report,
    run,
    sales,
    serve,
    warehouse,
)
from leadpersona.entrypoints.cli.common import (
    JsonOption,
    console,
    emit_json,
    run_with_database,
)
from leadpersona.logs import configure_logging
from leadpersona.services.setup import InitReport, initialise

__all__ = ["app", "main"]

app = typer.Typer(
    name="leadpersona",
    help="Persona segmentation for B2B leads: enrich, segment, query, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"leadpersona {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Persona segmentation for B2B leads: enrich, segment, query, serve."""
    del version  # handled eagerly by its callback
    configure_logging(os.environ.get("LEADPERSONA_LOG_FORMAT"))


def print_init_report(report: InitReport) -> None:
    """Human view of ``init``."""
    table = Table(title=f"database {report.database}")
    table.add_column("collection")
    table.add_column("documents", justify="right")
    table.add_column("indexes")
    for info in report.collections:
        table.add_row(info.name, str(info.documents), ", ".join(info.indexes))
    console.print(table)
    console.print(f"mapping CSV: {report.mapping_csv}", highlight=False, markup=False)
    shared = report.shared_emails
    if shared.emails:
        examples = "; ".join(
            f"{example['email']} ({len(example['lead_ids'])} leads)" for example in shared.examples
        )
        console.print(
            f"{shared.leads} leads share {shared.emails} emails (any letter case); each keeps its"
            f" own persona and they share one API call. e.g. {examples}",
            highlight=False,
            markup=False,
        )


@app.command()
def init(as_json: bool = JsonOption) -> None:
    """Create collections and indexes, and the mapping CSV's working copy (idempotent)."""

    async def work(settings: Settings, database: MongoDatabase) -> InitReport:
        return await initialise(settings, mongo_repositories(database), database=database.name)

    report = run_with_database(work)
    if as_json:
        emit_json(report)
    else:
        print_init_report(report)


# Each command group lives in its own module and knows nothing of this one: the groups are
# registered here, so importing any module first cannot go round in a circle.
app.add_typer(archive.archive_app, name="archive")
app.command()(demo.demo)
app.command()(enrich.enrich)
app.add_typer(leads.leads_app, name="leads")
app.add_typer(mapping.mapping_app, name="mapping")
app.command("mock-api")(mock_api.mock_api)
app.add_typer(persona.persona_app, name="persona")
app.command()(report.report)
app.command()(run.run)
app.command()(run.runs)
app.add_typer(sales.sales_app, name="sales")
app.command()(serve.serve)
app.add_typer(warehouse.warehouse_app, name="warehouse")


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    # Treat SIGTERM exactly like Ctrl-C: inside ``asyncio.run`` the runner's SIGINT handler
    # cancels the main task so that clients close cleanly; outside it, KeyboardInterrupt
    # unwinds the context managers that stop the embedded server.
    signal.raise_signal(signal.SIGINT)


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _terminate)
    app(prog_name="leadpersona")
    sys.exit(0)
