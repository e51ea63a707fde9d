"""``leadpersona sales``: load sales into the star schema; quality, quarantine, revenue."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import typer
from rich.table import Table

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.mongo.runs import MongoRunRepository
from leadpersona.adapters.warehouse.engine import upgrade, warehouse_errors
from leadpersona.adapters.warehouse.sales_queries import (
    load_quality,
    quarantined_sales,
    revenue_by_persona,
)
from leadpersona.bootstrap import sales_sources, warehouse_engine
from leadpersona.config import Settings
from leadpersona.entrypoints.cli.common import (
    EXIT_USAGE,
    JsonOption,
    console,
    emit_json,
    error_boundary,
    fail,
    run_with_database,
    settings_or_exit,
)
from leadpersona.sales.records import SOURCE_NAMES
from leadpersona.services.sales_load import SalesLoadReport, load_sales

__all__ = ["sales_app"]

sales_app = typer.Typer(
    help="Sales: load the sources into the star schema; quality, quarantine, revenue.",
    no_args_is_help=True,
)


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be a date like 2026-01-31, not {value!r}", EXIT_USAGE)


@sales_app.command("load")
def load_command(
    start_date: str | None = typer.Option(
        None, "--start-date", help="First day to read from the sales API (YYYY-MM-DD)."
    ),
    end_date: str | None = typer.Option(
        None, "--end-date", help="Last day to read from the sales API (default: today)."
    ),
    source: list[str] | None = typer.Option(
        None,
        "--source",
        help=f"A source to load ({', '.join(SOURCE_NAMES)}); repeat for several. "
        "Default: api and files, and db when LEADPERSONA_SALES_SOURCE_URL is set.",
    ),
    parent_run: str | None = typer.Option(
        None, "--parent-run", help="Record this load as a step of that run id."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Sales sources → cleaning → star schema; counts and quality per source."""
    settings = settings_or_exit()
    start, end = _day(start_date, "--start-date"), _day(end_date, "--end-date")
    for name in source or []:
        if name not in SOURCE_NAMES:
            fail(f"unknown sales source {name!r}: use one of {', '.join(SOURCE_NAMES)}", EXIT_USAGE)

    async def work(settings: Settings, database: MongoDatabase) -> SalesLoadReport:
        with warehouse_engine(settings) as engine:
            return await load_sales(
                settings,
                runs=MongoRunRepository(database),
                sources=sales_sources(settings, source or None),
                start_date=start,
                end_date=end,
                engine=engine,
                parent_run_id=parent_run,
            )

    report = run_with_database(work, settings=settings)
    if as_json:
        emit_json(report)
        return
    span = f", API {report.start_date} → {report.end_date}" if report.start_date else ""
    table = Table(title=f"sales load ({report.seconds:.1f} s{span})")
    columns = ("source", "read", "loaded", "quarantined", "duplicates", "validity", "status")
    for name in columns:
        table.add_column(name, justify="left" if name in ("source", "status") else "right")
    for item in report.sources.values():
        table.add_row(
            item.source,
            str(item.read),
            str(item.loaded),
            str(item.quarantined),
            str(item.duplicates),
            f"{item.validity:.1%}",
            item.status,
        )
    console.print(table)


def _with_warehouse(read: Callable[[Any], Any]) -> Any:
    settings = settings_or_exit()
    with error_boundary(), warehouse_engine(settings) as engine:
        upgrade(engine)
        with warehouse_errors(str(engine.url)), engine.connect() as connection:
            return read(connection)
    raise AssertionError("unreachable")  # pragma: no cover


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, float):
        return f"{value:.1%}"
    return str(value)


@sales_app.command("quality")
def quality_command(
    last: int = typer.Option(10, "--last", min=1, max=1000, help="How many loads to show."),
    as_json: bool = JsonOption,
) -> None:
    """Quality per load and source: completeness, validity, uniqueness, freshness."""
    rows = _with_warehouse(lambda connection: load_quality(connection, limit=last))
    if as_json:
        emit_json({"loads": rows})
        return
    table = Table(title=f"sales quality, last {last} loads")
    names = (
        "started_at",
        "source",
        "status",
        "read",
        "loaded",
        "quarantined",
        "duplicates",
        "completeness",
        "validity",
        "uniqueness",
        "freshness_hours",
    )
    for name in names:
        table.add_column(name.replace("_", " "))
    for row in rows:
        cells = [_text(row[name]) for name in names]
        cells[-1] = "—" if row["freshness_hours"] is None else f"{row['freshness_hours']:.0f} h"
        table.add_row(*cells)
    console.print(table)


@sales_app.command("quarantine")
def quarantine_command(
    limit: int = typer.Option(50, "--limit", min=1, max=100_000, help="How many records."),
    source: str | None = typer.Option(None, "--source", help="Only this source."),
    load: str | None = typer.Option(None, "--load", help="Only this load (run id)."),
    as_json: bool = JsonOption,
) -> None:
    """The rejected sales records, newest first, with where they were read and every reason."""
    rows = _with_warehouse(
        lambda connection: quarantined_sales(connection, limit=limit, source=source, load_id=load)
    )
    if as_json:
        emit_json({"records": rows, "count": len(rows)})
        return
    table = Table(title=f"sales quarantine ({len(rows)} shown)")
    for name in ("source", "location", "row", "reasons", "raw"):
        table.add_column(name, overflow="fold")
    for row in rows:
        reasons = "; ".join(reason["message"] for reason in row["reasons"])
        table.add_row(
            row["source"],
            row["location"],
            str(row["row"]),
            reasons,
            json.dumps(row["raw"], ensure_ascii=False)[:200],
        )
    console.print(table)


@sales_app.command("report")
def report_command(
    by: str = typer.Option(
        "academic_field,company_type",
        "--by",
        help="Group by these, comma-separated: academic_field, company_type, category.",
    ),
    month: str | None = typer.Option(None, "--month", help="Only this month (YYYY-MM)."),
    as_json: bool = JsonOption,
) -> None:
    """Revenue, orders and customers by persona and month (completed lines only)."""
    groups = [name.strip() for name in by.split(",") if name.strip()]
    rows = _with_warehouse(lambda connection: revenue_by_persona(connection, groups, month=month))
    if as_json:
        emit_json({"by": groups, "month": month, "rows": rows})
        return
    table = Table(title="revenue by persona" + (f", {month}" if month else ""))
    names = (*groups, "month", "currency", "revenue", "orders", "customers")
    for name in names:
        number = name in ("revenue", "orders", "customers")
        table.add_column(name.replace("_", " "), justify="right" if number else "left")
    for row in rows:
        table.add_row(*(_text(row[name]) for name in names))
    console.print(table)
