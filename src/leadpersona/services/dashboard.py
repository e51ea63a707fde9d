"""The dashboard's content: persona statistics, recent runs, quarantine, mapping cleaning, and
sales by persona from the warehouse.

One document (:class:`DashboardData`) feeds the live page (``GET /``, ``GET /dashboard/data``)
and the static report (``leadpersona report``), so both always show the same thing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Engine, inspect

from leadpersona.adapters.repositories import (
    ImportLedger,
    LoggedImport,
    QuarantineRepository,
    Repositories,
    RunRepository,
)
from leadpersona.adapters.warehouse.engine import warehouse_errors
from leadpersona.adapters.warehouse.sales_queries import (
    conversion_by_persona,
    load_quality,
    revenue_by_persona,
    top_products,
)
from leadpersona.domain.runs import RunRecord
from leadpersona.errors import FieldMapError, LeadPersonaError
from leadpersona.mapping import CleaningReport, FieldMapStore
from leadpersona.services.personas import PersonaService

__all__ = [
    "RECENT_IMPORTS",
    "RECENT_RUNS",
    "RUN_ERRORS_SHOWN",
    "DashboardData",
    "ImportSummary",
    "LedgerEntry",
    "QuarantineSummary",
    "RunSummary",
    "SalesSummary",
    "collect_dashboard",
    "sales_summary",
]

#: How many enrichment runs the dashboard lists (newest first).
RECENT_RUNS = 10
#: How many lead imports the dashboard lists (newest first).
RECENT_IMPORTS = 5
#: Failures shown per run (the total is always given).
RUN_ERRORS_SHOWN = 20


class RunSummary(BaseModel):
    """One ``enrich`` run: when, how it ended, its counts and its failures."""

    id: str
    started_at: datetime
    finished_at: datetime | None = None
    duration_seconds: float | None = None
    status: str
    refresh: bool = False
    limit: int | None = None
    counts: dict[str, Any] = Field(default_factory=dict)
    failures: int = Field(description="failures recorded for the run (all of them)")
    errors: list[dict[str, str]] = Field(
        default_factory=list, description=f"the first {RUN_ERRORS_SHOWN} failures"
    )
    error: str | None = Field(default=None, description="why the run stopped, if it aborted")


class ImportSummary(BaseModel):
    """One lead file import."""

    id: str
    file: str
    status: str
    read: int = 0
    inserted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None


class QuarantineSummary(BaseModel):
    """Rejected lead rows: how many, and how many carry each reason (a row may carry several)."""

    total: int
    by_reason: dict[str, int]
    imports: list[ImportSummary]


class SalesSummary(BaseModel):
    """Sales by persona, read from the warehouse (empty lists before the first sales load)."""

    revenue: list[dict[str, Any]] = Field(
        default_factory=list, description="revenue, orders, customers by persona and month"
    )
    top_products: list[dict[str, Any]] = Field(
        default_factory=list, description="the best-selling products of each persona"
    )
    conversion: list[dict[str, Any]] = Field(
        default_factory=list, description="leads and leads who bought, by persona"
    )
    quality: list[dict[str, Any]] = Field(
        default_factory=list, description="the last sales loads per source, with quality"
    )
    error: str | None = Field(default=None, description="why the warehouse could not be read")


class LedgerEntry(BaseModel):
    """One run of any kind (enrich, import, warehouse sync, sales load, daily), with its alerts."""

    id: str
    kind: str
    parent_id: str | None = None
    status: str
    started_at: datetime
    duration_seconds: float | None = None
    error: str | None = None
    alerts: list[dict[str, Any]] = Field(default_factory=list)


class DashboardData(BaseModel):
    """Everything the dashboard page and the static report show."""

    generated_at: datetime
    database: str
    stats: dict[str, Any] = Field(description="the document of GET /personas/stats")
    runs: list[RunSummary] = Field(description=f"the last {RECENT_RUNS} runs, newest first")
    quarantine: QuarantineSummary
    mapping: CleaningReport | None
    mapping_error: str | None = Field(
        default=None, description="why the mapping summary is missing, when it is"
    )
    ledger: list[LedgerEntry] = Field(
        default_factory=list, description="the last runs of every kind, newest first"
    )
    sales: SalesSummary = Field(default_factory=SalesSummary)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _run(record: RunRecord) -> RunSummary:
    started = _utc(record.started_at) or datetime.fromtimestamp(0, UTC)
    finished = _utc(record.finished_at)
    failures = max(len(record.errors), int(record.counts.get("failed") or 0))
    return RunSummary(
        id=record.id,
        started_at=started,
        finished_at=finished,
        duration_seconds=round((finished - started).total_seconds(), 3) if finished else None,
        status=record.status,
        refresh=bool(record.details.get("refresh")),
        limit=record.details.get("limit"),
        counts=dict(record.counts),
        failures=failures,
        errors=record.errors[:RUN_ERRORS_SHOWN],
        error=record.error,
    )


async def recent_runs(runs: RunRepository, limit: int = RECENT_RUNS) -> list[RunSummary]:
    """The last ``limit`` enrichment runs, newest first."""
    return [_run(record) for record in await runs.recent(limit, kind="enrich")]


def _import(logged: LoggedImport) -> ImportSummary:
    counters = logged.counters
    return ImportSummary(
        id=logged.sha256,
        file=logged.file,
        status=logged.status,
        read=counters.get("read", 0),
        inserted=counters.get("inserted", 0),
        duplicates=counters.get("duplicates_in_file", 0) + counters.get("duplicates_existing", 0),
        quarantined=counters.get("quarantined", 0),
        started_at=_utc(logged.started_at),
        finished_at=_utc(logged.finished_at),
    )


async def quarantine_summary(
    quarantine: QuarantineRepository, imports: ImportLedger
) -> QuarantineSummary:
    """Quarantined rows in total and per reason code, and the recent imports."""
    total = await quarantine.count()
    by_reason = await quarantine.reason_counts() if total else {}
    recent = [_import(logged) for logged in await imports.recent(RECENT_IMPORTS)]
    ordered = dict(sorted(by_reason.items(), key=lambda item: (-item[1], item[0])))
    return QuarantineSummary(total=total, by_reason=ordered, imports=recent)


async def mapping_summary(field_maps: FieldMapStore) -> CleaningReport:
    """The cleaning summary of the mapping CSV (read off the event loop: it is file work)."""
    return await asyncio.to_thread(field_maps.report)


def _read_sales(engine: Engine) -> SalesSummary:
    with warehouse_errors(str(engine.url)), engine.connect() as connection:
        if not inspect(connection).has_table("fact_sales"):
            return SalesSummary()  # never migrated: nothing loaded yet
        return SalesSummary(
            revenue=revenue_by_persona(connection, ["academic_field", "company_type"]),
            top_products=top_products(connection, per_persona=3),
            conversion=conversion_by_persona(connection),
            quality=load_quality(connection, limit=5),
        )


async def sales_summary(warehouse: Engine | LeadPersonaError) -> SalesSummary:
    """Sales by persona from the warehouse; a warehouse that cannot be read (no usable URL,
    not migrated yet, unreachable) gives an empty summary with the reason, not a failing
    page. ``warehouse``: its engine, or why the entry point could not open one."""
    if isinstance(warehouse, LeadPersonaError):
        return SalesSummary(error=str(warehouse))
    try:
        return await asyncio.to_thread(_read_sales, warehouse)
    except LeadPersonaError as exc:
        return SalesSummary(error=str(exc))


async def ledger(runs: RunRepository, limit: int = RECENT_RUNS) -> list[LedgerEntry]:
    """The last runs of every kind, newest first."""
    return [
        LedgerEntry(
            id=record.id,
            kind=record.kind,
            parent_id=record.parent_id,
            status=record.status,
            started_at=record.started_at,
            duration_seconds=record.duration_s,
            error=record.error,
            alerts=record.alerts,
        )
        for record in await runs.recent(limit)
    ]


async def collect_dashboard(
    repositories: Repositories,
    field_maps: FieldMapStore,
    *,
    database: str,
    warehouse: Engine | LeadPersonaError,
) -> DashboardData:
    """Gather the dashboard's content (``database`` is the name shown; ``warehouse``: the
    warehouse engine, or why there is none). A mapping CSV that cannot be read does not hide
    the rest: its error is reported in ``mapping_error``; the same for the warehouse."""
    stats = await PersonaService(repositories).stats()
    runs = await recent_runs(repositories.runs)
    quarantine = await quarantine_summary(repositories.quarantine, repositories.imports)
    mapping: CleaningReport | None = None
    mapping_error: str | None = None
    try:
        mapping = await mapping_summary(field_maps)
    except FieldMapError as exc:
        mapping_error = str(exc)
    return DashboardData(
        generated_at=datetime.now(UTC),
        database=database,
        stats=stats,
        runs=runs,
        quarantine=quarantine,
        mapping=mapping,
        mapping_error=mapping_error,
        ledger=await ledger(repositories.runs),
        sales=await sales_summary(warehouse),
    )
