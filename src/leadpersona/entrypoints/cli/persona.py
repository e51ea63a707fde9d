"""``leadpersona persona``: get, update, find, stats."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.table import Table

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.config import Settings
from leadpersona.domain.persona import CORE_FEATURES, Persona
from leadpersona.entrypoints.cli.common import JsonOption, console, emit_json, run_with_database
from leadpersona.entrypoints.cli.main import app
from leadpersona.services.personas import PersonaService, parse_assignment

__all__ = ["persona_app", "print_persona", "print_stats"]

persona_app = typer.Typer(
    help="Read, update, find and count personas.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(persona_app, name="persona")


def print_persona(persona: Persona) -> None:
    """Human view of one persona."""
    table = Table(title=f"persona of lead {persona.lead_id} ({persona.status})")
    table.add_column("feature")
    table.add_column("value")
    table.add_column("source")
    names = list(CORE_FEATURES) + sorted(set(persona.features) - set(CORE_FEATURES))
    for name in names:
        value = persona.features.get(name)
        origin = persona.provenance.get(name)
        source = ""
        if origin is not None:
            source = origin.source
            if origin.confidence is not None and origin.source == "inferred":
                source += f" ({origin.confidence:.2f})"
            if origin.field_of_study:
                source += f" from {origin.field_of_study!r}"
            if origin.employee_count is not None:
                source += f" from {origin.employee_count} employees"
        table.add_row(name, "-" if value is None else str(value), source)
    console.print(table)
    if persona.computed_at is not None:
        console.print(
            f"computed {persona.computed_at:%Y-%m-%d %H:%M} UTC, mapping {persona.mapping_version},"
            f" rules {persona.rules_version}, raw answer {persona.archive_id}"
        )


def print_stats(stats: dict[str, Any], *, rows: int = 20) -> None:
    """Human view of the stats document (the ``rows`` largest groups)."""
    coverage = stats["coverage"]
    console.print(
        f"{stats['personas']} personas for {stats['total_leads']} leads"
        + (f" (coverage {coverage:.1%})" if coverage is not None else "")
        + f"; {stats['enriched']} enriched, {stats['no_data']} without data"
    )
    academic, company = stats["academic_field"], stats["company_type"]
    if stats["enriched"]:
        console.print(
            f"academic field unknown for {academic['unknown_rate']:.1%}, "
            f"company type unknown for {company['unknown_rate']:.1%}; "
            f"inferred academic fields: {academic['inferred']}"
        )
    table = Table(title="personas by academic field x company type")
    table.add_column("academic field")
    table.add_column("company type")
    table.add_column("leads", justify="right")
    for row in stats["matrix"][:rows]:
        academic = row["academic_field"] or "(unknown)"
        table.add_row(academic, row["company_type"] or "(unknown)", str(row["count"]))
    hidden = stats["matrix"][rows:]
    if hidden:
        table.caption = (
            f"{len(hidden)} smaller groups ({sum(r['count'] for r in hidden)} leads) not shown;"
            " `persona stats --json` has them all"
        )
    console.print(table)


@persona_app.command("get")
def get(
    lead_id: str = typer.Argument(..., help="The lead's id."), as_json: bool = JsonOption
) -> None:
    """Print one lead's persona."""

    async def work(_: Settings, database: MongoDatabase) -> Persona:
        return await PersonaService(database).get(lead_id)

    persona = run_with_database(work)
    if as_json:
        emit_json(persona.public())
    else:
        print_persona(persona)


@persona_app.command("update")
def update(
    lead_id: str = typer.Argument(..., help="The lead's id."),
    assignments: list[str] = typer.Option(
        [], "--set", metavar="NAME=VALUE", help="Set a feature (repeatable)."
    ),
    unset: list[str] = typer.Option([], "--unset", metavar="NAME", help="Remove a feature."),
    as_json: bool = JsonOption,
) -> None:
    """Change features of one persona by hand; kept over later recomputation (--refresh)."""

    async def work(_: Settings, database: MongoDatabase) -> Persona:
        changes: dict[str, Any] = dict(parse_assignment(item) for item in assignments)
        changes.update(dict.fromkeys(unset))
        return await PersonaService(database).update(lead_id, changes)

    persona = run_with_database(work)
    if as_json:
        emit_json(persona.public())
    else:
        print_persona(persona)


@persona_app.command("find")
def find(
    academic_field: str | None = typer.Option(None, help="Academic field (any case)."),
    company_type: str | None = typer.Option(
        None, help="Startup, Mid Market or Multi National Company."
    ),
    feature: list[str] = typer.Option(
        [], "--feature", metavar="NAME=VALUE", help="Any feature (repeatable)."
    ),
    count_only: bool = typer.Option(False, "--count", help="Print only how many leads match."),
    as_json: bool = JsonOption,
) -> None:
    """Lead ids of a persona: every lead matching all the given features, streamed."""

    async def work(_: Settings, database: MongoDatabase) -> None:
        service = PersonaService(database)
        query = service.query(
            academic_field=academic_field,
            company_type=company_type,
            features=dict(parse_assignment(item) for item in feature),
        )
        if count_only:
            total = await service.count(query)
            if as_json:
                emit_json({"count": total})
            else:
                typer.echo(total)
            return
        # Streamed: millions of ids never sit in memory at once.
        out = sys.stdout
        total = 0
        if as_json:
            out.write('{"lead_ids": [')
        async for lead_id in service.stream(query):
            if as_json:
                out.write(("," if total else "") + json.dumps(lead_id))
            else:
                out.write(lead_id + "\n")
            total += 1
        if as_json:
            out.write(f'], "count": {total}}}\n')
        out.flush()

    run_with_database(work)


@persona_app.command("stats")
def stats(as_json: bool = JsonOption) -> None:
    """Counts by academic field x company type, coverage, unknown rates, inferred share."""

    async def work(_: Settings, database: MongoDatabase) -> dict[str, Any]:
        return await PersonaService(database).stats()

    document = run_with_database(work)
    if as_json:
        emit_json(document)
    else:
        print_stats(document)
