"""``leadpersona leads ...``: import a CSV, list the quarantine, seed synthetic leads, list."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from leadpersona.bootstrap import MongoDatabase, mongo_repositories
from leadpersona.config import Settings
from leadpersona.entrypoints.cli.common import (
    JsonOption,
    console,
    emit_json,
    err_console,
    progress_bar,
    run_with_database,
)
from leadpersona.services.lead_import import ImportReport, import_lead_file
from leadpersona.services.lead_queries import (
    LeadListing,
    QuarantineListing,
    list_leads,
    list_quarantine,
)
from leadpersona.services.seed import SeedReport, seed_leads

__all__ = ["leads_app"]

leads_app = typer.Typer(
    help="Leads: import a CSV with validation, inspect the quarantine, seed synthetic leads.",
    no_args_is_help=True,
)


def _print_import(report: ImportReport) -> None:
    if report.already_imported:
        when = f" on {report.imported_at:%Y-%m-%d %H:%M} UTC" if report.imported_at else ""
        console.print(
            f"{report.file} (sha256 {report.sha256[:12]}) was already imported{when}:"
            " nothing inserted."
        )
        return
    title = f"{'dry run: ' if report.dry_run else ''}{report.file}"
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("rows", justify="right")
    rows = [
        ("read", report.read),
        ("would insert" if report.dry_run else "inserted", report.inserted),
        ("duplicates in file", report.duplicates_in_file),
        ("duplicates of existing leads", report.duplicates_existing),
        ("quarantined", report.quarantined),
        ("blank rows skipped", report.blank_rows),
    ]
    for label, value in rows:
        table.add_row(label, str(value))
    console.print(table)
    if report.by_reason:
        reasons = Table(title="quarantined by reason")
        reasons.add_column("reason")
        reasons.add_column("rows", justify="right")
        for code, count in report.by_reason.items():
            reasons.add_row(code, str(count))
        console.print(reasons)
    notes = [f"delimiter {report.delimiter!r}"]
    if report.extra_columns:
        notes.append("extra columns kept with each lead: " + ", ".join(report.extra_columns))
    if report.resumed_from_row:
        notes.append(f"resumed after row {report.resumed_from_row}")
    console.print("; ".join(notes))
    if report.quarantined and not report.dry_run:
        console.print("see them with: leadpersona leads quarantine")


@leads_app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="CSV file (UTF-8; ',', ';' or tab separated)."),
    as_json: bool = JsonOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and count; write nothing."),
    batch_size: int = typer.Option(
        1000, "--batch-size", min=1, max=100_000, help="Rows written per batch."
    ),
) -> None:
    """Import leads from a CSV: valid rows inserted once, the others quarantined with reasons."""

    async def work(_settings: Settings, database: MongoDatabase) -> ImportReport:
        repositories = mongo_repositories(database)
        if as_json or not err_console.is_terminal:
            return await import_lead_file(
                repositories, file, dry_run=dry_run, batch_size=batch_size
            )
        with progress_bar("importing") as advance:
            return await import_lead_file(
                repositories, file, dry_run=dry_run, batch_size=batch_size, on_progress=advance
            )

    report = run_with_database(work)
    if as_json:
        emit_json(report)
    else:
        _print_import(report)


@leads_app.command("quarantine")
def quarantine_command(
    as_json: bool = JsonOption,
    limit: int = typer.Option(20, "--limit", min=0, max=10_000, help="Rows to show."),
    import_id: str | None = typer.Option(
        None, "--import", help="Only rows of this import (the file's sha256)."
    ),
) -> None:
    """List rows rejected by imports, newest first, with every reason."""

    async def work(_settings: Settings, database: MongoDatabase) -> QuarantineListing:
        quarantine = mongo_repositories(database).quarantine
        return await list_quarantine(quarantine, limit=limit, import_id=import_id)

    listing = run_with_database(work)
    if as_json:
        emit_json(listing)
        return
    table = Table(title=f"quarantine: {listing.count} rows")
    table.add_column("file")
    table.add_column("row", justify="right")
    table.add_column("line", justify="right")
    table.add_column("reasons")
    table.add_column("raw")
    for entry in listing.entries:
        reasons = "\n".join(f"{r.code}: {r.message}" for r in entry.reasons)
        raw = ", ".join(f"{k}={v!r}" for k, v in entry.raw.items() if v)
        table.add_row(
            entry.file,
            str(entry.row),
            str(entry.line),
            reasons,
            raw[:120] + ("…" if len(raw) > 120 else ""),
        )
    console.print(table)
    if listing.by_reason:
        console.print(
            "by reason: " + ", ".join(f"{code} {n}" for code, n in listing.by_reason.items())
        )


@leads_app.command("seed")
def seed_command(
    count: int = typer.Option(..., "--count", min=1, max=10_000_000, help="Leads wanted."),
    seed: int = typer.Option(0, "--seed", help="Another seed gives other leads."),
    as_json: bool = JsonOption,
) -> None:
    """Add synthetic leads the mock API knows (idempotent; the demo lead is always one)."""

    async def work(_settings: Settings, database: MongoDatabase) -> SeedReport:
        return await seed_leads(mongo_repositories(database).leads, count, seed=seed)

    report = run_with_database(work)
    if as_json:
        emit_json(report)
    else:
        console.print(
            f"{report.inserted} leads added, {report.existing} already there"
            f" ({report.requested} requested, seed {report.seed}; demo lead {report.demo_email})"
        )


@leads_app.command("list")
def list_command(
    as_json: bool = JsonOption,
    limit: int = typer.Option(10, "--limit", min=0, max=10_000, help="Leads to show."),
) -> None:
    """How many leads there are, and the first few."""

    async def work(_settings: Settings, database: MongoDatabase) -> LeadListing:
        return await list_leads(mongo_repositories(database).leads, limit=limit)

    listing = run_with_database(work)
    if as_json:
        emit_json(listing)
        return
    table = Table(title=f"{listing.count} leads")
    for column in ("id", "status", "first name", "last name", "email", "photo"):
        table.add_column(column)
    for lead in listing.leads:
        table.add_row(
            lead.id,
            str(lead.status),
            lead.first_name or "",
            lead.last_name or "",
            lead.email or "",
            "yes" if lead.photo_url else "",
        )
    console.print(table)
