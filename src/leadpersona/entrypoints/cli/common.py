"""What every command shares: settings, the database, output and error handling."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel
from pymongo.errors import PyMongoError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.bootstrap import mongo_server, open_database
from leadpersona.config import Settings, load_settings
from leadpersona.errors import (
    ConfigError,
    InvalidInput,
    LeadPersonaError,
    NotFoundError,
)

__all__ = [
    "EXIT_ERROR",
    "EXIT_NOT_FOUND",
    "EXIT_USAGE",
    "JsonOption",
    "console",
    "emit_json",
    "error_boundary",
    "fail",
    "run_with_database",
    "settings_or_exit",
]

T = TypeVar("T")

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3

# Markup and emoji codes are off: everything printed may hold user text (file names, headers,
# lead names), which must appear exactly as written (``:x:`` is not an emoji, ``[b]`` not bold).
console = Console(markup=False, emoji=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)

JsonOption = typer.Option(False, "--json", help="Print exactly one JSON document on stdout.")


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print one error line on stderr and exit with ``code``."""
    err_console.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def _exit_code(exc: LeadPersonaError) -> int:
    if isinstance(exc, NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, ConfigError | InvalidInput):
        return EXIT_USAGE
    return EXIT_ERROR


@contextmanager
def error_boundary() -> Iterator[None]:
    """Turn expected failures into one line on stderr and a non-zero exit."""
    try:
        yield
    except LeadPersonaError as exc:
        fail(str(exc), _exit_code(exc))
    except PyMongoError as exc:
        fail(f"MongoDB: {str(exc).splitlines()[0][:300]}")
    except OSError as exc:
        fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
    except KeyboardInterrupt:
        fail("interrupted", 130)


def settings_or_exit() -> Settings:
    """Load settings, or exit with one clear line."""
    with error_boundary():
        return load_settings()
    raise AssertionError("unreachable")  # pragma: no cover


def run_with_database(
    work: Callable[[Settings, MongoDatabase], Awaitable[T]],
    *,
    settings: Settings | None = None,
) -> T:
    """Run ``work`` with the database open (starting the embedded server if needed)."""
    settings = settings or settings_or_exit()
    with error_boundary(), mongo_server(settings) as uri:

        async def main() -> T:
            async with open_database(settings, uri) as database:
                return await work(settings, database)

        return asyncio.run(main())
    raise AssertionError("unreachable")  # pragma: no cover


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit_json(document: Any) -> None:
    """Print exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, default=_default, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int | None], None]]:
    """A transient Rich progress bar on stderr; the callback sets (completed, total)."""
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(completed: int, total: int | None) -> None:
            bar.update(task, completed=completed, total=total)

        yield update
