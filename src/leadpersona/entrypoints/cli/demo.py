"""``leadpersona demo``: the main job on embedded defaults."""

from __future__ import annotations

import typer
from rich.table import Table

from leadpersona.bootstrap import (
    MongoDatabase,
    field_map_store,
    sales_sources,
    warehouse_engine,
    wired,
)
from leadpersona.config import Settings
from leadpersona.entrypoints.cli.common import JsonOption, console, emit_json, run_with_database
from leadpersona.entrypoints.cli.views import (
    print_mapping_report,
    print_persona,
    print_runs,
    print_stats,
    print_summary,
    progress_reporter,
)
from leadpersona.entrypoints.report import ReportPaths, default_report_dir, write_report
from leadpersona.services.demo import DEMO_LEADS, DemoResult, run_demo, with_demo_shop

#: Revenue rows the demo prints (the summary page has them all).
TOP_REVENUE = 12


def demo(
    leads: int = typer.Option(DEMO_LEADS, min=1, max=100_000, help="Synthetic leads to seed."),
    as_json: bool = JsonOption,
) -> None:
    """Run the main job on embedded defaults (init, seed, enrich, report); print where the
    report is."""

    async def work(settings: Settings, database: MongoDatabase) -> tuple[DemoResult, ReportPaths]:
        settings = with_demo_shop(settings)
        sources = sales_sources(settings, ["api", "files", "db"])
        field_maps = field_map_store(settings)
        with progress_reporter(not as_json) as on_progress:
            async with wired(settings, database, field_maps=field_maps) as adapters:
                with warehouse_engine(settings) as engine:
                    result = await run_demo(
                        settings,
                        database.name,
                        adapters,
                        engine=engine,
                        sales_sources=sources,
                        leads=leads,
                        on_progress=on_progress,
                    )
        paths = await write_report(
            settings, database, default_report_dir(settings), field_maps=field_maps
        )
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
    console.rule("sales")
    sold = result.sales
    loads = Table(
        title=f"sales load ({sold.seconds:.1f} s, API {sold.start_date} → {sold.end_date})"
    )
    for name in ("source", "read", "loaded", "quarantined", "duplicates"):
        loads.add_column(name, justify="left" if name == "source" else "right")
    for item in sold.sources.values():
        loads.add_row(
            item.source,
            str(item.read),
            str(item.loaded),
            str(item.quarantined),
            str(item.duplicates),
        )
    console.print(loads)
    shown = result.revenue[:TOP_REVENUE]
    more = len(result.revenue) - len(shown)
    revenue = Table(
        title="revenue by persona (completed sales)"
        + (f", top {len(shown)} of {len(result.revenue)}" if more > 0 else "")
    )
    for name in ("academic field", "company type", "currency", "revenue", "orders", "customers"):
        revenue.add_column(
            name, justify="right" if name in ("revenue", "orders", "customers") else "left"
        )
    for sold_by in shown:
        revenue.add_row(
            sold_by["academic_field"] or "—",
            sold_by["company_type"] or "—",
            sold_by["currency"],
            sold_by["revenue"],
            str(sold_by["orders"]),
            str(sold_by["customers"]),
        )
    console.print(revenue)
    console.rule("daily run")
    console.print(
        f"leadpersona run: {result.daily.status}; "
        + "; ".join(f"{step.kind} {step.status}" for step in result.daily.steps),
        markup=False,
        highlight=False,
    )
    print_runs(result.ledger)
    console.rule("example personas")
    for example in result.examples:
        print_persona(example)
    console.rule()
    console.print(f"summary: {result.summary_path.resolve()}", markup=False, highlight=False)
    console.print(f"report (open in a browser): {paths.html}", markup=False, highlight=False)
    console.print("dashboard: `leadpersona serve`, then http://127.0.0.1:8000/", markup=False)
