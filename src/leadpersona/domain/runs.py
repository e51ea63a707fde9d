"""The run ledger and the quarantine, as data: one shape for every kind of run and every source.

Every command that moves data (enrich, lead import, warehouse sync, sales load, the daily run)
records a ``RunRecord``; a step of a larger job names it as ``parent_id``. A row rejected by any
loader becomes a ``QuarantineRecord``: where it came from, where in the source, the values as
read and every reason it was rejected. Pure data: storing them is the adapters' business.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "FINISHED_STATUSES",
    "QuarantineReason",
    "QuarantineRecord",
    "RunKind",
    "RunRecord",
    "RunStatus",
    "new_run_id",
]

#: What a run is. New kinds are added here as new jobs are.
RunKind = Literal["enrich", "import", "warehouse_sync", "sales_load", "daily"]

#: ``running`` until it ends; ``completed`` when it did its job; ``failed`` when an error stopped
#: it; ``aborted`` when it was stopped from outside (Ctrl-C, the database went away) or a fatal
#: answer made it give up before writing anything of the work in flight.
RunStatus = Literal["running", "completed", "failed", "aborted"]

FINISHED_STATUSES: frozenset[str] = frozenset({"completed", "failed", "aborted"})


def new_run_id() -> str:
    """A fresh, unique run id (32 hex digits)."""
    return uuid.uuid4().hex


class RunRecord(BaseModel):
    """One run in the ledger."""

    id: str = Field(default_factory=new_run_id)
    kind: RunKind
    parent_id: str | None = Field(default=None, description="the run this one is a step of")
    status: RunStatus = "running"
    started_at: datetime
    finished_at: datetime | None = None
    counts: dict[str, Any] = Field(default_factory=dict, description="what it did, by name")
    errors: list[dict[str, str]] = Field(
        default_factory=list, description="a sample of per-item errors that did not stop it"
    )
    error: str | None = Field(default=None, description="why it did not complete")
    details: dict[str, Any] = Field(
        default_factory=dict, description="its parameters: settings, file, date range, ..."
    )
    alerts: list[dict[str, Any]] = Field(
        default_factory=list, description="the alerts it raised (kind, message, at)"
    )

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end, once it has ended."""
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)


class QuarantineReason(BaseModel):
    """One reason a row was rejected."""

    code: str
    field: str | None = None
    message: str


class QuarantineRecord(BaseModel):
    """A rejected row, with every reason (nothing read is silently dropped)."""

    id: str = Field(description="stable per source row, so a re-run writes it once")
    source: str = Field(description="what was being loaded: 'leads', 'sales:api', ...")
    batch_id: str = Field(description="the import or load it belongs to (a file hash, a load id)")
    run_id: str | None = None
    location: str = Field(description="the file name, endpoint or table it was read from")
    row: int = Field(description="1-based record number within the location")
    line: int | None = Field(default=None, description="the line it starts on, for text files")
    raw: dict[str, Any] = Field(description="the values as read")
    reasons: list[QuarantineReason]
    quarantined_at: datetime
