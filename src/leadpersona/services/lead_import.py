"""``leadpersona leads import``: a CSV of leads into ``leads``, rejects into ``quarantine``.

The file is streamed in batches: memory holds one batch (and, during a dry run, a 64-bit
digest per distinct valid email), never the whole file. Each batch is validated, deduplicated
by normalised email, inserted unordered behind claims on the email keys, its rejects
quarantined with every reason, and the import's counters checkpointed in the import ledger
(keyed by the file's SHA-256). An import is marked complete only after its last batch:
re-running an interrupted one resumes after the last checkpoint, and rows written after it are
recognised (their lead ids derive from the file hash and row number) rather than inserted
twice. Leads, imports, quarantine and runs are reached through the repositories of
``adapters/repositories.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from leadpersona.adapters.lead_csv import LeadFile, iter_records, scan_lead_file
from leadpersona.adapters.repositories import (
    EmailOwner,
    ImportedLead,
    NewImport,
    Repositories,
)
from leadpersona.domain.email import normalize_email
from leadpersona.domain.lead_rows import (
    DUPLICATE_EXISTING,
    DUPLICATE_IN_FILE,
    ColumnLayout,
    RowVerdict,
    derived_uuid4_hex,
    duplicate_reason,
    email_digest,
    match_header,
    validate_row,
)
from leadpersona.domain.runs import QuarantineReason, QuarantineRecord
from leadpersona.errors import InvalidInput, LeadFileError
from leadpersona.services.runs import ProgressCallback, recorded_run

__all__ = [
    "ImportReport",
    "import_lead_file",
    "lead_id_for_row",
]

#: Called after each batch with (rows done, rows in the file).

_DUPLICATE_CODES = (DUPLICATE_IN_FILE, DUPLICATE_EXISTING)
_COUNTERS = ("read", "blank_rows", "inserted", "duplicates_in_file", "duplicates_existing")


class ImportReport(BaseModel):
    """What an import did (or, with ``dry_run``, would do)."""

    file: str
    sha256: str
    read: int = 0
    inserted: int = 0
    duplicates_in_file: int = 0
    duplicates_existing: int = 0
    quarantined: int = 0
    by_reason: dict[str, int] = Field(default_factory=dict)
    already_imported: bool = False
    dry_run: bool = False
    blank_rows: int = 0
    resumed_from_row: int = 0
    delimiter: str = ","
    columns: list[str] = Field(default_factory=list)
    extra_columns: list[str] = Field(default_factory=list)
    imported_at: datetime | None = None


def lead_id_for_row(sha256: str, row: int) -> str:
    """The id a lead imported from row ``row`` of the file with this hash gets."""
    return derived_uuid4_hex("lead-import", sha256, row)


def _batches(
    records: Iterable[tuple[int, int, list[str]]], size: int
) -> Iterator[list[tuple[int, int, list[str]]]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def _key(verdict: RowVerdict) -> str:
    return normalize_email(verdict.email or "")


class _Importer:
    def __init__(
        self,
        repositories: Repositories,
        lead_file: LeadFile,
        layout: ColumnLayout,
        report: ImportReport,
        *,
        dry_run: bool,
    ) -> None:
        self.leads = repositories.leads
        self.quarantine = repositories.quarantine
        self.run_id: str | None = None
        self.imports = repositories.imports
        self.file = lead_file
        self.layout = layout
        self.report = report
        self.dry_run = dry_run
        self.seen: set[int] = set()  # dry run only: digests of the emails accepted so far
        self.by_reason: Counter[str] = Counter(report.by_reason)

    # -- one batch -----------------------------------------------------------------------

    def next_batch(
        self, batches: Iterator[list[tuple[int, int, list[str]]]]
    ) -> tuple[int, list[RowVerdict], int] | None:
        """Read and validate the next batch: (its last row, verdicts, blank rows), or None.

        Pure CPU and file reading, touching no shared state: it runs in a worker thread while
        the event loop waits for the server to write the previous batch.
        """
        batch = next(batches, None)
        if batch is None:
            return None
        verdicts = []
        blank = 0
        for row, line, cells in batch:
            if not any(cell.strip() for cell in cells):
                blank += 1
                continue
            verdicts.append(validate_row(cells, self.layout, row=row, line=line))
        return batch[-1][0], verdicts, blank

    async def write(self, verdicts: list[RowVerdict], blank: int, last_row: int) -> None:
        report = self.report
        report.read += len(verdicts)
        report.blank_rows += blank
        # Within the batch, the first valid row of an email stands for the others: they are
        # duplicates of whatever it turns out to duplicate, else of it.
        owners: dict[str, RowVerdict] = {}
        followers: list[tuple[RowVerdict, RowVerdict]] = []
        for verdict in verdicts:
            if verdict.email is None or not verdict.accepted:
                continue
            email = normalize_email(verdict.email)
            owner = owners.get(email)
            if owner is None:
                owners[email] = verdict
            else:
                followers.append((verdict, owner))
        candidates = list(owners.values())
        if self.dry_run:
            await self._forecast(candidates)
        else:
            await self._insert(candidates)
        for follower, owner in followers:
            inherited = [r for r in owner.reasons if r.code in _DUPLICATE_CODES]
            follower.reasons.extend(
                inherited
                or [
                    duplicate_reason(
                        DUPLICATE_IN_FILE, follower.email or "", f"already in row {owner.row}"
                    )
                ]
            )

        rejected = [verdict for verdict in verdicts if verdict.reasons]
        for verdict in rejected:
            codes = {reason.code for reason in verdict.reasons}
            self.by_reason.update(codes)
            report.duplicates_in_file += DUPLICATE_IN_FILE in codes
            report.duplicates_existing += DUPLICATE_EXISTING in codes
        report.quarantined += len(rejected)
        report.by_reason = dict(sorted(self.by_reason.items()))
        if not self.dry_run:
            await self.quarantine.add([self._quarantine_record(v) for v in rejected])
            await self._checkpoint(last_row)

    def _lead(self, verdict: RowVerdict) -> ImportedLead:
        assert verdict.lead is not None
        return ImportedLead(
            lead_id=lead_id_for_row(self.report.sha256, verdict.row),
            fields=dict(verdict.lead),
            import_id=self.report.sha256,
            row=verdict.row,
            extra=dict(verdict.extra),
        )

    def _classify(self, verdict: RowVerdict, existing: EmailOwner | None) -> bool:
        """Handle a row whose email is already stored; True if the stored lead is this row's."""
        email = verdict.email or ""
        if existing is not None:
            if existing.lead_id == lead_id_for_row(self.report.sha256, verdict.row):
                return True  # written by an interrupted run of this import
            if existing.import_id is not None and existing.import_id == self.report.sha256:
                where = f"already in row {existing.row}"
                verdict.reasons.append(duplicate_reason(DUPLICATE_IN_FILE, email, where))
                return False
        verdict.reasons.append(
            duplicate_reason(DUPLICATE_EXISTING, email, "is already a lead in the database")
        )
        return False

    async def _existing(self, verdicts: list[RowVerdict]) -> dict[str, EmailOwner]:
        """The stored lead owning each verdict's email key, by key."""
        return await self.leads.email_owners([_key(v) for v in verdicts])

    async def _insert(self, candidates: list[RowVerdict]) -> None:
        # Claim each email key first, then write the leads that won their claim: a crash in
        # between leaves claims naming this import's own lead ids, which the re-run writes.
        sha = self.report.sha256
        losers = set(
            await self.leads.claim_email_keys(
                [(_key(v), lead_id_for_row(sha, v.row), v.email or "") for v in candidates]
            )
        )
        winners = [v for i, v in enumerate(candidates) if i not in losers]
        # A lead already there under its own id was written by an interrupted run: it counts.
        await self.leads.add_imported([self._lead(v) for v in winners])
        self.report.inserted += len(winners)
        clashes = [candidates[index] for index in sorted(losers)]
        existing = await self._existing(clashes)
        for verdict in clashes:
            if self._classify(verdict, existing.get(_key(verdict))):
                self.report.inserted += 1

    async def _forecast(self, candidates: list[RowVerdict]) -> None:
        # Only emails that are new to the database are remembered: a later row with an email
        # that belongs to an existing lead duplicates that lead, as in a real import.
        fresh = []
        for verdict in candidates:
            if email_digest(_key(verdict)) in self.seen:
                verdict.reasons.append(
                    duplicate_reason(
                        DUPLICATE_IN_FILE, verdict.email or "", "already earlier in the file"
                    )
                )
            else:
                fresh.append(verdict)
        existing = await self._existing(fresh)
        for verdict in fresh:
            document = existing.get(_key(verdict))
            if document is None or self._classify(verdict, document):
                self.report.inserted += 1
            if not any(r.code == DUPLICATE_EXISTING for r in verdict.reasons):
                self.seen.add(email_digest(_key(verdict)))

    def _quarantine_record(self, verdict: RowVerdict) -> QuarantineRecord:
        return QuarantineRecord(
            id=f"{self.report.sha256}:{verdict.row}",
            source="leads",
            batch_id=self.report.sha256,
            run_id=self.run_id,
            location=self.report.file,
            row=verdict.row,
            line=verdict.line,
            raw=verdict.raw(self.layout),
            reasons=[QuarantineReason(**reason.as_dict()) for reason in verdict.reasons],
            quarantined_at=datetime.now(UTC),
        )

    # -- progress in ``imports`` -------------------------------------------------------------

    def run_counts(self) -> dict[str, Any]:
        """The counters recorded with the import's run in the ledger."""
        return {**self._counters(), "records": self.file.records}

    def _counters(self) -> dict[str, Any]:
        values: dict[str, Any] = {name: getattr(self.report, name) for name in _COUNTERS}
        values["quarantined"] = self.report.quarantined
        values["by_reason"] = self.report.by_reason
        return values

    async def _checkpoint(self, rows_done: int) -> None:
        await self.imports.checkpoint(
            self.report.sha256, counters=self._counters(), rows_done=rows_done
        )

    async def finish(self) -> None:
        now = datetime.now(UTC)
        await self.imports.complete(self.report.sha256, at=now)
        self.report.imported_at = now


