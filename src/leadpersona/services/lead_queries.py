"""Read-only views of leads and of the import quarantine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from leadpersona.adapters.repositories import LeadRepository, QuarantineRepository
from leadpersona.domain.models import Lead
from leadpersona.domain.runs import QuarantineReason
from leadpersona.errors import InvalidInput

__all__ = [
    "LeadListing",
    "QuarantineEntry",
    "QuarantineListing",
    "QuarantineReason",
    "list_leads",
    "list_quarantine",
]

MAX_LIMIT = 10_000


class QuarantineEntry(BaseModel):
    """One rejected row: where it was, what it held, every reason."""

    import_id: str
    file: str
    row: int
    line: int | None = None
    raw: dict[str, Any]
    reasons: list[QuarantineReason]
    quarantined_at: datetime


class QuarantineListing(BaseModel):
    count: int
    by_reason: dict[str, int] = Field(default_factory=dict)
    entries: list[QuarantineEntry]


class LeadListing(BaseModel):
    count: int
    leads: list[Lead]


def _check_limit(limit: int) -> None:
    if not 0 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 0 and {MAX_LIMIT}, not {limit}")


async def list_quarantine(
    quarantine: QuarantineRepository, *, limit: int = 20, import_id: str | None = None
) -> QuarantineListing:
    """The most recently quarantined rows (optionally of one import), with totals."""
    _check_limit(limit)
    count = await quarantine.count(batch_id=import_id)
    by_reason = await quarantine.reason_counts(batch_id=import_id)
    entries = [
        QuarantineEntry(
            import_id=record.batch_id,
            file=record.location,
            row=record.row,
            line=record.line,
            raw=record.raw,
            reasons=record.reasons,
            quarantined_at=record.quarantined_at,
        )
        for record in await quarantine.newest(limit, batch_id=import_id)
    ]
    return QuarantineListing(
        count=count, by_reason=dict(sorted(by_reason.items())), entries=entries
    )


async def list_leads(leads: LeadRepository, *, limit: int = 10) -> LeadListing:
    """How many leads there are, and the first ``limit`` by id."""
    _check_limit(limit)
    return LeadListing(count=await leads.count(), leads=await leads.first_by_id(limit))
