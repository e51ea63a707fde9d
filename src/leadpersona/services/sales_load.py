"""``leadpersona sales load``: sales sources → cleaning → star schema, measured per source.

For each source in turn (the API, the file inbox, the shop database): its committed
checkpoints are read, and each batch it hands over is cleaned (:class:`SalesCleaner`, one code
for every source) and written with its quarantine, counts and checkpoint in one transaction
(:class:`SalesWriter`). On PostgreSQL batch N+1 is read and cleaned while batch N gets its
dimension rows and claims its keys and batch N-1 is written, and one sales load runs at a time
per warehouse (an advisory lock; a second one waits). A load killed at any point is finished
by the next one; the same load run twice stores nothing twice.

Before the sources, lead and persona changes the warehouse holds are applied to
``dim_customer`` (type 2). Batches mark the months they changed stale; their ``sales_monthly``
rows are rebuilt once after the sources (and before them, finishing a load that was killed).
After each source, its quality is measured: completeness (required cells present), validity
(records not quarantined), uniqueness (valid records that were not duplicates) and freshness
(hours since the end of its newest order day); a measure below its bound raises an alert. A
source that fails does not stop the others; the load then fails with the first error once they
are done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Engine

from leadpersona.adapters.repositories import RunRepository
from leadpersona.adapters.warehouse.engine import ensure_schema, warehouse_errors
from leadpersona.adapters.warehouse.sales_load import (
    BatchCounts,
    PreparedLines,
    QuarantineRow,
    SalesWriter,
    analyze_partitions,
    exclusive_load,
    finish_stale,
    read_checkpoints,
    rebuild_stale,
    refresh_customers,
    refresh_statistics,
    refresh_summary_statistics,
)
from leadpersona.config import Settings
from leadpersona.errors import ConfigError, LeadPersonaError
from leadpersona.sales.cleaning import Cleaned, SalesCleaner
from leadpersona.sales.records import REQUIRED_FIELDS, SOURCE_NAMES, SalesSource, SourceBatch
from leadpersona.services.alerts import Alert, Alerts
from leadpersona.services.runs import describe_error, recorded_run
from leadpersona.services.wiring import SalesSources, SourceFactory, SourceWindow

__all__ = [
    "DEFAULT_API_DAYS",
    "SalesLoadReport",
    "SourceReport",
    "api_range",
    "load_sales",
]

_log = logging.getLogger(__name__)

#: A load that stores at least this many lines refreshes the planner's statistics of the star
#: schema (PostgreSQL), so the reports that follow are planned on what is there now.
ANALYZE_AFTER = 10_000

#: Days the API is read for when no range is given and nothing was loaded from it before.
DEFAULT_API_DAYS = 7

Progress = Callable[[str, int], None]


class SourceReport(BaseModel):
    """One source in one load (``read`` = ``loaded`` + ``quarantined`` + ``duplicates``)."""

    source: str
    status: str = "completed"
    read: int = 0
    loaded: int = 0
    inserted: int = 0
    updated: int = 0
    quarantined: int = 0
    duplicates: int = 0
    files_failed: int = 0
    completeness: float = 1.0
    validity: float = 1.0
    uniqueness: float = 1.0
    newest_order_date: date | None = None
    freshness_hours: float | None = None
    error: str | None = None


class SalesLoadReport(BaseModel):
    """What ``leadpersona sales load --json`` prints."""

    run_id: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    sources: dict[str, SourceReport] = Field(default_factory=dict)
    customers_changed: int = 0
    alerts: list[Alert] = Field(default_factory=list)
    seconds: float = 0.0

    def totals(self) -> dict[str, int]:
        """Counts summed over the sources."""
        names = ("read", "loaded", "inserted", "updated", "quarantined", "duplicates")
        return {n: sum(getattr(s, n) for s in self.sources.values()) for n in names}


def api_range(
    checkpoints: dict[str, dict[str, Any]],
    today: date,
    start_date: date | None,
    end_date: date | None,
) -> tuple[date, date]:
    """The API date range to load: as given; else from the day after the last range read to
    the end (today by default), or the last :data:`DEFAULT_API_DAYS` days the first time."""
    end = end_date or (start_date if start_date and start_date > today else today)
    if start_date is not None:
        return start_date, end
    ends = []
    for key, state in checkpoints.items():
        parts = key.split(":")
        if state.get("done") and len(parts) == 3:
            try:
                ends.append(date.fromisoformat(parts[2]))
            except ValueError:
                continue
    done = [day for day in ends if day < today]
    start = max(done) + timedelta(days=1) if done else end - timedelta(days=DEFAULT_API_DAYS - 1)
    return min(start, end), end


def _add(report: SourceReport, counts: BatchCounts) -> None:
    report.read += counts.read
    report.inserted += counts.inserted
    report.updated += counts.updated
    report.loaded += counts.loaded
    report.quarantined += counts.quarantined
    report.duplicates += counts.duplicates


def _finish(
    report: SourceReport, present: int, required: int, newest: date | None, now: datetime
) -> None:
    report.completeness = round(present / required, 4) if required else 1.0
    report.validity = (
        round((report.read - report.quarantined) / report.read, 4) if report.read else 1.0
    )
    valid = report.read - report.quarantined
    report.uniqueness = round(report.loaded / valid, 4) if valid else 1.0
    report.newest_order_date = newest
    if newest is not None:
        end_of_day = datetime.combine(newest + timedelta(days=1), clock.min, tzinfo=UTC)
        report.freshness_hours = round(max((now - end_of_day).total_seconds(), 0) / 3600, 2)


def _rejected(batch: SourceBatch, cleaned: Cleaned) -> list[QuarantineRow]:
    return [
        QuarantineRow(
            location=batch.location,
            row=batch.first_row + item.position,
            line=item.line,
            raw=item.raw,
            reasons=[reason.model_dump() for reason in item.reasons],
        )
        for item in cleaned.rejected
    ]


class _Finisher:
    """Finishes the months a load changed while the load goes on (PostgreSQL only: SQLite's
    writers take turns). Once no batch in flight touches a month a committed batch changed,
    its ``sales_monthly`` rows are rebuilt and, when the load has stored
    :data:`ANALYZE_AFTER` lines, its partition analysed: one month per transaction, on a
    connection of its own, while the next batches are written. Lines that arrive in date order
    (a backfill, the API's pages, the shop database by ``updated_at``) leave only the last
    batches' months to the end of the load; a month changed again is finished again."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.enabled = engine.dialect.name == "postgresql"
        #: Months changed by committed batches and not finished since.
        self.changed: set[int] = set()
        #: Months whose partition was analysed after their last change.
        self.analysed: set[int] = set()
        self._stored = 0
        self._task: asyncio.Future[list[int]] | None = None
        self._changed_meanwhile: set[int] = set()

    def committed(self, counts: BatchCounts) -> None:
        """A batch that changed ``counts.months`` committed."""
        self.changed |= counts.months
        self.analysed -= counts.months
        self._stored += counts.loaded
        if self._task is not None:
            self._changed_meanwhile |= counts.months

    async def start(self, in_flight: set[int]) -> None:
        """Finish the changed months outside ``in_flight`` (those of the batches being written),
        unless the months started last are still being finished."""
        if not self.enabled:
            return
        if self._task is not None:
            if not self._task.done():
                return
            await self.wait()
        ready = sorted(self.changed - in_flight)
        if ready:
            self.changed -= set(ready)
            analyze = self._stored >= ANALYZE_AFTER
            self._task = asyncio.ensure_future(asyncio.to_thread(self._finish, ready, analyze))

    async def wait(self) -> None:
        """Wait for the months being finished (raising what failed)."""
        task, self._task = self._task, None
        if task is None:
            return
        analysed = await task
        self.analysed |= set(analysed) - self._changed_meanwhile
        self._changed_meanwhile.clear()

    def _finish(self, months: list[int], analyze: bool) -> list[int]:
        with warehouse_errors(str(self.engine.url)):
            for month in months:
                with self.engine.begin() as connection:
                    rebuild_stale(connection, [month])
                if analyze:
                    with self.engine.begin() as connection:
                        analyze_partitions(connection, [month])
        return months if analyze else []


class _Load:
    def __init__(
        self, engine: Engine, writer: SalesWriter, cleaner: SalesCleaner, finisher: _Finisher
    ) -> None:
        self.engine = engine
        self.writer = writer
        self.cleaner = cleaner
        self.finisher = finisher
        # The write of a staged batch, which stores keys in its own transaction: the next
        # batch claims its keys only once it is over.
        self._staged: asyncio.Future[BatchCounts] | None = None

    def _clean(self, batch: SourceBatch) -> Cleaned:
        return self.cleaner.clean(batch.records, lines=batch.lines)

    def _prepare(self, batch: SourceBatch, cleaned: Cleaned) -> PreparedLines | None:
        """On PostgreSQL, make the dimension rows of a cleaned batch and encode its facts, in
        a transaction of their own, while the previous batch is being written (on SQLite,
        whose writers take turns, the batch's own transaction does it)."""
        if self.engine.dialect.name != "postgresql" or not cleaned.lines.num_rows:
            return None
        with warehouse_errors(str(self.engine.url)), self.engine.begin() as connection:
            return self.writer.prepare(connection, cleaned.lines, batch.source)

    def _claim(self, prepared: PreparedLines) -> None:
        with warehouse_errors(str(self.engine.url)), self.engine.begin() as connection:
            self.writer.claim(connection, prepared)

    async def _prepared(self, batch: SourceBatch, cleaned: Cleaned) -> PreparedLines | None:
        """:meth:`_prepare`, then the batch's keys claimed in a transaction of their own, once
        no staged batch is being written."""
        prepared = await asyncio.to_thread(self._prepare, batch, cleaned)
        if prepared is not None:
            if self._staged is not None:
                await asyncio.wait([self._staged])  # its outcome is the writer's to report
            await asyncio.to_thread(self._claim, prepared)
        return prepared

    def _write(
        self, batch: SourceBatch, cleaned: Cleaned, prepared: PreparedLines | None
    ) -> BatchCounts:
        with warehouse_errors(str(self.engine.url)), self.engine.begin() as connection:
            return self.writer.write_batch(
                connection,
                source=batch.source,
                lines=cleaned.lines,
                prepared=prepared,
                rejected=_rejected(batch, cleaned),
                read=cleaned.read,
                duplicates=cleaned.duplicates,
                cells_present=cleaned.cells_present,
                cells_required=cleaned.read * len(REQUIRED_FIELDS),
                checkpoint_key=batch.checkpoint_key,
                checkpoint=batch.checkpoint,
            )

    async def _cleaned(
        self, source: SalesSource, state: dict[str, dict[str, Any]]
    ) -> AsyncGenerator[tuple[SourceBatch, Cleaned, PreparedLines | None], None]:
        """The source's batches, cleaned and prepared: batch N+1 is read and cleaned while N
        is prepared (and N-1 written)."""
        batches = source.batches(state)

        async def read_and_clean() -> tuple[SourceBatch, Cleaned] | None:
            batch = await anext(batches, None)
            if batch is None:
                return None
            return batch, await asyncio.to_thread(self._clean, batch)

        upcoming = asyncio.ensure_future(read_and_clean())
        try:
            while (item := await upcoming) is not None:
                batch, cleaned = item
                upcoming = asyncio.ensure_future(read_and_clean())
                yield batch, cleaned, await self._prepared(batch, cleaned)
        finally:
            if not upcoming.done():
                upcoming.cancel()
            with contextlib.suppress(BaseException):  # the error raised is the first one
                await upcoming
            close = getattr(batches, "aclose", None)
            if close is not None:
                await close()

    async def run(
        self,
        source: SalesSource,
        report: SourceReport,
        state: dict[str, dict[str, Any]],
        on_progress: Progress | None,
    ) -> tuple[int, int]:
        """Load every batch of ``source``: batch N+1 is read, cleaned and prepared while N is
        written."""
        present = required = 0
        pending: asyncio.Task[BatchCounts] | None = None
        pending_batch: SourceBatch | None = None

        async def settle() -> None:
            nonlocal pending, pending_batch, present, required
            if pending is None or pending_batch is None:
                return
            counts = await pending
            self.finisher.committed(counts)
            await source.committed(pending_batch)
            _add(report, counts)
            present += counts.cells_present
            required += counts.cells_required
            if on_progress is not None:
                on_progress(source.name, report.read)
            pending = pending_batch = None

        try:
            async with contextlib.aclosing(self._cleaned(source, state)) as batches:
                async for batch, cleaned, prepared in batches:
                    await settle()
                    pending_batch = batch
                    pending = asyncio.ensure_future(
                        asyncio.to_thread(self._write, batch, cleaned, prepared)
                    )
                    # A staged batch stores keys itself: the next claim waits for its end.
                    staged = prepared is not None and prepared.claimed is False
                    self._staged = pending if staged else None
                    in_flight = {day // 100 for day in prepared.days} if prepared else set()
                    await self.finisher.start(in_flight)
            await settle()
        finally:
            if pending is not None:
                # A failure while reading: the batch being written still commits (or not) as
                # a whole; wait for it so the checkpoint and the file move agree.
                with contextlib.suppress(Exception):  # the first error is the one raised
                    await settle()
        return present, required


async def load_sales(
    settings: Settings,
    *,
    runs: RunRepository,
    sources: SalesSources,
    start_date: date | None = None,
    end_date: date | None = None,
    engine: Engine,
    now: datetime | None = None,
    alerts: Alerts | None = None,
    parent_run_id: str | None = None,
    on_progress: Progress | None = None,
) -> SalesLoadReport:
    """Load ``sources`` (opened by name, in order: ``bootstrap.sales_sources`` chooses them
    from the settings); see the module docstring.

    Recorded as a ``sales_load`` run (a step of ``parent_run_id`` when given) with the counts
    per source.
    """
    started = time.perf_counter()
    fixed = now

    def clock_now() -> datetime:
        return fixed if fixed is not None else datetime.now(UTC)

    today = clock_now().date()
    names = list(sources)
    for name in names:
        if name not in SOURCE_NAMES:
            raise ConfigError(
                f"unknown sales source {name!r}: use one of {', '.join(SOURCE_NAMES)}"
            )
    if start_date and end_date and end_date < start_date:
        raise ConfigError("--end-date is before --start-date")
    alerts = alerts or Alerts(settings.alert_webhook, runs=runs)
    report = SalesLoadReport()
    async with recorded_run(
        runs,
        "sales_load",
        parent_id=parent_run_id,
        details={
            "sources": names,
            "start_date": start_date and start_date.isoformat(),
            "end_date": end_date and end_date.isoformat(),
        },
    ) as run:
        report.run_id = run.id
        await asyncio.to_thread(ensure_schema, engine)
        async with exclusive_load(engine, _waiting):

            def prepare() -> tuple[int, dict[str, dict[str, Any]]]:
                with warehouse_errors(str(engine.url)):
                    finish_stale(engine)  # what a killed load left
                with warehouse_errors(str(engine.url)), engine.begin() as connection:
                    changed = refresh_customers(connection, today)
                    return changed, read_checkpoints(connection, "api")

            report.customers_changed, api_state = await asyncio.to_thread(prepare)
            if "api" in names:
                report.start_date, report.end_date = api_range(
                    api_state, today, start_date, end_date
                )
            writer = SalesWriter(run.id)
            cleaner = SalesCleaner(today=today)
            finisher = _Finisher(engine)
            load = _Load(engine, writer, cleaner, finisher)
            failures: list[str] = []
            try:
                async with AsyncExitStack() as stack:
                    window = SourceWindow(
                        start_date=report.start_date or today,
                        end_date=report.end_date or today,
                        stack=stack,
                    )
                    for name in names:
                        source_report = SourceReport(source=name)
                        report.sources[name] = source_report
                        await _load_source(
                            load,
                            name,
                            sources[name],
                            window,
                            source_report,
                            clock_now,
                            on_progress,
                            failures,
                        )
                        run.counts[name] = source_report.model_dump(
                            mode="json",
                            include={"read", "loaded", "quarantined", "duplicates", "status"},
                        )
            finally:
                cleaner.close()
                await finisher.wait()
            await _close_load(
                engine,
                writer.months - finisher.analysed,
                report.totals()["loaded"] >= ANALYZE_AFTER,
            )
            for name, source_report in report.sources.items():
                for alert in _quality_alerts(settings, name, source_report, run.id):
                    await alerts.raise_alert(alert)
                    report.alerts.append(alert)
            if failures:
                raise LeadPersonaError(failures[0])
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _waiting() -> None:
    _log.warning("another sales load is running on this warehouse: waiting for it to finish")


async def _close_load(engine: Engine, months: set[int], analyze: bool) -> None:
    """Rebuild the stale months of ``sales_monthly`` and, when ``analyze``, refresh the
    planner's statistics of what the load changed: on two connections at once (both are
    mostly one core's work on the server), ``sales_monthly``'s own statistics last."""
    with warehouse_errors(str(engine.url)):
        if not analyze:
            await asyncio.to_thread(finish_stale, engine)
            return
        await asyncio.gather(
            asyncio.to_thread(finish_stale, engine),
            asyncio.to_thread(refresh_statistics, engine, months, summary=False),
        )
        await asyncio.to_thread(refresh_summary_statistics, engine)


async def _load_source(
    load: _Load,
    name: str,
    factory: SourceFactory,
    window: SourceWindow,
    report: SourceReport,
    clock_now: Callable[[], datetime],
    on_progress: Progress | None,
    failures: list[str],
) -> None:
    engine = load.engine
    today = clock_now().date()

    def checkpoints() -> dict[str, dict[str, Any]]:
        with warehouse_errors(str(engine.url)), engine.connect() as connection:
            state = read_checkpoints(connection, name)
        if name == "api":
            # Ranges that reach today (or later) are read again: their days are not over.
            state = {
                key: value
                for key, value in state.items()
                if not key.startswith("api:") or key.rsplit(":", 1)[-1] < today.isoformat()
            }
        return state

    error: str | None = None
    present = required = 0
    source: SalesSource | None = None
    try:
        source = await factory(window)
        state = await asyncio.to_thread(checkpoints)
        present, required = await load.run(source, report, state, on_progress)
    except LeadPersonaError as exc:
        error = f"sales source {name}: {exc}"
    except (OSError, ValueError) as exc:
        error = f"sales source {name}: {describe_error(exc)}"
    finally:
        if source is not None:
            await source.aclose()
    failed_files = getattr(source, "failures", None) or []
    report.files_failed = len(failed_files)
    report.status = "failed" if error else "completed"
    report.error = error
    if error:
        failures.append(error)

    def finish() -> date | None:
        with warehouse_errors(str(engine.url)), engine.begin() as connection:
            if failed_files:
                load.writer.add_counts(
                    connection, name, BatchCounts(), files_failed=len(failed_files)
                )
            return load.writer.finish_source(connection, name, status=report.status, error=error)

    newest = await asyncio.to_thread(finish)
    _finish(report, present, required, newest, clock_now())


def _quality_alerts(
    settings: Settings, name: str, report: SourceReport, run_id: str
) -> list[Alert]:
    found = []
    if report.read and report.validity < settings.sales_min_validity:
        found.append(
            Alert(
                kind="quality",
                run_id=run_id,
                message=(
                    f"sales source {name}: validity {report.validity:.1%} is below "
                    f"{settings.sales_min_validity:.0%} ({report.quarantined} of "
                    f"{report.read} records quarantined)"
                ),
            )
        )
    if (
        report.freshness_hours is not None
        and report.freshness_hours > settings.sales_freshness_hours
    ):
        found.append(
            Alert(
                kind="freshness",
                run_id=run_id,
                message=(
                    f"sales source {name}: newest order is from {report.newest_order_date}, "
                    f"{report.freshness_hours:.0f} h old (bound "
                    f"{settings.sales_freshness_hours:.0f} h)"
                ),
            )
        )
    if report.files_failed:
        found.append(
            Alert(
                kind="quality",
                run_id=run_id,
                message=(
                    f"sales source {name}: {report.files_failed} file(s) could not be read "
                    "(moved to failed/ with the reason beside them)"
                ),
            )
        )
    return found
