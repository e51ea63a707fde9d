"""The storage abstractions services are written against.

Each has a MongoDB implementation in ``adapters/mongo/`` and an in-memory fake in the tests
(``tests/fakes.py``) subclassing the same base, so a service's logic is tested without a server.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from leadpersona.domain.models import Lead
from leadpersona.domain.persona import FeatureValue, Persona, PersonaQuery
from leadpersona.domain.persona_stats import PersonaGroup
from leadpersona.domain.runs import QuarantineRecord, RunKind, RunRecord, RunStatus

__all__ = [
    "IMPORT_COUNTERS",
    "NO_REASON",
    "CollectionInfo",
    "EmailOwner",
    "EnrichmentOutcome",
    "EnrichmentStateRepository",
    "ExampleKind",
    "ImportLedger",
    "ImportProgress",
    "ImportedLead",
    "LeadChanges",
    "LeadContact",
    "LeadRepository",
    "LeadsInOrder",
    "LoggedImport",
    "NewImport",
    "PersonaRepository",
    "QuarantineRepository",
    "Repositories",
    "RunRepository",
    "RunTally",
    "SharedEmails",
    "StoreSetup",
    "SyncSource",
]


#: The reason code a quarantined row's reason is counted under when it carries none.
NO_REASON = "unspecified"


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

    @abc.abstractmethod
    async def count(self, *, batch_id: str | None = None) -> int:
        """How many rows are quarantined (of one import or load)."""

    @abc.abstractmethod
    async def reason_counts(self, *, batch_id: str | None = None) -> dict[str, int]:
        """How often each reason code was given (of one import or load), by code (a reason
        stored without a code counts under ``NO_REASON``)."""

    @abc.abstractmethod
    async def newest(self, limit: int, *, batch_id: str | None = None) -> list[QuarantineRecord]:
        """The ``limit`` rows quarantined last (of one import or load), by row within a time."""


@dataclass(frozen=True)
class LeadContact:
    """What enrichment reads of a lead: its id and email (as stored, maybe empty)."""

    id: str
    email: str | None = None


class SharedEmails(BaseModel):
    """Leads that share an email key: how many keys, how many leads, a few examples."""

    emails: int = 0
    leads: int = 0
    examples: list[dict[str, Any]] = Field(default_factory=list)


@dataclass(frozen=True)
class EmailOwner:
    """The stored lead that owns an email key, and the import row it came from (if any)."""

    lead_id: str
    import_id: str | None = None
    row: Any = None


@dataclass(frozen=True)
class ImportedLead:
    """A lead read from row ``row`` of the import ``import_id`` (the file's SHA-256)."""

    lead_id: str
    fields: dict[str, Any]
    import_id: str
    row: int
    extra: dict[str, str] = field(default_factory=dict)


class LeadRepository(abc.ABC):
    """The leads, and the index of their email keys (one owner lead per normalised email)."""

    @abc.abstractmethod
    def contact_pages(self, page_size: int) -> AsyncIterator[list[LeadContact]]:
        """Every lead's contact in id order, ``page_size`` at a time, read through one cursor."""

    @abc.abstractmethod
    async def count(self) -> int:
        """How many leads are stored."""

    @abc.abstractmethod
    async def first_by_id(self, limit: int) -> list[Lead]:
        """The first ``limit`` leads in id order."""

    @abc.abstractmethod
    async def register_email_keys(self) -> SharedEmails:
        """Give every stored lead's email key an owner (the first lead by id); report the keys
        several leads share. Idempotent; one pass over the leads in batches."""

    @abc.abstractmethod
    async def email_owners(self, keys: Sequence[str]) -> dict[str, EmailOwner]:
        """The stored lead owning each of these email keys, by key (keys nobody owns left out)."""

    @abc.abstractmethod
    async def claim_email_keys(self, claims: Sequence[tuple[str, str, str]]) -> list[int]:
        """Claim email keys (key, lead id, email as written) for leads about to be added, in
        one bulk write; the indexes of the claims another lead holds. A key already claimed
        for the same lead id counts as won; one whose owner lead no longer exists is taken."""

    @abc.abstractmethod
    async def add_new(self, leads: Sequence[Lead]) -> int:
        """Store leads in one bulk write; a lead whose id is stored already is left as it is.
        How many were added."""

    @abc.abstractmethod
    async def add_imported(self, leads: Sequence[ImportedLead]) -> None:
        """Store a batch of imported leads in one bulk write; a lead already stored under its id
        (written by an interrupted run of the same import) is left as it is."""


@dataclass(frozen=True)
class ExampleKind:
    """Personas worth showing as an example: with this status, this source of their academic
    field and (when asked) a company type."""

    status: str | None = None
    academic_source: str | None = None
    with_company_type: bool = False


class PersonaRepository(abc.ABC):
    """The computed personas (one per lead, keyed by lead id)."""

    @abc.abstractmethod
    async def get(self, lead_id: str) -> Persona:
        """One lead's persona; ``PersonaNotFound`` if it has none."""

    @abc.abstractmethod
    async def update(self, lead_id: str, changes: Mapping[str, FeatureValue | None]) -> Persona:
        """Lay validated manual values over a persona (None removes), kept as overrides so that
        they survive recomputation; ``PersonaNotFound`` if it has none."""

    @abc.abstractmethod
    async def find_ids(
        self, query: PersonaQuery, *, after: str | None = None, limit: int = 1000
    ) -> list[str]:
        """One page of matching lead ids (ascending) after the cursor ``after``."""

    @abc.abstractmethod
    def iter_ids(self, query: PersonaQuery, *, batch_size: int = 1000) -> AsyncIterator[str]:
        """Every matching lead id in ascending order, streamed (constant memory)."""

    @abc.abstractmethod
    async def count(self, query: PersonaQuery) -> int:
        """How many personas match."""

    @abc.abstractmethod
    async def group_counts(self) -> list[PersonaGroup]:
        """Every persona counted by academic field, company type, status and academic source."""

    @abc.abstractmethod
    async def example(self, kind: ExampleKind, exclude: Sequence[str] = ()) -> Persona | None:
        """The persona with the lowest lead id of this kind, leaving out ``exclude``; None if
        there is none."""

    @abc.abstractmethod
    async def existing_ids(self, lead_ids: Sequence[str]) -> set[str]:
        """Which of ``lead_ids`` already have a persona (one query)."""

    @abc.abstractmethod
    async def count_all(self) -> int:
        """How many personas are stored."""

    @abc.abstractmethod
    async def save_computed(self, personas: Sequence[Persona]) -> None:
        """Upsert freshly computed personas in one bulk write, keeping manual overrides."""


@dataclass(frozen=True)
class EnrichmentOutcome:
    """How one lead's enrichment attempt ended."""

    lead_id: str
    email: str
    state: Literal["enriched", "no_data", "failed"]
    error: str | None = None


class EnrichmentStateRepository(abc.ABC):
    """Where each lead stands with enrichment: last state and error, attempts so far."""

    @abc.abstractmethod
    async def record_attempts(
        self, outcomes: Sequence[EnrichmentOutcome], *, run_id: str, at: datetime
    ) -> None:
        """Record a page of attempts in one bulk write (each adds one to the lead's attempts)."""

    @abc.abstractmethod
    async def state_counts(self) -> dict[str, int]:
        """How many leads are in each state (enriched, no_data, failed)."""


#: The counters the import ledger keeps for each import (``LoggedImport.counters``).
IMPORT_COUNTERS = ("read", "inserted", "duplicates_in_file", "duplicates_existing", "quarantined")


@dataclass(frozen=True)
class LoggedImport:
    """An import of a file as the ledger knows it: its status, and its file and counters."""

    sha256: str
    status: str
    finished_at: datetime | None = None
    file: str = ""
    started_at: datetime | None = None
    counters: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class NewImport:
    """An import about to start: the file, its layout, and its counters at zero."""

    sha256: str
    file: str
    delimiter: str
    columns: list[str]
    extra_columns: list[str]
    records: int
    counters: dict[str, int]
    started_at: datetime


@dataclass(frozen=True)
class ImportProgress:
    """Where an interrupted import stopped: its counters and the rows done."""

    counters: dict[str, int]
    by_reason: dict[str, int]
    rows_done: int


class ImportLedger(abc.ABC):
    """The imports of lead files, keyed by the file's SHA-256: so a file is imported once and an
    interrupted import resumes where it stopped."""

    @abc.abstractmethod
    async def find(self, sha256: str) -> LoggedImport | None:
        """The import of this file, or None if it was never started."""

    @abc.abstractmethod
    async def recent(self, limit: int) -> list[LoggedImport]:
        """The ``limit`` imports started last, newest first."""

    @abc.abstractmethod
    async def start_or_resume(self, new: NewImport) -> ImportProgress | None:
        """Record ``new`` as running; if this file's import is recorded already, count one more
        run of it and return its progress instead (None: a fresh start)."""

    @abc.abstractmethod
    async def checkpoint(self, sha256: str, *, counters: dict[str, Any], rows_done: int) -> None:
        """Save a running import's counters after ``rows_done`` rows."""

    @abc.abstractmethod
    async def complete(self, sha256: str, *, at: datetime) -> None:
        """Mark the import complete: the file will not be imported again."""


class CollectionInfo(BaseModel):
    """One stored collection and its indexes."""

    name: str
    documents: int
    indexes: list[str]


class StoreSetup(abc.ABC):
    """The storage itself: every collection the repositories use."""

    @abc.abstractmethod
    async def create_missing(self) -> None:
        """Create the collections that do not exist yet (idempotent)."""

    @abc.abstractmethod
    async def describe(self) -> list[CollectionInfo]:
        """Every collection the repositories use, by name, with its documents and indexes."""


class LeadsInOrder(abc.ABC):
    """Leads read by one cursor in ``_id`` order, handed out a batch at a time."""

    @abc.abstractmethod
    async def take(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The documents of these leads that exist; ``ids`` ascend, and each call's ids come
        after the last call's (a merge join: leads no call asks for are passed over)."""


class SyncSource(abc.ABC):
    """What the warehouse sync reads: persona and lead documents as stored."""

    @abc.abstractmethod
    async def count_personas(self, since: datetime | None) -> int:
        """How many personas :meth:`personas` would give (a progress total: with ``since``
        None, the store's estimate may be used)."""

    @abc.abstractmethod
    def personas(
        self, since: datetime | None, *, by_id: bool, batch_size: int
    ) -> AsyncIterator[dict[str, Any]]:
        """Personas updated at or after ``since`` (all with None), in ``(updated_at, _id)``
        order, or in ``_id`` order with ``by_id``; ``batch_size`` per round trip."""

    @abc.abstractmethod
    async def leads(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The documents of these leads that exist, in no particular order."""

    @abc.abstractmethod
    def leads_in_order(self) -> LeadsInOrder:
        """Every lead, in ``_id`` order, for a merge join with personas in ``_id`` order."""

    @abc.abstractmethod
    def lead_ids(self, batch_size: int) -> AsyncIterator[str]:
        """Every lead id, in byte order."""

    async def lead_log_position(self) -> str | None:
        """The present position of a log of the writes to leads (inserted, changed, deleted),
        to read from with :meth:`lead_changes` later; None: this source keeps no such log."""
        return None

    async def lead_changes(self, after: str, limit: int) -> LeadChanges | None:
        """The ids of the leads written or deleted since the position ``after``, up to the
        present; None when the log cannot say (no log, the position is no longer in it, the
        collection was dropped or renamed, more than ``limit`` ids)."""
        return None


@dataclass(frozen=True)
class LeadChanges:
    """What :meth:`SyncSource.lead_changes` found."""

    #: Leads inserted, replaced, updated or deleted (what each is now, the leads say).
    ids: frozenset[str]
    #: Where the log is to be read from next time: past every write in ``ids``.
    position: str


@dataclass(frozen=True)
class Repositories:
    """Every repository, as ``bootstrap.mongo_repositories`` (or a test's fakes) builds them."""

    leads: LeadRepository
    personas: PersonaRepository
    enrichment_states: EnrichmentStateRepository
    runs: RunRepository
    quarantine: QuarantineRepository
    imports: ImportLedger
    setup: StoreSetup
    sync_source: SyncSource
