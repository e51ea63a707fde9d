"""``leadpersona demo``: the main job on embedded defaults, summarised for a first-time reader."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine

from leadpersona.adapters.repositories import ExampleKind, Repositories, RunRepository
from leadpersona.adapters.warehouse.engine import warehouse_errors
from leadpersona.adapters.warehouse.queries import QueryResult, run_examples
from leadpersona.adapters.warehouse.sales_queries import revenue_by_persona
from leadpersona.config import Settings
from leadpersona.domain.email import normalize_email
from leadpersona.domain.persona import Persona
from leadpersona.domain.runs import RunRecord
from leadpersona.domain.samples import DEMO_EMAIL
from leadpersona.errors import ConfigError
from leadpersona.mapping import CleaningReport
from leadpersona.sales.demo_files import write_demo_inbox
from leadpersona.sales.shop_db import create_demo_shop, create_shop_engine
from leadpersona.services.daily_run import DailyRunReport, run_daily
from leadpersona.services.enrichment import RunSummary, enrich_leads
from leadpersona.services.personas import PersonaService
from leadpersona.services.runs import ProgressCallback
from leadpersona.services.sales_load import SalesLoadReport, load_sales
from leadpersona.services.seed import SeedReport, seed_leads
from leadpersona.services.setup import InitReport, initialise
from leadpersona.services.tables import Table, columns, persona_matrix, revenue_table
from leadpersona.services.warehouse_sync import SyncReport, sync_warehouse
from leadpersona.services.wiring import SalesSources, Wired

__all__ = ["DEMO_LEADS", "DemoResult", "run_demo", "summary_markdown"]

DEMO_LEADS = 300
#: Days of sales the demo loads (ending today), from each of the three sources.
DEMO_SALES_DAYS = 30
_EXAMPLES = 4


class DemoResult(BaseModel):
    """Everything the demo did and found."""

    init: InitReport
    seed: SeedReport
    run: RunSummary
    mapping: CleaningReport
    stats: dict[str, Any]
    examples: list[Persona]
    warehouse: SyncReport
    queries: list[QueryResult]
    sales: SalesLoadReport
    revenue: list[dict[str, Any]]
    daily: DailyRunReport
    ledger: list[RunRecord]
    summary_path: Path


async def _examples(repositories: Repositories) -> list[Persona]:
    """The demo lead's persona, then personas showing each kind of provenance."""
    examples: list[Persona] = []
    key = normalize_email(DEMO_EMAIL)
    demo = (await repositories.leads.email_owners([key])).get(key)
    if demo is not None and demo.lead_id in await repositories.personas.existing_ids(
        [demo.lead_id]
    ):
        examples.append(await repositories.personas.get(demo.lead_id))
    for kind in (
        ExampleKind(academic_source="inferred"),
        ExampleKind(academic_source="mapping", with_company_type=True),
        ExampleKind(status="no_data"),
    ):
        if len(examples) >= _EXAMPLES:
            break
        found = await repositories.personas.example(kind, [p.lead_id for p in examples])
        if found is not None:
            examples.append(found)
    return examples


#: The per-source counts of the sales load the summary shows (the last as a share).
_SOURCE_COUNTS = ("read", "loaded", "quarantined", "duplicates", "validity")


def summary_markdown(result: DemoResult) -> str:
    """The demo's findings as a Markdown page."""
    stats, run, mapping = result.stats, result.run, result.mapping
    lines = [
        "# leadpersona demo",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on embedded defaults.",
        "",
        "## Run",
        "",
        f"- {result.seed.inserted} synthetic leads added ({result.seed.requested} requested,"
        f" the demo lead `{DEMO_EMAIL}` included)",
        f"- {run.processed} leads enriched in {run.duration_s:.1f} s: {run.enriched} with data,"
        f" {run.no_data} without, {run.failed} failed, {run.skipped} skipped without email",
        f"- {run.api_calls} API calls, {run.cache_hits} answers reused from the archive,"
        f" {run.new_fields_of_study} new fields of study appended to the mapping CSV",
        "",
        "## Mapping CSV",
        "",
        f"- {mapping.rows_read} rows, {mapping.fields_of_study_after} distinct fields of study"
        f" after cleaning, {mapping.academic_fields_after} academic fields",
        f"- mapping ratio {mapping.mapping_ratio_before:.4f} before cleaning,"
        f" {mapping.mapping_ratio_after:.4f} after",
        "",
        "## Personas",
        "",
        f"- {stats['personas']} personas for {stats['total_leads']} leads"
        + (f" (coverage {stats['coverage']:.1%})" if stats["coverage"] is not None else ""),
    ]
    if stats["enriched"]:
        lines.append(
            f"- academic field unknown for {stats['academic_field']['unknown_rate']:.1%}"
            f" of enriched leads; company type unknown for"
            f" {stats['company_type']['unknown_rate']:.1%}; inferred academic fields:"
            f" {stats['academic_field']['inferred']}"
        )
    lines += ["", *persona_matrix(stats).markdown()]
    synced = result.warehouse
    lines += [
        "",
        "## Warehouse",
        "",
        f"- synced in {synced.seconds:.1f} s: "
        + ", ".join(f"{n} {t}" for t, n in synced.inserted.items() if n)
        + " rows inserted",
    ]
    for query in result.queries:
        lines += ["", f"### {query.title}", "", "```sql", query.sql, "```", ""]
        rows = [tuple(str(v) for v in row) for row in query.rows]
        lines += Table("", columns(*query.columns), rows).markdown()
    sales = result.sales
    lines += [
        "",
        "## Sales",
        "",
        f"- API {sales.start_date} → {sales.end_date}, the inbox files and the demo shop"
        f" database loaded in {sales.seconds:.1f} s",
        "",
        *Table(
            "",
            columns("source", *(f"#{name}" for name in _SOURCE_COUNTS)),
            [
                (
                    item.source,
                    *(str(getattr(item, n)) for n in _SOURCE_COUNTS[:-1]),
                    f"{item.validity:.1%}",
                )
                for item in sales.sources.values()
            ],
        ).markdown(),
        "",
        "### Revenue by persona (completed lines)",
        "",
        *revenue_table(result.revenue, by_month=False).markdown(),
    ]
    daily = result.daily
    lines += [
        "",
        "## The daily run",
        "",
        f"`leadpersona run` once more ({daily.status}): "
        + "; ".join(
            f"{step.kind} {step.status} ("
            + ", ".join(f"{k} {v}" for k, v in step.counts.items() if not isinstance(v, dict))
            + ")"
            for step in daily.steps
        ),
        "",
        *Table(
            "",
            columns("started", "kind", "status", "parent", "#seconds"),
            [
                (
                    f"{record.started_at:%Y-%m-%d %H:%M:%S}",
                    record.kind,
                    record.status,
                    (record.parent_id or "")[:12],
                    f"{record.duration_s or 0:.1f}",
                )
                for record in result.ledger
            ],
        ).markdown(),
    ]
    lines += ["", "## Example personas", ""]
    for example in result.examples:
        features = ", ".join(f"{k}: {v}" for k, v in example.public()["features"].items())
        sources = ", ".join(f"{k}: {v.source}" for k, v in example.provenance.items())
        studied = example.field_of_study
        lines.append(
            f"- `{example.lead_id}` ({example.status}) — {features}"
            + (f" — sources {sources}" if sources else "")
            + (f" — field of study “{studied}”" if studied else "")
        )
    return "\n".join(lines) + "\n"


