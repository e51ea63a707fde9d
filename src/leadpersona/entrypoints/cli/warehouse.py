"""``leadpersona warehouse``: the SQL warehouse's schema (Alembic) and its sync from MongoDB."""

from __future__ import annotations

import typer

from leadpersona.adapters.warehouse.engine import make_engine, migrate_to, safe_url
from leadpersona.entrypoints.cli.common import (
    JsonOption,
    console,
    emit_json,
    error_boundary,
    settings_or_exit,
)
from leadpersona.entrypoints.cli.main import app

__all__ = ["warehouse_app"]

warehouse_app = typer.Typer(
    help="The SQL warehouse (LEADPERSONA_WAREHOUSE_URL): migrate its schema.",
    no_args_is_help=True,
)
app.add_typer(warehouse_app, name="warehouse")


@warehouse_app.command("migrate")
def migrate_command(
    revision: str = typer.Option(
        "head", "--revision", help="Target revision: head (default), a revision id, or base."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Bring the warehouse schema to a revision (Alembic upgrade or downgrade); idempotent."""
    settings = settings_or_exit()
    url = settings.effective_warehouse_url
    with error_boundary():
        engine = make_engine(url)
        try:
            before, after = migrate_to(engine, revision)
        finally:
            engine.dispose()
    document = {"warehouse": safe_url(url), "from": before, "to": after}
    if as_json:
        emit_json(document)
        return
    console.print(
        f"warehouse {document['warehouse']}: {before or 'empty'} → {after or 'base'}",
        highlight=False,
        markup=False,
    )
