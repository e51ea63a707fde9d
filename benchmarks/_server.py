"""What several benchmarks share: a throw-away embedded MongoDB-wire server, and running a
job in a fresh process (so that its peak memory is its own)."""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from queue import Empty
from typing import Any, TypeVar

from leadpersona.adapters.mongo.embedded import EmbeddedMongo

__all__ = ["in_child", "on_embedded_server", "peak_rss_mb"]

T = TypeVar("T")


def on_embedded_server(main: Callable[[str, Path], Awaitable[T]]) -> T:
    """Run ``main(uri, data_dir)`` against a fresh embedded server in a temporary directory."""
    with (
        tempfile.TemporaryDirectory(prefix="lp-bench-") as tmp,
        EmbeddedMongo(Path(tmp) / "mongo") as uri,
    ):
        return asyncio.run(main(uri, Path(tmp) / "data"))


def in_child(target: Callable[..., None], *args: Any) -> dict[str, Any]:
    """Run ``target(*args, queue)`` in a fresh (spawned) process; what it puts on the queue."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    try:
        while True:
            try:
                result: dict[str, Any] = queue.get(timeout=1)
                break
            except Empty:
                if not process.is_alive():
                    raise RuntimeError(
                        f"{target.__name__} died: exit code {process.exitcode}"
                    ) from None
        process.join()
    finally:
        if process.is_alive():
            process.kill()
            process.join()
    return result


def peak_rss_mb() -> float:
    """This process's peak resident memory (``VmHWM``: unlike ``ru_maxrss``, not inherited
    from the parent across ``exec``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
