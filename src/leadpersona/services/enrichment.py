"""``leadpersona enrich``: leads → enrichment API → raw archive → personas.

Extract: lead ids and emails only, in id order, a page at a time read through one cursor (the
``LeadRepository``). Leads that already have a persona are skipped unless ``refresh``. Fetch:
each distinct email once per run, through the rate-limited client, unless an answer archived
within the freshness window can be reused. Transform: the pure persona rules. Load: one bulk
upsert of personas and one of enrichment states per page (``PersonaRepository``,
``EnrichmentStateRepository``), then the run's counters in the ledger. A run killed at any
point is finished by running it again: personas are upserted by lead id and only leads without
one are selected.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from leadpersona.adapters.archive import RawArchive
from leadpersona.adapters.enrichment_client import EnrichmentClient, FetchResult
from leadpersona.adapters.repositories import (
    EnrichmentOutcome,
    LeadContact,
    Repositories,
)
from leadpersona.config import Settings
from leadpersona.domain.email import normalize_email
from leadpersona.domain.persona import Persona, derive_features
from leadpersona.domain.profile import LinkedInResponse
from leadpersona.domain.runs import new_run_id
from leadpersona.domain.segmentation import person_field_of_study
from leadpersona.errors import EnrichmentError, FatalEnrichmentError
from leadpersona.mapping import FieldMapStore
from leadpersona.services.runs import ProgressCallback, RunHandle, describe_error, recorded_run
from leadpersona.services.wiring import Wired

__all__ = ["DEFAULT_BATCH", "LeadRef", "RunSummary", "enrich_leads"]

DEFAULT_BATCH = 500

#: Called with (leads done in this page, total to do or None when unknown).


#: What the pipeline reads of a lead: id and email, nothing else.
LeadRef = LeadContact


class RunSummary(BaseModel):
    """What one run did (``enrich --json`` prints exactly this)."""

    run_id: str
    status: Literal["completed", "failed", "aborted"] = "completed"
    processed: int = 0
    enriched: int = 0
    no_data: int = 0
    failed: int = 0
    skipped: int = 0
    api_calls: int = 0
    cache_hits: int = 0
    new_fields_of_study: int = 0
    duration_s: float = 0.0
    credits_left: int | None = None
    rate_limit_left: int | None = None
    error: str | None = None


def failure_verdict(summary: RunSummary, max_rate: float) -> str | None:
    """Why an enrich run that went through counts as failed, or ``None``.

    It failed when it made calls and every one failed, or when the share of failed calls is
    above ``max_rate`` (``LEADPERSONA_ENRICH_MAX_FAILURE_RATE``).
    """
    attempted = summary.enriched + summary.no_data + summary.failed
    if attempted == 0 or summary.failed == 0:
        return None
    rate = summary.failed / attempted
    if summary.failed == attempted or rate > max_rate:
        return (
            f"{summary.failed} of {attempted} enrichment calls failed"
            f" ({rate:.0%}, limit {max_rate:.0%})"
        )
    return None


@dataclass(frozen=True)
class _Answer:
    """The outcome for one email: an answer (fresh or cached) or a failure."""

    response: LinkedInResponse | None = None
    found: bool = False
    archive_id: str | None = None
    error: str | None = None


@dataclass
class _Fetched:
    """A page whose answers are in hand, waiting to be written."""

    size: int
    skipped: int
    leads_by_email: dict[str, list[str]]
    answers: dict[str, _Answer]
    fetched: list[tuple[str, FetchResult]]


class _Run:
    def __init__(
        self,
        settings: Settings,
        repositories: Repositories,
        client: EnrichmentClient,
        archive: RawArchive,
        field_maps: FieldMapStore,
        *,
        refresh: bool,
        on_progress: ProgressCallback | None,
        parent_run_id: str | None,
    ) -> None:
        self.settings = settings
        self.leads = repositories.leads
        self.store = repositories.personas
        self.states = repositories.enrichment_states
        self.runs = repositories.runs
        self.client = client
        self.archive = archive
        self.field_maps = field_maps
        self.refresh = refresh
        self.on_progress = on_progress
        self.parent_run_id = parent_run_id
        self.ledger: RunHandle | None = None
        self.rules = settings.company_type_rules
        self.summary = RunSummary(run_id=new_run_id())
        self.total: int | None = None

    async def fetch_all(
        self, emails: Sequence[str], leads_by_email: dict[str, list[str]]
    ) -> tuple[dict[str, _Answer], list[tuple[str, FetchResult]]]:
        """The page's answers: reused from the archive when fresh, else fetched (the fetched
        ones are archived by :meth:`write`, with the page)."""
        answers: dict[str, _Answer] = {}
        if self.settings.linkedin_freshness_days > 0 and emails:
            newer_than = datetime.now(UTC) - timedelta(days=self.settings.linkedin_freshness_days)
            cached = await self.archive.latest_for_emails(emails, newer_than)
            links: dict[str, list[str]] = {}
            for email, (meta, raw) in cached.items():
                reused = meta.to_result(raw)
                answers[email] = _Answer(reused.response, reused.found, meta.archive_id)
                new_leads = [i for i in leads_by_email[email] if i not in meta.lead_ids]
                if new_leads:
                    links[meta.archive_id] = new_leads
            await self.archive.link_many(links)  # one round trip for the page
            self.summary.cache_hits += len(cached)

        fetched: list[tuple[str, FetchResult]] = []

        async def fetch(email: str) -> None:
            try:
                result = await self.client.fetch_profile(email)
            except FatalEnrichmentError:
                raise  # a bad key, no credits left: every further call would fail too
            except EnrichmentError as exc:
                answers[email] = _Answer(error=str(exc))
                return
            fetched.append((email, result))

        missing = [email for email in emails if email not in answers]
        try:
            async with asyncio.TaskGroup() as group:
                for email in missing:
                    group.create_task(fetch(email))
        except* FatalEnrichmentError as errors:
            raise errors.exceptions[0] from None
        except* Exception as errors:
            # Anything else (a bug, a broken connection) stops the run as itself, not as a
            # group: callers and the CLI's error handler see the first error.
            raise errors.exceptions[0] from None
        return answers, fetched

    async def fetch_page(self, page: Sequence[LeadRef]) -> _Fetched:
        """Group the page's leads by email and get an answer for each email."""
        leads_by_email: dict[str, list[str]] = {}
        skipped = 0
        for lead in page:
            email = normalize_email(lead.email or "")
            if not email:
                skipped += 1
                continue
            leads_by_email.setdefault(email, []).append(lead.id)
        answers, fetched = await self.fetch_all(list(leads_by_email), leads_by_email)
        return _Fetched(len(page), skipped, leads_by_email, answers, fetched)

    async def write(self, page: _Fetched) -> int:
        """Archive the page's new answers, then store its personas and enrichment states; the
        number of leads the page held."""
        now = datetime.now(UTC)
        leads_by_email, answers = page.leads_by_email, page.answers
        self.summary.skipped += page.skipped
        # The page's new answers go to the archive together: a constant number of writes per
        # page instead of one upload (and its index checks) per answer.
        archived = await self.archive.put_many(
            [(result, leads_by_email[email]) for email, result in page.fetched]
        )
        for (email, result), entry in zip(page.fetched, archived, strict=True):
            answers[email] = _Answer(result.response, result.found, entry.archive_id)

        field_map = self.field_maps.load()
        # Fields of study the map must infer are classified once per page, off the event loop.
        studied = [
            study
            for answer in answers.values()
            if answer.found and answer.response is not None and answer.response.success
            for study in [person_field_of_study(answer.response.person)]
            if study is not None
        ]
        if studied:
            await asyncio.to_thread(field_map.lookup_many, studied)
        personas: list[Persona] = []
        outcomes: list[EnrichmentOutcome] = []
        discovered: list[str] = []
        for email, lead_ids in leads_by_email.items():
            answer = answers[email]
            for lead_id in lead_ids:
                if answer.error is not None:
                    self.summary.failed += 1
                    if self.ledger is not None:
                        self.ledger.add_error(lead_id=lead_id, error=answer.error)
                    outcomes.append(EnrichmentOutcome(lead_id, email, "failed", answer.error))
                    continue
                features, provenance, field_of_study = derive_features(
                    answer.response if answer.found else None, field_map, self.rules
                )
                if field_of_study is not None and not field_map.is_known(field_of_study):
                    discovered.append(field_of_study)
                status: Literal["enriched", "no_data"] = "enriched" if answer.found else "no_data"
                personas.append(
                    Persona(
                        lead_id=lead_id,
                        features=features,
                        provenance=provenance,
                        status=status,
                        field_of_study=field_of_study,
                        computed_at=now,
                        updated_at=now,
                        archive_id=answer.archive_id,
                        mapping_version=field_map.version,
                        rules_version=self.rules.version,
                    )
                )
                if answer.found:
                    self.summary.enriched += 1
                else:
                    self.summary.no_data += 1
                outcomes.append(EnrichmentOutcome(lead_id, email, status))
        if discovered:
            self.summary.new_fields_of_study += len(self.field_maps.append_unknown(discovered))
        await self.store.save_computed(personas)
        await self.states.record_attempts(outcomes, run_id=self.summary.run_id, at=now)
        self.summary.processed += sum(len(ids) for ids in leads_by_email.values())
        if self.ledger is not None:
            self.ledger.counts.update(self._counts())
            await self.ledger.checkpoint()
        return page.size

    def _counts(self) -> dict[str, Any]:
        stats = self.client.stats
        self.summary.api_calls = stats.api_calls
        self.summary.credits_left = stats.credits_left
        self.summary.rate_limit_left = stats.rate_limit_left
        return {
            **self.summary.model_dump(
                include={
                    "processed",
                    "enriched",
                    "no_data",
                    "failed",
                    "skipped",
                    "api_calls",
                    "cache_hits",
                    "new_fields_of_study",
                }
            ),
            "retries": stats.retries,
            "rate_limited": stats.rate_limited,
        }

    async def to_do(self, limit: int | None) -> int:
        total = await self.leads.count()
        if not self.refresh:
            total -= await self.store.count_all()
        total = max(total, 0)
        return total if limit is None else min(total, limit)

    def _details(self, limit: int | None) -> dict[str, Any]:
        return {
            "refresh": self.refresh,
            "limit": limit,
            "settings": {
                "api": "mock" if self.settings.uses_mock_api else self.settings.linkedin_api_url,
                "rate_limit": self.settings.effective_rate_limit,
                "concurrency": self.settings.linkedin_concurrency,
                "freshness_days": self.settings.linkedin_freshness_days,
                "rules": self.rules.version,
                "archive": self.settings.archive_backend,
            },
        }

    async def run(self, *, limit: int | None, batch_size: int) -> RunSummary:
        started = time.perf_counter()
        async with recorded_run(
            self.runs,
            "enrich",
            parent_id=self.parent_run_id,
            details=self._details(limit),
            run_id=self.summary.run_id,
        ) as ledger:
            self.ledger = ledger
            try:
                await self._pages(limit, batch_size)
                verdict = failure_verdict(self.summary, self.settings.enrich_max_failure_rate)
                if verdict is not None:
                    self.summary.status, self.summary.error = "failed", verdict
                    ledger.fail(verdict)
            except FatalEnrichmentError as exc:
                # Nothing of the page in flight was written: the run gave up, it did not fail.
                self.summary.status, self.summary.error = "aborted", str(exc)
                ledger.abort(str(exc))
                raise
            except Exception as exc:
                if self.runs.stops_run(exc):
                    self.summary.status = "aborted"
                    self.summary.error = f"interrupted: {type(exc).__name__}"
                else:
                    self.summary.status, self.summary.error = "failed", describe_error(exc)
                raise
            except BaseException as exc:  # Ctrl-C, cancellation
                self.summary.status = "aborted"
                self.summary.error = f"interrupted: {type(exc).__name__}"
                raise
            finally:
                self.summary.duration_s = round(time.perf_counter() - started, 3)
                ledger.counts.update(self._counts())
        return self.summary

    async def _pages(self, limit: int | None, batch_size: int) -> None:
        """Page by page; a page's answers are fetched while the previous page is written (one
        write in flight), so the API is not left idle while the database works."""
        self.total = await self.to_do(limit)
        remaining = limit
        writing: asyncio.Task[int] | None = None
        leads_written = 0
        written_emails: set[str] = set()

        async def written() -> None:
            # Progress is reported here, on the run's own task: a callback that raises (Ctrl-C)
            # must stop the run, not a background task.
            nonlocal writing, leads_written
            if writing is not None:
                leads_written += await writing
                writing = None
                if self.on_progress is not None:
                    self.on_progress(leads_written, self.total)

        try:
            async for page in self.leads.contact_pages(batch_size):
                if not self.refresh:
                    done = await self.store.existing_ids([lead.id for lead in page])
                    page = [lead for lead in page if lead.id not in done]
                if remaining is not None:
                    page = page[:remaining]
                    remaining -= len(page)
                if page:
                    emails = {normalize_email(lead.email or "") for lead in page}
                    if emails & written_emails:
                        # An email of the page being written: wait for its answer to be
                        # archived, so that it is reused, not asked for again.
                        await written()
                    fetched = await self.fetch_page(page)
                    await written()
                    writing = asyncio.ensure_future(self.write(fetched))
                    written_emails = set(fetched.leads_by_email)
                if remaining == 0:
                    break
            await written()
        finally:
            if writing is not None and not writing.done():
                # Stopped while a page was being written: let that write finish (its answers
                # were paid for), then the error that stopped the run goes on.
                with contextlib.suppress(Exception):
                    await asyncio.shield(writing)


async def enrich_leads(
    settings: Settings,
    adapters: Wired,
    *,
    limit: int | None = None,
    refresh: bool = False,
    batch_size: int = DEFAULT_BATCH,
    on_progress: ProgressCallback | None = None,
    parent_run_id: str | None = None,
) -> RunSummary:
    """Enrich leads without a persona (all of them with ``refresh``), at most ``limit``.

    Reads leads and writes personas and enrichment states through ``adapters.repositories`` a
    page at a time, asking ``adapters.client`` and keeping its answers in ``adapters.archive``;
    the run is recorded in ``adapters.repositories.runs``, as a step of ``parent_run_id`` when
    given. Raises ``FatalEnrichmentError`` (``AuthenticationError`` for a refused key; the run
    is recorded as aborted and nothing of the page in flight is written) when the API cannot
    be used any more; any other error ends the run as ``failed`` and is raised as itself.
    """
    await adapters.archive.ensure_indexes()
    run = _Run(
        settings,
        adapters.repositories,
        adapters.client,
        adapters.archive,
        adapters.field_maps,
        refresh=refresh,
        on_progress=on_progress,
        parent_run_id=parent_run_id,
    )
    return await run.run(limit=limit, batch_size=batch_size)
