"""Recording a run in the ledger: ``async with recorded_run(runs, "enrich") as run: ...``.

The run is recorded as ``running`` when the block is entered and, when it is left, as
``completed``; ``failed`` if an exception escaped (its message is the run's error); ``aborted``
on Ctrl-C, cancellation or a failure of the store itself. A service may end its run otherwise
before leaving the block (``run.abort(...)`` for a fatal API answer). Steps of a larger job pass
the job's run id as ``parent_id``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from leadpersona.adapters.repositories import RunRepository
from leadpersona.domain.runs import RunKind, RunRecord, RunStatus
from leadpersona.logs import current_run_id

__all__ = ["ERRORS_KEPT", "ProgressCallback", "RunHandle", "describe_error", "recorded_run"]

#: How a long job reports progress: called with (items done so far, total when known).
ProgressCallback = Callable[[int, int | None], None]

#: How many per-item errors a run keeps (a sample: counts hold the totals).
ERRORS_KEPT = 20

_log = logging.getLogger(__name__)


def describe_error(exc: BaseException) -> str:
    """One line naming an error: its message, else its type."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return message or type(exc).__name__


class RunHandle:
    """The run in progress: its record, counters, errors and how it should end."""

    def __init__(self, repository: RunRepository, record: RunRecord) -> None:
        self.repository = repository
        self.record = record
        self._ending: tuple[RunStatus, str] | None = None

    @property
    def id(self) -> str:
        """The run id (children of this run pass it as ``parent_id``)."""
        return self.record.id

    @property
    def counts(self) -> dict[str, Any]:
        """The counters recorded with the run; update freely, saved on checkpoint and end."""
        return self.record.counts

    def add_error(self, **error: str) -> None:
        """Keep one per-item error (the first ``ERRORS_KEPT`` are kept)."""
        if len(self.record.errors) < ERRORS_KEPT:
            self.record.errors.append(error)

    def abort(self, error: str) -> None:
        """End the run as ``aborted`` with ``error``, whatever happens next."""
        self._ending = ("aborted", error)

    def fail(self, error: str) -> None:
        """End the run as ``failed`` with ``error``, whatever happens next."""
        self._ending = ("failed", error)

    async def checkpoint(self) -> None:
        """Save the counters and errors so far."""
        await self.repository.checkpoint(
            self.id, counts=self.record.counts, errors=self.record.errors
        )

    def _end(self, exc: BaseException | None) -> tuple[RunStatus, str | None]:
        if self._ending is not None:
            return self._ending
        if exc is None:
            return "completed", None
        if isinstance(exc, Exception) and not self.repository.stops_run(exc):
            return "failed", describe_error(exc)
        return "aborted", f"interrupted: {type(exc).__name__}"


@asynccontextmanager
async def recorded_run(
    repository: RunRepository,
    kind: RunKind,
    *,
    parent_id: str | None = None,
    details: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> AsyncIterator[RunHandle]:
    """Record the run of the ``async with`` block; see the module docstring."""
    record = RunRecord(
        kind=kind, parent_id=parent_id, started_at=datetime.now(UTC), details=details or {}
    )
    if run_id is not None:
        record.id = run_id
    await repository.start(record)
    handle = RunHandle(repository, record)
    failure: BaseException | None = None
    token = current_run_id.set(record.id)
    _log.info("%s run started", kind)
    try:
        yield handle
    except BaseException as exc:
        failure = exc
        raise
    finally:
        status, error = handle._end(failure)
        record.status, record.error = status, error
        record.finished_at = datetime.now(UTC)
        _log.info("%s run %s%s", kind, status, f": {error}" if error else "")
        current_run_id.reset(token)
        try:
            await repository.finish(
                record.id,
                status=status,
                finished_at=record.finished_at,
                counts=record.counts,
                errors=record.errors,
                error=error,
            )
        except Exception:
            if failure is None:
                raise
            # The store failing again must not hide why the run stopped.
            _log.warning("could not record the end of run %s", record.id, exc_info=True)
