"""``leadpersona demo``: the main job on embedded defaults."""

from __future__ import annotations

import typer
from rich.table import Table

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.config import Settings
from leadpersona.entrypoints.cli.common import JsonOption, console, emit_json, run_with_database
from leadpersona.entrypoints.cli.main import app
from leadpersona.entrypoints.cli.views import (
    print_mapping_report,
    print_persona,
    print_stats,
    print_summary,
    progress_reporter,
)
from leadpersona.entrypoints.report import ReportPaths, default_report_dir, write_report
from leadpersona.services.demo import DEMO_LEADS, DemoResult, run_demo


@app.command()
def demo(
    leads: int = typer.Option(DEMO_LEADS, min=1, max=100_000, help="Synthetic leads to seed."),
    as_json: bool = JsonOption,
) -> None:
    """Run the main job on embedded defaults (init, seed, enrich, report); print where the
    report is."""

    async def work(settings: Settings, database: MongoDatabase) -> tuple[DemoResult, ReportPaths]:
        with progress_reporter(not as_json) as on_progress:
            result = await run_demo(settings, database, leads=leads, on_progress=on_progress)
        paths = await write_report(settings, database, default_report_dir(settings))
        return result, paths

    result, paths = run_with_database(work)
    if as_json:
        emit_json({**result.model_dump(mode="json"), "report": paths.model_dump(mode="json")})
        return
    console.rule("leadpersona demo")
    seeded = Table(show_header=False, box=None)
    seeded.add_row("database", result.init.database)
    seeded.add_row("leads added", f"{result.seed.inserted} (of {result.seed.requested} requested)")
    console.print(seeded)
    print_summary(result.run)
    console.rule("mapping CSV")
    print_mapping_report(result.mapping, full=False)
    console.rule("personas")
    print_stats(result.stats)
    console.rule("warehouse")
    synced = result.warehouse
    console.print(
        f"synced in {synced.seconds:.1f} s: "
        + ", ".join(f"{n} {t}" for t, n in synced.inserted.items() if n)
        + " rows inserted",
        markup=False,
        highlight=False,
    )
    for query in result.queries:
        console.print(query.sql, markup=False, highlight=False)
        answer = Table(title=query.title)
        for column in query.columns:
            answer.add_column(column)
        for row in query.rows:
            answer.add_row(*(str(value) for value in row))
        console.print(answer)
    console.rule("example personas")
    for example in result.examples:
        print_persona(example)
    console.rule()
    console.print(f"summary: {result.summary_path.resolve()}", markup=False, highlight=False)
    console.print(f"report (open in a browser): {paths.html}", markup=False, highlight=False)
    console.print("dashboard: `leadpersona serve`, then http://127.0.0.1:8000/", markup=False)
