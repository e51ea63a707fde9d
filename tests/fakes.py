"""In-memory implementations of the repositories, for fast unit tests of services.

Each subclasses the same abstract base as the MongoDB adapter, so a service cannot tell them
apart (third-party fakes aside, these are the only stand-ins: our own database layer is tested
against a real server in ``tests/integration``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from leadpersona.adapters.repositories import QuarantineRepository, RunRepository, RunTally
from leadpersona.domain.runs import QuarantineRecord, RunKind, RunRecord, RunStatus


class InMemoryRunRepository(RunRepository):
    def __init__(self) -> None:
        self.runs: dict[str, RunRecord] = {}
        self.checkpoints = 0

    async def start(self, run: RunRecord) -> None:
        if run.id in self.runs:
            raise ValueError(f"run {run.id} exists")
        self.runs[run.id] = run.model_copy(deep=True)

    async def checkpoint(
        self, run_id: str, *, counts: dict[str, Any], errors: list[dict[str, str]]
    ) -> None:
        self.checkpoints += 1
        run = self.runs[run_id]
        run.counts, run.errors = dict(counts), list(errors)

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
        self.runs[run_id] = self.runs[run_id].model_copy(
            update={
                "status": status,
                "finished_at": finished_at,
                "counts": dict(counts),
                "errors": list(errors),
                "error": error,
            }
        )

    async def get(self, run_id: str) -> RunRecord | None:
        return self.runs.get(run_id)

    async def recent(self, limit: int, *, kind: RunKind | None = None) -> list[RunRecord]:
        runs = [r for r in self.runs.values() if kind is None or r.kind == kind]
        return sorted(runs, key=lambda r: r.started_at, reverse=True)[:limit]

    async def children(self, parent_id: str) -> list[RunRecord]:
        runs = [r for r in self.runs.values() if r.parent_id == parent_id]
        return sorted(runs, key=lambda r: r.started_at)

    async def add_alert(self, run_id: str, alert: dict[str, Any]) -> None:
        self.runs[run_id].alerts.append(dict(alert))

    async def tally(self) -> RunTally:
        tally = RunTally()
        for run in self.runs.values():
            key = (run.kind, run.status)
            tally.runs[key] = tally.runs.get(key, 0) + 1
            for alert in run.alerts:
                kind = str(alert.get("kind"))
                tally.alerts[kind] = tally.alerts.get(kind, 0) + 1
        return tally


class InMemoryQuarantineRepository(QuarantineRepository):
    def __init__(self) -> None:
        self.records: dict[str, QuarantineRecord] = {}

    async def add(self, records: Sequence[QuarantineRecord]) -> None:
        for record in records:
            self.records[record.id] = record