async def _start_or_resume(
    repositories: Repositories, report: ImportReport, lead_file: LeadFile
) -> int:
    """Create the import's record, or pick up an interrupted one; return the rows to skip."""
    progress = await repositories.imports.start_or_resume(
        NewImport(
            sha256=report.sha256,
            file=report.file,
            delimiter=report.delimiter,
            columns=report.columns,
            extra_columns=report.extra_columns,
            records=lead_file.records,
            counters=dict.fromkeys((*_COUNTERS, "quarantined"), 0),
            started_at=datetime.now(UTC),
        )
    )
    if progress is None:
        return 0
    for name, value in progress.counters.items():
        setattr(report, name, value)
    report.by_reason = dict(progress.by_reason)
    return progress.rows_done


async def _read_and_write(
    importer: _Importer,
    lead_file: LeadFile,
    skip: int,
    batch_size: int,
    on_progress: ProgressCallback | None,
) -> None:
    batches = _batches(iter_records(lead_file, skip=skip), batch_size)
    # Batch n+1 is read and validated in a thread while batch n is written: two batches in
    # memory at most, and validation overlaps the server's work.
    upcoming = asyncio.ensure_future(asyncio.to_thread(importer.next_batch, batches))
    try:
        while (current := await upcoming) is not None:
            last_row, verdicts, blank = current
            upcoming = asyncio.ensure_future(asyncio.to_thread(importer.next_batch, batches))
            await importer.write(verdicts, blank, last_row=last_row)
            if on_progress is not None:
                on_progress(last_row, lead_file.records)
    finally:
        if not upcoming.done():
            upcoming.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await upcoming  # retrieve its outcome: nothing is left pending or unreported


