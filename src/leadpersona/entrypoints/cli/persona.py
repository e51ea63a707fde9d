"""``leadpersona persona``: get, update, find, stats."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from leadpersona.bootstrap import MongoDatabase, mongo_repositories
from leadpersona.config import Settings
from leadpersona.domain.persona import Persona
from leadpersona.entrypoints.cli.common import JsonOption, emit_json, run_with_database
from leadpersona.entrypoints.cli.views import print_persona, print_stats
from leadpersona.services.personas import PersonaService, parse_assignment

__all__ = ["persona_app"]

persona_app = typer.Typer(
    help="Read, update, find and count personas.", no_args_is_help=True, rich_markup_mode=None
)


@persona_app.command("get")
def get(
    lead_id: str = typer.Argument(..., help="The lead's id."), as_json: bool = JsonOption
) -> None:
    """Print one lead's persona."""

    async def work(_: Settings, database: MongoDatabase) -> Persona:
        return await PersonaService(mongo_repositories(database)).get(lead_id)

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
        return await PersonaService(mongo_repositories(database)).update(lead_id, changes)

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
        service = PersonaService(mongo_repositories(database))
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
        return await PersonaService(mongo_repositories(database)).stats()

    document = run_with_database(work)
    if as_json:
        emit_json(document)
    else:
        print_stats(document)
