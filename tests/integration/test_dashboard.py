"""collect_dashboard against the real MongoDB-wire server and the real mapping CSV."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.mongo.runs import MongoRunRepository
from leadpersona.adapters.warehouse.engine import make_engine
from leadpersona.bootstrap import field_map_store, mongo_repositories, warehouse_or_reason
from leadpersona.config import Settings
from leadpersona.entrypoints.http.page import render_page
from leadpersona.entrypoints.report import report_markdown
from leadpersona.services.dashboard import RECENT_RUNS, DashboardData, collect_dashboard
from leadpersona.services.sales_load import load_sales
from leadpersona.services.wiring import SourceWindow
from tests.dashboard_fixtures import EXPECTED, RUNS, seed_dashboard
from tests.sales_support import ListSource, add_lead, record, set_persona
from tests.warehouse_support import warehouse_factory, warehouse_url

__all__ = ["warehouse_factory", "warehouse_url"]


def _matrix(rows: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return sorted((str(r["academic_field"]), str(r["company_type"]), r["count"]) for r in rows)


async def collect(database: MongoDatabase, settings: Settings) -> DashboardData:
    """The dashboard's content as the entry points gather it (their warehouse engine too)."""
    with warehouse_or_reason(settings) as warehouse:
        return await collect_dashboard(
            mongo_repositories(database),
            field_map_store(settings),
            database=database.name,
            warehouse=warehouse,
        )


async def test_collects_stats_runs_quarantine_and_mapping(
    database: MongoDatabase, settings_env: Settings
) -> None:
    newest = await seed_dashboard(database)

    data = await collect(database, settings_env)

    stats = data.stats
    for key in ("total_leads", "personas", "enriched", "no_data", "coverage"):
        assert stats[key] == EXPECTED[key], key
    assert stats["academic_field"]["known"] == EXPECTED["academic_known"]
    assert stats["academic_field"]["inferred"] == EXPECTED["inferred"]
    assert stats["academic_field"]["inferred_share"] == round(1 / 3, 4)
    assert stats["company_type"]["unknown"] == 0
    assert stats["enrichment_states"] == {"enriched": 4, "failed": 1, "no_data": 1}
    assert _matrix(stats["matrix"]) == _matrix(EXPECTED["matrix"])

    assert data.database == database.name
    assert len(data.runs) == RECENT_RUNS < RUNS
    assert [run.id for run in data.runs] == [f"run-{age:02d}" for age in range(RECENT_RUNS)]
    newest_run, aborted = data.runs[0], data.runs[1]
    assert newest_run.started_at == newest
    assert newest_run.duration_seconds == 42.0
    assert newest_run.counts["api_calls"] == 6
    assert newest_run.failures == 1
    assert newest_run.errors == [{"lead_id": "lead-f", "error": "HTTP 503 after 5 attempts"}]
    assert aborted.status == "aborted"
    assert aborted.error is not None and "401" in aborted.error
    assert aborted.failures == 0

    assert data.quarantine.total == EXPECTED["quarantine_total"]
    assert data.quarantine.by_reason == EXPECTED["by_reason"]
    assert next(iter(data.quarantine.by_reason)) == "invalid_email"  # most frequent first
    [imported] = data.quarantine.imports
    assert (imported.read, imported.inserted, imported.duplicates, imported.quarantined) == (
        10,
        6,
        1,
        3,
    )

    report = field_map_store(settings_env).report()
    assert data.mapping is not None and data.mapping_error is None
    assert data.mapping.rows_read == report.rows_read
    assert data.mapping.mapping_ratio_before == report.mapping_ratio_before
    assert data.mapping.mapping_ratio_after == report.mapping_ratio_after
    assert data.mapping.conflicts == report.conflicts
    assert data.mapping.label_distribution == report.label_distribution

    # The document survives a JSON round trip unchanged (the page and report embed it).
    assert DashboardData.model_validate_json(data.model_dump_json()) == data


async def test_empty_database(database: MongoDatabase, settings_env: Settings) -> None:
    data = await collect(database, settings_env)

    assert data.stats["total_leads"] == 0
    assert data.stats["coverage"] is None
    assert data.stats["matrix"] == []
    assert data.runs == []
    assert data.quarantine.total == 0
    assert data.quarantine.by_reason == {}
    assert data.quarantine.imports == []
    # The packaged CSV: 375 rows, of which 234 have no academic field (SPEC section 1).
    assert data.mapping is not None
    assert data.mapping.rows_read == 375


async def test_unreadable_mapping_csv_does_not_hide_the_rest(
    database: MongoDatabase, settings_env: Settings, tmp_path: Path
) -> None:
    await seed_dashboard(database)
    broken = tmp_path / "mapping-is-a-directory.csv"
    broken.mkdir()
    settings = settings_env.model_copy(update={"field_mapping_csv": broken})

    data = await collect(database, settings)

    assert data.mapping is None
    assert data.mapping_error is not None and "mapping-is-a-directory.csv" in data.mapping_error
    assert data.stats["personas"] == EXPECTED["personas"]
    assert data.quarantine.total == EXPECTED["quarantine_total"]


async def test_sales_views_from_the_warehouse(
    database: MongoDatabase, settings_env: Settings, warehouse_url: str
) -> None:
    settings = settings_env.model_copy(update={"warehouse_url": warehouse_url})
    empty = await collect(database, settings)
    assert empty.sales.revenue == [] and empty.sales.error is None
    assert 'id="sales-empty"' in render_page(empty, live=False)

    engine = make_engine(warehouse_url)
    try:
        add_lead(engine, "L1", "ada@example.com")
        set_persona(engine, "L1", "engineering", "Startup", datetime(2026, 1, 1, tzinfo=UTC))
        source = ListSource(
            [[record("O1"), record("O2", customer_email="bob@example.com", unit_price="99")]]
        )

        async def make(_window: SourceWindow) -> ListSource:
            return source

        await load_sales(
            settings,
            runs=MongoRunRepository(database),
            sources={"files": make},
            engine=engine,
            now=datetime(2026, 1, 6, tzinfo=UTC),
        )
    finally:
        engine.dispose()

    data = await collect(database, settings)
    assert [(r["academic_field"], r["revenue"]) for r in data.sales.revenue] == [
        (None, "198.00"),
        ("engineering", "20.00"),
    ]
    assert data.sales.conversion[0] | {"conversion": 1.0} == {
        "academic_field": "engineering",
        "company_type": "Startup",
        "leads": 1,
        "customers": 1,
        "conversion": 1.0,
    }
    assert {r["sku"] for r in data.sales.top_products} == {"SKU-1"}
    assert [q["source"] for q in data.sales.quality] == ["files"]
    assert data.ledger[0].kind == "sales_load" and data.ledger[0].status == "completed"
    html = render_page(data, live=False)
    for element in (
        "chart-revenue",
        "revenue-table",
        "conversion-table",
        "top-products-table",
        "quality-table",
        "ledger-table",
    ):
        assert f'id="{element}"' in html, element
    markdown = report_markdown(data)
    assert "| engineering | Startup | 2026-01 | EUR | 20.00 | 1 | 1 |" in markdown
    assert "| engineering | Startup | 1 | 1 | 100.0 % |" in markdown
