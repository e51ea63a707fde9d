"""In-memory implementations of the repositories, for fast unit tests of services.

Each subclasses the same abstract base as the MongoDB adapter, so a service cannot tell them
apart (third-party fakes aside, these are the only stand-ins: our own database layer is tested
against a real server in ``tests/integration``).
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from leadpersona import __version__
from leadpersona.adapters.archive import AnswersInOrder, ArchivedAnswer, RawArchive
from leadpersona.adapters.enrichment_client import FetchResult
from leadpersona.adapters.repositories import (
    IMPORT_COUNTERS,
    CollectionInfo,
    EmailOwner,
    EnrichmentOutcome,
    EnrichmentStateRepository,
    ExampleKind,
    ImportedLead,
    ImportLedger,
    ImportProgress,
    LeadContact,
    LeadRepository,
    LeadsInOrder,
    LoggedImport,
    NewImport,
    PersonaRepository,
    QuarantineRepository,
    Repositories,
    RunRepository,
    RunTally,
    SharedEmails,
    StoreSetup,
    SyncSource,
)
from leadpersona.domain.email import normalize_email
from leadpersona.domain.models import Lead
from leadpersona.domain.persona import (
    FeatureValue,
    Persona,
    PersonaQuery,
    apply_overrides,
    feature_key,
)
from leadpersona.domain.persona_stats import PersonaGroup
from leadpersona.domain.runs import QuarantineRecord, RunKind, RunRecord, RunStatus
from leadpersona.errors import ArchiveNotFound, PersonaNotFound


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

    def _of(self, batch_id: str | None) -> list[QuarantineRecord]:
        return [r for r in self.records.values() if batch_id is None or r.batch_id == batch_id]

    async def count(self, *, batch_id: str | None = None) -> int:
        return len(self._of(batch_id))

    async def reason_counts(self, *, batch_id: str | None = None) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self._of(batch_id):
            for reason in record.reasons:
                counts[reason.code] = counts.get(reason.code, 0) + 1
        return counts

    async def newest(self, limit: int, *, batch_id: str | None = None) -> list[QuarantineRecord]:
        by_row = sorted(self._of(batch_id), key=lambda r: r.row)
        return sorted(by_row, key=lambda r: r.quarantined_at, reverse=True)[:limit]


class InMemoryLeadRepository(LeadRepository):
    def __init__(self, leads: Sequence[LeadContact] = ()) -> None:
        self.leads: dict[str, LeadContact] = {lead.id: lead for lead in leads}
        self.imported: dict[str, ImportedLead] = {}
        self.email_keys: dict[str, str] = {}  # normalised email -> owner lead id
        self.added: dict[str, Lead] = {}  # stored whole by add_new
        self.cursors = 0
        self.bulk_writes = 0

    async def contact_pages(self, page_size: int) -> AsyncIterator[list[LeadContact]]:
        self.cursors += 1
        ordered = [self.leads[key] for key in sorted(self.leads)]
        for start in range(0, len(ordered), page_size):
            yield ordered[start : start + page_size]

    async def count(self) -> int:
        return len(self.leads)

    async def first_by_id(self, limit: int) -> list[Lead]:
        leads = []
        for lead_id in sorted(self.leads)[: max(limit, 0)]:
            if lead_id in self.added:
                leads.append(self.added[lead_id])
                continue
            source = self.imported.get(lead_id)
            fields = source.fields if source is not None else {}
            leads.append(
                Lead(
                    id=lead_id,
                    status=int(fields.get("status") or 0),
                    first_name=fields.get("first_name"),
                    last_name=fields.get("last_name"),
                    email=self.leads[lead_id].email,
                    photo_url=fields.get("photo_url"),
                )
            )
        return leads

    async def register_email_keys(self) -> SharedEmails:
        shared: dict[str, set[str]] = {}
        for lead_id in sorted(self.leads):
            email = self.leads[lead_id].email
            key = normalize_email(email) if isinstance(email, str) else ""
            if not key:
                continue
            holder = self.email_keys.setdefault(key, lead_id)
            if holder != lead_id:
                shared.setdefault(key, {holder}).add(lead_id)
        return SharedEmails(
            emails=len(shared),
            leads=sum(len(ids) for ids in shared.values()),
            examples=[
                {"email": key, "lead_ids": sorted(ids)[:5]}
                for key, ids in sorted(shared.items())[:5]
            ],
        )

    async def email_owners(self, keys: Sequence[str]) -> dict[str, EmailOwner]:
        owners = {}
        for key in set(keys):
            lead_id = self.email_keys.get(key)
            if lead_id is None or lead_id not in self.leads:
                continue
            source = self.imported.get(lead_id)
            owners[key] = (
                EmailOwner(lead_id, source.import_id, source.row)
                if source is not None
                else EmailOwner(lead_id)
            )
        return owners

    async def claim_email_keys(self, claims: Sequence[tuple[str, str, str]]) -> list[int]:
        losers = []
        for index, (key, lead_id, _) in enumerate(claims):
            owner = self.email_keys.get(key)
            if owner is None or owner not in self.leads:
                self.email_keys[key] = lead_id
            elif owner != lead_id:
                losers.append(index)
        return losers

    async def add_new(self, leads: Sequence[Lead]) -> int:
        added = [lead for lead in leads if lead.id not in self.leads]
        if added:
            self.bulk_writes += 1
        for lead in added:
            self.leads[lead.id] = LeadContact(lead.id, lead.email)
            self.added[lead.id] = lead
        return len(added)

    async def add_imported(self, leads: Sequence[ImportedLead]) -> None:
        if not leads:
            return
        self.bulk_writes += 1
        for lead in leads:
            if lead.lead_id not in self.leads:
                self.leads[lead.lead_id] = LeadContact(lead.lead_id, lead.fields.get("email"))
                self.imported[lead.lead_id] = lead


class InMemoryPersonaRepository(PersonaRepository):
    def __init__(self) -> None:
        self.personas: dict[str, Persona] = {}
        self.bulk_writes = 0

    async def existing_ids(self, lead_ids: Sequence[str]) -> set[str]:
        return {lead_id for lead_id in lead_ids if lead_id in self.personas}

    async def count_all(self) -> int:
        return len(self.personas)

    async def save_computed(self, personas: Sequence[Persona]) -> None:
        if not personas:
            return
        self.bulk_writes += 1
        for persona in personas:
            current = self.personas.get(persona.lead_id)
            overrides = current.overrides if current is not None else {}
            self.personas[persona.lead_id] = apply_overrides(persona, overrides)

    async def get(self, lead_id: str) -> Persona:
        if lead_id not in self.personas:
            raise PersonaNotFound(f"no persona for lead {lead_id}")
        return self.personas[lead_id]

    async def update(self, lead_id: str, changes: Mapping[str, FeatureValue | None]) -> Persona:
        current = await self.get(lead_id)
        updated = apply_overrides(current, {**current.overrides, **changes}).model_copy(
            update={"updated_at": datetime.now(UTC)}
        )
        self.personas[lead_id] = updated
        return updated

    def _matching(self, query: PersonaQuery) -> list[str]:
        wanted = set(query.keys())
        return [
            lead_id
            for lead_id in sorted(self.personas)
            if wanted <= {feature_key(n, v) for n, v in self.personas[lead_id].features.items()}
        ]

    async def find_ids(
        self, query: PersonaQuery, *, after: str | None = None, limit: int = 1000
    ) -> list[str]:
        return [i for i in self._matching(query) if after is None or i > after][:limit]

    async def iter_ids(self, query: PersonaQuery, *, batch_size: int = 1000) -> AsyncIterator[str]:
        for lead_id in self._matching(query):
            yield lead_id

    async def count(self, query: PersonaQuery) -> int:
        return len(self._matching(query))

    async def example(self, kind: ExampleKind, exclude: Sequence[str] = ()) -> Persona | None:
        for lead_id in sorted(set(self.personas) - set(exclude)):
            persona = self.personas[lead_id]
            source = persona.provenance.get("academic_field")
            if (
                kind.status in (None, persona.status)
                and kind.academic_source in (None, source and source.source)
                and (not kind.with_company_type or "company_type" in persona.features)
            ):
                return persona
        return None

    async def group_counts(self) -> list[PersonaGroup]:
        counts: Counter[tuple[str | None, str | None, str | None, str | None]] = Counter()
        for persona in self.personas.values():
            source = persona.provenance.get("academic_field")
            counts[
                (
                    _text(persona.features.get("academic_field")),
                    _text(persona.features.get("company_type")),
                    persona.status,
                    source.source if source is not None else None,
                )
            ] += 1
        return [PersonaGroup(*key, count=n) for key, n in counts.items()]


def _text(value: FeatureValue | None) -> str | None:
    return None if value is None else str(value)


class InMemoryEnrichmentStateRepository(EnrichmentStateRepository):
    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}
        self.bulk_writes = 0

    async def record_attempts(
        self, outcomes: Sequence[EnrichmentOutcome], *, run_id: str, at: datetime
    ) -> None:
        if not outcomes:
            return
        self.bulk_writes += 1
        for outcome in outcomes:
            attempts = self.states.get(outcome.lead_id, {}).get("attempts", 0)
            self.states[outcome.lead_id] = {
                "state": outcome.state,
                "last_error": outcome.error,
                "email": outcome.email,
                "run_id": run_id,
                "updated_at": at,
                "attempts": attempts + 1,
            }

    async def state_counts(self) -> dict[str, int]:
        return dict(Counter(state["state"] for state in self.states.values()))


class InMemoryArchive(RawArchive):
    """Raw answers kept in a dict, newest last."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[ArchivedAnswer, bytes]] = {}
        self._ids = itertools.count(1)

    async def ensure_indexes(self) -> None:
        return None

    async def put(self, result: FetchResult, lead_ids: Sequence[str]) -> ArchivedAnswer:
        return (await self.put_many([(result, lead_ids)]))[0]

    async def put_many(
        self, items: Sequence[tuple[FetchResult, Sequence[str]]]
    ) -> list[ArchivedAnswer]:
        stored = []
        for result, lead_ids in items:
            answer = ArchivedAnswer(
                archive_id=f"a{next(self._ids):06d}",
                email=normalize_email(result.email),
                lead_ids=list(dict.fromkeys(lead_ids)),
                fetched_at=result.fetched_at,
                status_code=result.status_code,
                sha256=hashlib.sha256(result.raw).hexdigest(),
                size=len(result.raw),
                client_version=__version__,
            )
            self.answers[answer.archive_id] = (answer, result.raw)
            stored.append(answer)
        return stored

    def raw_in_order(self) -> AnswersInOrder:
        return AnswersInOrder(self)

    async def raw_many(self, archive_ids: Sequence[str]) -> dict[str, bytes]:
        return {key: self.answers[key][1] if key in self.answers else b"" for key in archive_ids}

    async def link(self, archive_id: str, lead_ids: Sequence[str]) -> None:
        await self.link_many({archive_id: lead_ids})

    async def link_many(self, links: Mapping[str, Sequence[str]]) -> None:
        for archive_id, lead_ids in links.items():
            answer, raw = self.answers[archive_id]
            merged = list(dict.fromkeys([*answer.lead_ids, *lead_ids]))
            self.answers[archive_id] = (answer.model_copy(update={"lead_ids": merged}), raw)

    async def get(self, archive_id: str) -> tuple[ArchivedAnswer, bytes]:
        if archive_id not in self.answers:
            raise ArchiveNotFound(f"no archived answer {archive_id}")
        return self.answers[archive_id]

    async def get_many(self, archive_ids: Sequence[str]) -> dict[str, tuple[ArchivedAnswer, bytes]]:
        return {i: self.answers[i] for i in archive_ids if i in self.answers}

    def _matching(self, lead_id: str | None, email: str | None) -> list[ArchivedAnswer]:
        key = normalize_email(email) if email is not None else None
        return [
            answer
            for answer, _ in reversed(self.answers.values())
            if (lead_id is not None and lead_id in answer.lead_ids) or answer.email == key
        ]

    async def latest(
        self, *, lead_id: str | None = None, email: str | None = None
    ) -> tuple[ArchivedAnswer, bytes]:
        found = self._matching(lead_id, email)
        if not found:
            raise ArchiveNotFound(f"nothing archived for {lead_id or email}")
        return self.answers[found[0].archive_id]

    async def history(
        self, *, lead_id: str | None = None, email: str | None = None
    ) -> list[ArchivedAnswer]:
        return self._matching(lead_id, email)

    async def latest_for_emails(
        self, emails: Sequence[str], newer_than: datetime
    ) -> dict[str, tuple[ArchivedAnswer, bytes]]:
        latest: dict[str, tuple[ArchivedAnswer, bytes]] = {}
        wanted = set(emails)
        for answer, raw in self.answers.values():
            if answer.email in wanted and answer.fetched_at > newer_than:
                latest[answer.email] = (answer, raw)
        return latest


