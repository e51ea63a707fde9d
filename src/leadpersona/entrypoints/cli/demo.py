"""``leadpersona demo``: the main job on embedded defaults."""

from __future__ import annotations

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.config import Settings
from leadpersona.entrypoints.cli.common import JsonOption, console, emit_json, run_with_database
from leadpersona.entrypoints.cli.main import app, print_init_report
from leadpersona.services.setup import InitReport, initialise


async def _demo(settings: Settings, database: MongoDatabase) -> InitReport:
    return await initialise(settings, database)


@app.command()
def demo(as_json: bool = JsonOption) -> None:
    """Run the main job on embedded defaults and print where the report is."""
    report = run_with_database(_demo)
    if as_json:
        emit_json({"init": report.model_dump(mode="json")})
        return
    console.rule("leadpersona demo")
    print_init_report(report)
