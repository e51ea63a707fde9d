"""One ``leadpersona run`` at a time: an exclusive ``flock`` on a file in the data dir.

The kernel drops the lock when its holder's process ends in any way, SIGKILL included, so a
killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from leadpersona.errors import LeadPersonaError

__all__ = ["RunLocked", "run_lock"]


class RunLocked(LeadPersonaError):
    """Another run holds the lock."""


@contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Hold the lock at ``path`` for the block, or raise ``RunLocked`` at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            raise RunLocked(f"another run is in progress (pid {holder}); try later") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