class InMemoryImportLedger(ImportLedger):
    def __init__(self) -> None:
        self.imports: dict[str, dict[str, Any]] = {}

    async def find(self, sha256: str) -> LoggedImport | None:
        entry = self.imports.get(sha256)
        if entry is None:
            return None
        return LoggedImport(sha256, entry["status"], entry["finished_at"])

    async def recent(self, limit: int) -> list[LoggedImport]:
        newest = sorted(
            self.imports.items(), key=lambda item: item[1]["new"].started_at, reverse=True
        )
        return [
            LoggedImport(
                sha256,
                entry["status"],
                entry["finished_at"],
                file=entry["new"].file,
                started_at=entry["new"].started_at,
                counters={k: int(entry["counters"].get(k, 0)) for k in IMPORT_COUNTERS},
            )
            for sha256, entry in newest[:limit]
        ]

    async def start_or_resume(self, new: NewImport) -> ImportProgress | None:
        entry = self.imports.get(new.sha256)
        if entry is None:
            self.imports[new.sha256] = {
                "new": new,
                "status": "running",
                "counters": dict(new.counters),
                "by_reason": {},
                "rows_done": 0,
                "runs": 1,
                "finished_at": None,
            }
            return None
        entry["runs"] += 1
        return ImportProgress(
            counters={name: int(entry["counters"].get(name, 0)) for name in new.counters},
            by_reason=dict(entry["by_reason"]),
            rows_done=entry["rows_done"],
        )

    async def checkpoint(self, sha256: str, *, counters: dict[str, Any], rows_done: int) -> None:
        entry = self.imports[sha256]
        entry["counters"] = {k: v for k, v in counters.items() if k != "by_reason"}
        entry["by_reason"] = dict(counters.get("by_reason", {}))
        entry["rows_done"] = rows_done

    async def complete(self, sha256: str, *, at: datetime) -> None:
        self.imports[sha256].update(status="complete", finished_at=at)


