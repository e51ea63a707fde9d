"""``leadpersona archive``: the raw API answers kept for each lead."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.table import Table

from leadpersona.adapters.archive import ArchivedAnswer
from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.bootstrap import raw_archive
from leadpersona.config import Settings
from leadpersona.entrypoints.cli.common import JsonOption, console, emit_json, run_with_database

archive_app = typer.Typer(help="The raw API answers kept for each lead.", no_args_is_help=True)


def _document(answer: ArchivedAnswer, raw: bytes) -> dict[str, Any]:
    document: dict[str, Any] = {"archive": answer.model_dump(mode="json")}
    try:
        document["answer"] = json.loads(raw)
    except ValueError:
        document["answer"] = None
        document["raw_text"] = raw.decode("utf-8", errors="replace")
    return document


def _write_raw(raw: bytes) -> None:
    out = sys.stdout.buffer
    out.write(raw)
    if sys.stdout.isatty() and not raw.endswith(b"\n"):
        out.write(b"\n")
    out.flush()


@archive_app.command("get")
def get(
    lead_id: str = typer.Argument(..., help="The lead's id."),
    all_versions: bool = typer.Option(
        False, "--all", help="Every archived answer for the lead, newest first."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Print the raw API JSON kept for a lead, exactly as received (the newest by default)."""

    async def work(settings: Settings, database: MongoDatabase) -> None:
        archive = raw_archive(settings, database)
        if not all_versions:
            answer, raw = await archive.latest(lead_id=lead_id)
            if as_json:
                emit_json({"lead_id": lead_id, **_document(answer, raw)})
            else:
                _write_raw(raw)
            return
        history = await archive.history(lead_id=lead_id)
        if not history:
            # latest() raises the one clear "not found" error.
            await archive.latest(lead_id=lead_id)
        if as_json:
            versions = [_document(*await archive.get(a.archive_id)) for a in history]
            emit_json({"lead_id": lead_id, "versions": versions, "count": len(versions)})
            return
        table = Table(title=f"archived API answers for lead {lead_id}")
        table.add_column("archive id", no_wrap=True, min_width=24)
        table.add_column("fetched at (UTC)", no_wrap=True, min_width=19)
        table.add_column("HTTP", justify="right")
        table.add_column("bytes", justify="right")
        table.add_column("sha256", no_wrap=True)
        for answer in history:
            table.add_row(
                answer.archive_id,
                f"{answer.fetched_at:%Y-%m-%d %H:%M:%S}",
                str(answer.status_code),
                str(answer.size),
                answer.sha256[:12],
            )
        console.print(table)

    run_with_database(work)