def _revenue(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return revenue_by_persona(connection, ["academic_field", "company_type"], by_month=False)


def with_demo_shop(settings: Settings) -> Settings:
    """``settings`` naming the shop database the demo fills: ``shop.db`` in the data dir unless
    ``LEADPERSONA_SALES_SOURCE_URL`` names one (the demo's sales sources are chosen from these
    settings, so its load reads that shop)."""
    if settings.sales_source_url is not None:
        return settings
    shop_url = f"sqlite:///{(settings.data_dir / 'shop.db').resolve()}"
    return settings.model_copy(update={"sales_source_url": shop_url})


async def demo_sales(
    settings: Settings,
    runs: RunRepository,
    engine: Engine,
    sources: SalesSources,
    *,
    today: date | None = None,
) -> SalesLoadReport:
    """The last :data:`DEMO_SALES_DAYS` days of sales from ``sources`` (the mock sales API,
    the inbox, the shop database), after writing three files into the inbox and filling the
    shop at ``settings.sales_source_url`` (see :func:`with_demo_shop`)."""
    end = today or datetime.now(UTC).date()
    start = end - timedelta(days=DEMO_SALES_DAYS - 1)
    shop_url = settings.sales_source_url
    if shop_url is None:
        raise ConfigError("the demo needs a shop database: see with_demo_shop")
    shop = create_shop_engine(shop_url)
    try:
        await asyncio.to_thread(write_demo_inbox, settings.effective_sales_inbox, start, end)
        await asyncio.to_thread(create_demo_shop, shop, start=start, end=end, api_overlap=1)
    finally:
        shop.dispose()
    return await load_sales(
        settings,
        runs=runs,
        sources=sources,
        start_date=start,
        end_date=end,
        engine=engine,
    )


async def run_demo(
    settings: Settings,
    database_name: str,
    adapters: Wired,
    *,
    engine: Engine,
    sales_sources: SalesSources,
    leads: int = DEMO_LEADS,
    on_progress: ProgressCallback | None = None,
) -> DemoResult:
    """init → seed → enrich → warehouse sync → sales load → the daily run → mapping report →
    stats → examples → summary, on ``adapters``; ``database_name`` is reported by init.
    ``settings`` name the demo's shop database (:func:`with_demo_shop`) and ``sales_sources``
    are chosen from them (``bootstrap.sales_sources``)."""
    repositories = adapters.repositories
    init = await initialise(settings, repositories, database=database_name)
    seeded = await seed_leads(repositories.leads, leads)
    run = await enrich_leads(settings, adapters, on_progress=on_progress)
    warehouse = await sync_warehouse(
        settings,
        source=repositories.sync_source,
        archive=adapters.archive,
        runs=repositories.runs,
        engine=engine,
    )
    with warehouse_errors(settings.effective_warehouse_url):
        queries = await asyncio.to_thread(run_examples, engine)
    sales = await demo_sales(settings, repositories.runs, engine, sales_sources)
    with warehouse_errors(settings.effective_warehouse_url):
        revenue = await asyncio.to_thread(_revenue, engine)
    # The daily job as an operator runs it: finished work is not redone.
    daily = await run_daily(settings, adapters, engine=engine, sales_sources=sales_sources)
    ledger = await repositories.runs.recent(8)
    result = DemoResult(
        init=init,
        seed=seeded,
        run=run,
        mapping=adapters.field_maps.report(),
        stats=await PersonaService(repositories).stats(),
        examples=await _examples(repositories),
        warehouse=warehouse,
        queries=queries,
        sales=sales,
        revenue=revenue,
        daily=daily,
        ledger=ledger,
        summary_path=settings.data_dir / "demo-summary.md",
    )
    result.summary_path.parent.mkdir(parents=True, exist_ok=True)
    result.summary_path.write_text(summary_markdown(result), encoding="utf-8")
    return result