class InMemoryStoreSetup(StoreSetup):
    """Collections that exist once created; their documents are counted as 0."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = sorted(names)
        self.created: set[str] = set()

    async def create_missing(self) -> None:
        self.created.update(self.names)

    async def describe(self) -> list[CollectionInfo]:
        return [CollectionInfo(name=n, documents=0, indexes=["_id_"]) for n in self.names]


def in_memory_repositories(leads: Sequence[LeadContact] = ()) -> Repositories:
    return Repositories(
        leads=InMemoryLeadRepository(leads),
        personas=InMemoryPersonaRepository(),
        enrichment_states=InMemoryEnrichmentStateRepository(),
        runs=InMemoryRunRepository(),
        quarantine=InMemoryQuarantineRepository(),
        imports=InMemoryImportLedger(),
        setup=InMemoryStoreSetup(["enrichment", "imports", "leads", "personas", "runs"]),
        sync_source=InMemorySyncSource(),
    )


class _InMemoryLeadsInOrder(LeadsInOrder):
    def __init__(self, leads: Mapping[str, dict[str, Any]]) -> None:
        self._leads = leads
        self._after: str | None = None

    async def take(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        assert self._after is None or min(ids) > self._after, "ids must keep ascending"
        self._after = max(ids)
        return [self._leads[i] for i in sorted(ids) if i in self._leads]


class InMemorySyncSource(SyncSource):
    """Lead and persona documents in dicts, as the warehouse sync reads them."""

    def __init__(self) -> None:
        self.leads_by_id: dict[str, dict[str, Any]] = {}
        self.personas_by_id: dict[str, dict[str, Any]] = {}

    def _since(self, since: datetime | None) -> list[dict[str, Any]]:
        return [
            p
            for p in self.personas_by_id.values()
            if since is None or (p.get("updated_at") is not None and p["updated_at"] >= since)
        ]

    async def count_personas(self, since: datetime | None) -> int:
        return len(self._since(since))

    async def personas(
        self, since: datetime | None, *, by_id: bool, batch_size: int
    ) -> AsyncIterator[dict[str, Any]]:
        def order(p: dict[str, Any]) -> tuple[Any, ...]:
            if by_id:
                return (p["_id"],)
            return (p.get("updated_at") or datetime.min.replace(tzinfo=UTC), p["_id"])

        for persona in sorted(self._since(since), key=order):
            yield persona

    async def leads(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        return [self.leads_by_id[i] for i in ids if i in self.leads_by_id]

    def leads_in_order(self) -> LeadsInOrder:
        return _InMemoryLeadsInOrder(self.leads_by_id)

    async def lead_ids(self, batch_size: int) -> AsyncIterator[str]:
        for lead_id in sorted(self.leads_by_id):
            yield lead_id
