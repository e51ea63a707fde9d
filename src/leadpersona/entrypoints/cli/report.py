"""``leadpersona report``: the dashboard as one self-contained HTML file and a Markdown summary."""

from __future__ import annotations

from pathlib import Path

import typer

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.config import Settings
from leadpersona.entrypoints.cli.common import JsonOption, console, emit_json, run_with_database
from leadpersona.entrypoints.report import ReportPaths, default_report_dir, write_report

__all__ = ["report"]


def report(
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Directory to write into (default: $LEADPERSONA_DATA_DIR/reports).",
        file_okay=False,
    ),
    as_json: bool = JsonOption,
) -> None:
    """Write the dashboard as one self-contained HTML file and a Markdown summary."""

    async def work(settings: Settings, database: MongoDatabase) -> ReportPaths:
        return await write_report(settings, database, out or default_report_dir(settings))

    paths = run_with_database(work)
    if as_json:
        emit_json(paths)
    else:
        console.print(f"markdown: {paths.markdown}", markup=False, highlight=False)
        typer.echo(str(paths.html))