async def import_lead_file(
    repositories: Repositories,
    path: Path,
    *,
    dry_run: bool = False,
    batch_size: int = 1000,
    on_progress: ProgressCallback | None = None,
    parent_run_id: str | None = None,
) -> ImportReport:
    """Import a CSV of leads; see the module docstring.

    Raises ``LeadFileError`` (nothing written) when the file cannot be read, is not UTF-8 or
    has no email column, and ``InvalidInput`` for a batch size below 1.
    """
    if batch_size < 1:
        raise InvalidInput(f"batch size must be at least 1, not {batch_size}")
    lead_file = scan_lead_file(path)
    try:
        layout = match_header(lead_file.header)
    except ValueError as exc:
        raise LeadFileError(f"{path}: {exc}") from None
    report = ImportReport(
        file=path.name,
        sha256=lead_file.sha256,
        dry_run=dry_run,
        delimiter=lead_file.delimiter,
        columns=list(layout.positions),
        extra_columns=layout.extra_columns,
    )
    previous = await repositories.imports.find(lead_file.sha256)
    if previous is not None and previous.status == "complete":
        report.already_imported = True
        report.imported_at = previous.finished_at
        return report

    skip = 0
    if not dry_run:
        await repositories.leads.register_email_keys()
        skip = await _start_or_resume(repositories, report, lead_file)
        report.resumed_from_row = skip
    importer = _Importer(repositories, lead_file, layout, report, dry_run=dry_run)
    if dry_run:
        await _read_and_write(importer, lead_file, skip, batch_size, on_progress)
        return report
    async with recorded_run(
        repositories.runs,
        "import",
        parent_id=parent_run_id,
        details={"file": report.file, "sha256": report.sha256, "resumed_from_row": skip},
    ) as run:
        importer.run_id = run.id
        try:
            await _read_and_write(importer, lead_file, skip, batch_size, on_progress)
            await importer.finish()
        finally:
            run.counts.update(importer.run_counts())
    return report
