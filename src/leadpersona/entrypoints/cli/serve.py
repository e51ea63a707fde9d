"""``leadpersona serve``: the persona HTTP API."""

from __future__ import annotations

import typer
import uvicorn

from leadpersona.entrypoints.cli.common import error_boundary, settings_or_exit
from leadpersona.entrypoints.http.app import create_app

__all__ = ["serve"]


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, min=0, max=65535, help="TCP port (0: any free port)."),
) -> None:
    """Serve the persona HTTP API (OpenAPI at /docs) and the dashboard at /."""
    settings = settings_or_exit()
    with error_boundary():
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
