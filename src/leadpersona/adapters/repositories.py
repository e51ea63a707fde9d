"""The storage abstractions services are written against.

Each has a MongoDB implementation in ``adapters/mongo/`` and an in-memory fake in the tests
(``tests/fakes.py``) subclassing the same base, so a service's logic is tested without a server.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadpersona.domain.runs import QuarantineRecord, RunKind, RunRecord, RunStatus

__all__ = ["QuarantineRepository", "RunRepository", "RunTally"]


@dataclass
class RunTally:
    """The whole ledger counted: runs by (kind, status), alerts by kind."""

    runs: dict[tuple[str, str], int] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)


class RunRepository(abc.ABC):
    """The run ledger."""

    @abc.abstractmethod
    async def start(self, run: RunRecord) -> None:
        """Record a run that has just started."""

    @abc.abstractmethod
    async def checkpoint(
        self, run_id: str, *, counts: dict[str, Any], errors: list[dict[str, str]]
    ) -> None:
        """Save a running run's counters so far."""

    @abc.abstractmethod
    async def finish(
        self,
        run_id: str,
        *,
        status: RunStatus,
        finished_at: datetime,
        counts: dict[str, Any],
        errors: list[dict[str, str]],
        error: str | None,
    ) -> None:
        """Record how a run ended."""

    @abc.abstractmethod
    async def get(self, run_id: str) -> RunRecord | None:
        """One run, or None."""

    @abc.abstractmethod
    async def recent(self, limit: int, *, kind: RunKind | None = None) -> list[RunRecord]:
        """The last ``limit`` runs (of one kind), newest first."""

    @abc.abstractmethod
    async def children(self, parent_id: str) -> list[RunRecord]:
        """The steps of a run, in the order they started."""

    @abc.abstractmethod
    async def add_alert(self, run_id: str, alert: dict[str, Any]) -> None:
        """Keep an alert with the run that raised it."""

    @abc.abstractmethod
    async def tally(self) -> RunTally:
        """Every run counted by kind and status, and every alert by kind."""

    def stops_run(self, exc: BaseException) -> bool:
        """Whether ``exc`` is this store failing (the run is then aborted, not failed)."""
        return False


class QuarantineRepository(abc.ABC):
    """Rejected rows, with their reasons."""

    @abc.abstractmethod
    async def add(self, records: Sequence[QuarantineRecord]) -> None:
        """Store rejected rows; a row stored before (same id) is replaced, not duplicated."""
