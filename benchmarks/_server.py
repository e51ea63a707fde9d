"""What several benchmarks share: a throw-away embedded MongoDB-wire server."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from leadpersona.adapters.mongo.embedded import EmbeddedMongo

__all__ = ["on_embedded_server"]

T = TypeVar("T")


def on_embedded_server(main: Callable[[str, Path], Awaitable[T]]) -> T:
    """Run ``main(uri, data_dir)`` against a fresh embedded server in a temporary directory."""
    with (
        tempfile.TemporaryDirectory(prefix="lp-bench-") as tmp,
        EmbeddedMongo(Path(tmp) / "mongo") as uri,
    ):
        return asyncio.run(main(uri, Path(tmp) / "data"))
