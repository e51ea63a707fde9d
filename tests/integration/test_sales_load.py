"""Sales load into the star schema, on SQLite and PostgreSQL: counts, idempotence, supersession,
type 2 customers, quarantine, partitions, the mock sales API end to end."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from leadpersona.adapters.warehouse.engine import make_engine, upgrade
from leadpersona.adapters.warehouse.sales_load import (
    LOAD_LOCK,
    SalesWriter,
    ensure_partitions,
    finish_stale,
    mark_stale,
    refresh_statistics,
)
from leadpersona.adapters.warehouse.sales_queries import conversion_by_persona, revenue_by_persona
from leadpersona.adapters.warehouse.tables import FactSale
from leadpersona.bootstrap import sales_sources
from leadpersona.config import Settings
from leadpersona.errors import LeadPersonaError
from leadpersona.sales.cleaning import SalesCleaner
from leadpersona.sales.demo_files import write_demo_inbox
from leadpersona.sales.records import raw_table
from leadpersona.sales.shop_db import (
    create_demo_shop,
    create_shop_engine,
    first_orders,
    refund_order,
)
from leadpersona.services import sales_load as sales_load_service
from leadpersona.services.sales_load import SalesLoadReport, api_range, load_sales
from leadpersona.services.wiring import SourceFactory, SourceWindow
from tests.fakes import InMemoryRunRepository
from tests.sales_support import ListSource, add_lead, record, set_persona
from tests.warehouse_support import warehouse_factory, warehouse_url

__all__ = ["warehouse_factory", "warehouse_url"]

NOW = datetime(2026, 2, 1, 6, tzinfo=UTC)


@pytest.fixture
def engine(warehouse_url: str) -> Iterator[Engine]:
    engine = make_engine(warehouse_url)
    yield engine
    engine.dispose()


async def load(
    engine: Engine, *sources: ListSource, runs: InMemoryRunRepository | None = None
) -> SalesLoadReport:
    by_name = {source.name: source for source in sources}

    def opener(source: ListSource) -> SourceFactory:
        async def make(_window: SourceWindow) -> ListSource:
            return source

        return make

    return await load_sales(
        Settings(),
        runs=runs or InMemoryRunRepository(),
        sources={name: opener(source) for name, source in by_name.items()},
        engine=engine,
        now=NOW,
    )


def rows(engine: Engine, sql: str) -> list[Any]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def check_balance(report: SalesLoadReport) -> None:
    for source in report.sources.values():
        assert source.read == source.loaded + source.quarantined + source.duplicates


async def test_a_batch_lands_in_the_star_with_its_keys(engine: Engine) -> None:
    report = await load(
        engine,
        ListSource(
            [
                [
                    record("O1", 1, unit_price="1,234.50", discount="10%", quantity="3"),
                    record("O1", 2, product_sku="SKU-2", product_name="Gadget"),
                    record("O2", 1, order_date="07/01/2026", customer_email=" Bob@Example.COM "),
                ]
            ]
        ),
    )
    check_balance(report)
    files = report.sources["files"]
    assert (files.read, files.loaded, files.inserted, files.quarantined) == (3, 3, 3, 0)
    facts = rows(
        engine,
        "SELECT f.order_id, f.line_no, d.date, p.sku, c.email, f.amount, f.source "
        "FROM fact_sales f JOIN dim_date d ON d.date_id = f.date_id "
        "JOIN dim_product p ON p.product_key = f.product_key "
        "JOIN dim_customer c ON c.customer_key = f.customer_key ORDER BY 1, 2",
    )
    assert [(f[0], f[1], str(f[2])[:10], f[3], f[4], Decimal(str(f[5])), f[6]) for f in facts] == [
        ("O1", 1, "2026-01-05", "SKU-1", "ada@example.com", Decimal("3333.15"), "files"),
        ("O1", 2, "2026-01-05", "SKU-2", "ada@example.com", Decimal("20.00"), "files"),
        ("O2", 1, "2026-01-07", "SKU-1", "bob@example.com", Decimal("20.00"), "files"),
    ]
    # The dimension keys are not declared foreign keys; the load keeps them whole.
    orphans = rows(
        engine,
        "SELECT count(*) FROM fact_sales f LEFT JOIN dim_date d ON d.date_id = f.date_id "
        "LEFT JOIN dim_product p ON p.product_key = f.product_key "
        "LEFT JOIN dim_customer c ON c.customer_key = f.customer_key "
        "WHERE d.date_id IS NULL OR p.product_key IS NULL OR c.customer_key IS NULL",
    )
    assert orphans == [(0,)]
    with Session(engine) as session:
        sale = session.scalars(select(FactSale).where(FactSale.order_id == "O2")).one()
        assert (sale.customer.email, sale.product.sku, sale.date.weekday) == (
            "bob@example.com",
            "SKU-1",
            3,
        )
    days = rows(engine, "SELECT date_id, year, quarter, month, day, weekday FROM dim_date")
    assert sorted(days) == [(20260105, 2026, 1, 1, 5, 1), (20260107, 2026, 1, 1, 7, 3)]
    customers = rows(engine, "SELECT email, valid_from, valid_to FROM dim_customer ORDER BY 1")
    assert [(c[0], str(c[1])[:10], c[2]) for c in customers] == [
        ("ada@example.com", "0001-01-01", None),
        ("bob@example.com", "0001-01-01", None),
    ]


async def test_the_same_load_twice_stores_nothing_twice(engine: Engine) -> None:
    batches = [[record("O1"), record("O2")], [record("O3")]]
    first = await load(engine, ListSource(batches))
    again = await load(engine, ListSource(batches))
    assert first.sources["files"].inserted == 3
    assert again.sources["files"].read == 0
    assert rows(engine, "SELECT count(*) FROM fact_sales") == [(3,)]
    # Read again from the start (a lost checkpoint): identical records are duplicates.
    replay = await load(engine, ListSource(batches, key="other"))
    check_balance(replay)
    assert (replay.sources["files"].duplicates, replay.sources["files"].loaded) == (3, 0)
    assert rows(engine, "SELECT count(*) FROM fact_sales") == [(3,)]


async def test_a_later_record_supersedes_and_a_refund_leaves_revenue(engine: Engine) -> None:
    await load(engine, ListSource([[record("O1"), record("O2", order_date="2025-12-20")]]))
    later = await load(
        engine,
        ListSource(
            [[record("O1", status="refunded"), record("O2", order_date="2026-01-30")]],
            key="later",
        ),
    )
    files = later.sources["files"]
    assert (files.updated, files.inserted, files.duplicates) == (2, 0, 0)
    facts = rows(engine, "SELECT order_id, date_id, status FROM fact_sales ORDER BY 1")
    assert facts == [("O1", 20260105, "refunded"), ("O2", 20260130, "completed")]
    # Re-dated into another month (another partition on PostgreSQL): still one row.
    assert rows(engine, "SELECT order_id, line_no, date_id FROM sales_keys ORDER BY 1") == [
        ("O1", 1, 20260105),
        ("O2", 1, 20260130),
    ]
    revenue = rows(engine, "SELECT sum(amount) FROM fact_sales WHERE status = 'completed'")
    assert Decimal(str(revenue[0][0])) == Decimal("20.00")


async def test_one_sale_from_two_sources_is_one_sale(engine: Engine) -> None:
    report = await load(
        engine,
        ListSource([[record("O1"), record("O2")]], name="api", key="a"),
        ListSource([[record("O1"), record("O3")]], name="files", key="f"),
    )
    check_balance(report)
    assert report.sources["files"].duplicates == 1
    assert rows(engine, "SELECT order_id, source FROM fact_sales ORDER BY 1") == [
        ("O1", "api"),
        ("O2", "api"),
        ("O3", "files"),
    ]


async def test_bad_records_are_quarantined_with_every_reason_once(engine: Engine) -> None:
    batches = [
        [
            record("O1"),
            record("O2", quantity="0", currency="EURO"),
            record("", unit_price="-1"),
            record("O1"),  # the same key again in the batch: a duplicate
        ]
    ]
    report = await load(engine, ListSource(batches))
    files = report.sources["files"]
    check_balance(report)
    assert (files.read, files.loaded, files.quarantined, files.duplicates) == (4, 1, 2, 1)
    assert files.validity == 0.5
    assert 0 < files.completeness < 1
    quarantined = rows(engine, "SELECT location, row, reasons FROM sales_quarantine ORDER BY row")
    assert [(q[0], q[1]) for q in quarantined] == [("batch-1", 2), ("batch-1", 3)]
    codes = [sorted(r["code"] + ":" + r["field"] for r in _json(q[2])) for q in quarantined]
    assert codes[0] == ["not_iso_4217:currency", "not_positive:quantity"] or "quantity" in str(
        codes[0]
    )
    assert any("order_id" in code for code in codes[1])
    await load(engine, ListSource(batches, key="again"))
    assert rows(engine, "SELECT count(*) FROM sales_quarantine") == [(2,)]


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


async def test_customers_keep_the_persona_of_their_order_date(engine: Engine) -> None:
    add_lead(engine, "L1", "Ada@Example.com")
    set_persona(engine, "L1", "engineering", "Startup", datetime(2026, 1, 1, tzinfo=UTC))
    await load(engine, ListSource([[record("O1", order_date="2026-01-05")]], key="k1"))
    set_persona(engine, "L1", "business", "Mid Market", datetime(2026, 1, 10, 9, tzinfo=UTC))
    report = await load(
        engine,
        ListSource(
            [
                [
                    record("O2", order_date="2026-01-15"),
                    record("O3", order_date="2026-01-06"),  # arrives late, before the change
                ]
            ],
            key="k2",
        ),
    )
    assert report.customers_changed == 1
    customers = rows(
        engine,
        "SELECT lead_id, academic_field, company_type, valid_from, valid_to, is_current "
        "FROM dim_customer ORDER BY valid_from",
    )
    assert [
        (c[0], c[1], c[2], str(c[3])[:10], c[4] and str(c[4])[:10], bool(c[5])) for c in customers
    ] == [
        ("L1", "engineering", "Startup", "0001-01-01", "2026-01-10", False),
        ("L1", "business", "Mid Market", "2026-01-10", None, True),
    ]
    personas = rows(
        engine,
        "SELECT f.order_id, c.academic_field FROM fact_sales f "
        "JOIN dim_customer c ON c.customer_key = f.customer_key ORDER BY 1",
    )
    assert personas == [("O1", "engineering"), ("O2", "business"), ("O3", "engineering")]
    # A change applied before sales of later days were loaded moves those sales too.
    set_persona(engine, "L1", "law", "Mid Market", datetime(2026, 1, 12, tzinfo=UTC))
    await load(engine, ListSource([[]], key="k3"))
    moved = rows(
        engine,
        "SELECT f.order_id, c.academic_field FROM fact_sales f "
        "JOIN dim_customer c ON c.customer_key = f.customer_key ORDER BY 1",
    )
    assert moved == [("O1", "engineering"), ("O2", "law"), ("O3", "engineering")]


async def test_a_failing_source_keeps_what_it_committed_and_the_next_load_finishes(
    engine: Engine,
) -> None:
    batches = [[record("O1")], [record("O2")], [record("O3")]]
    broken = ListSource(batches, fail_after=1)
    with pytest.raises(LeadPersonaError, match="source went away"):
        await load(engine, broken, ListSource([[record("A1")]], name="api", key="a"))
    assert broken.committed_batches == [1]
    # The other source still loaded.
    assert rows(engine, "SELECT order_id FROM fact_sales ORDER BY 1") == [("A1",), ("O1",)]
    report = await load(engine, ListSource(batches))
    assert report.sources["files"].inserted == 2
    assert rows(engine, "SELECT count(*) FROM fact_sales") == [(4,)]
    statuses = rows(
        engine, "SELECT source, status, read FROM sales_loads ORDER BY started_at, source"
    )
    assert ("files", "failed", 1) in statuses


async def test_postgresql_partitions_by_month(engine: Engine) -> None:
    await load(
        engine,
        ListSource(
            [[record("O1", order_date="2025-12-31"), record("O2", order_date="2026-01-01")]]
        ),
    )
    if engine.dialect.name != "postgresql":
        assert rows(engine, "SELECT count(*) FROM fact_sales") == [(2,)]
        return
    parts = rows(
        engine,
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'fact_sales' ORDER BY 1",
    )
    assert parts == [("fact_sales_y2025m12",), ("fact_sales_y2026m01",)]
    assert rows(engine, "SELECT count(*) FROM fact_sales_y2025m12") == [(1,)]


def test_api_range_defaults() -> None:
    today = date(2026, 2, 1)
    assert api_range({}, today, None, None) == (date(2026, 1, 26), today)
    done = {"api:2026-01-01:2026-01-20": {"done": True}, "api:2026-01-21:2026-02-01": {}}
    assert api_range(done, today, None, None) == (date(2026, 1, 21), today)
    assert api_range(done, today, date(2025, 1, 1), date(2025, 1, 2)) == (
        date(2025, 1, 1),
        date(2025, 1, 2),
    )


async def test_the_shop_database_loads_incrementally_and_a_refund_supersedes(
    warehouse_factory: Callable[[], str],
) -> None:
    warehouse = make_engine(warehouse_factory())
    shop_url = warehouse_factory()
    shop = create_shop_engine(shop_url)
    try:
        lines = create_demo_shop(
            shop, start=date(2026, 1, 10), end=date(2026, 1, 12), orders_per_day=5, api_overlap=1
        )
        settings = Settings(sales_source_url=shop_url)
        runs = InMemoryRunRepository()
        first = await load_sales(
            settings,
            runs=runs,
            sources=sales_sources(settings, ["db", "api"]),
            engine=warehouse,
            now=NOW,
            start_date=date(2026, 1, 10),
            end_date=date(2026, 1, 12),
        )
        check_balance(first)
        db = first.sources["db"]
        assert db.read == db.loaded == lines and db.quarantined == 0
        # The shop repeats one API order a day: the API's copies are stored once.
        assert first.sources["api"].duplicates >= 3
        order = first_orders(shop, 1)[0]
        assert refund_order(shop, order, NOW)
        again = await load_sales(
            settings, runs=runs, sources=sales_sources(settings, ["db"]), engine=warehouse, now=NOW
        )
        assert again.sources["db"].updated == again.sources["db"].read > 0
        statuses = rows(
            warehouse, f"SELECT DISTINCT status FROM fact_sales WHERE order_id = '{order}'"
        )
        assert statuses == [("refunded",)]
    finally:
        shop.dispose()
        warehouse.dispose()


async def test_inbox_files_load_once_and_unreadable_ones_are_counted_and_alerted(
    warehouse_url: str, tmp_path: Path
) -> None:
    engine = make_engine(warehouse_url)
    inbox = tmp_path / "inbox"
    paths = write_demo_inbox(inbox, date(2026, 1, 20), date(2026, 1, 25))
    (inbox / "notes.xlsx").write_bytes(b"PK\x03\x04")
    settings = Settings(sales_inbox=inbox)
    runs = InMemoryRunRepository()
    try:
        first = await load_sales(
            settings, runs=runs, sources=sales_sources(settings, ["files"]), engine=engine, now=NOW
        )
        check_balance(first)
        files = first.sources["files"]
        assert files.loaded > 50 and files.quarantined > 0 and files.files_failed == 1
        assert {a.kind for a in first.alerts} >= {"quality"}
        assert sorted(p.name for p in (inbox / "processed").iterdir()) == sorted(
            p.name for p in paths
        )
        # Dropped again under another name: recognised by content, read no more.
        (inbox / "processed" / paths[0].name).rename(inbox / "again.csv")
        again = await load_sales(
            settings, runs=runs, sources=sales_sources(settings, ["files"]), engine=engine, now=NOW
        )
        assert again.sources["files"].read == 0 and not (inbox / "again.csv").exists()
        quality = rows(engine, "SELECT read, quarantined, files_failed FROM sales_loads")
        assert (files.read, files.quarantined, 1) in quality
        located = rows(engine, "SELECT DISTINCT location FROM sales_quarantine")
        assert {name for (name,) in located} <= {p.name for p in paths}
    finally:
        engine.dispose()


async def test_revenue_counts_orders_customers_and_lines_per_group(engine: Engine) -> None:
    await load(
        engine,
        ListSource(
            [
                [
                    record("O1", 1),
                    record("O1", 2, product_sku="SKU-2", category="Office", unit_price="5"),
                    record("O2", 1, order_date="2026-01-20"),
                    record("O3", 1, customer_email="bob@example.com", status="refunded"),
                    record("O4", 1, customer_email="bob@example.com", order_date="2026-01-02"),
                    record("O5", 1, order_date="2026-01-25", currency="USD"),
                ]
            ]
        ),
    )
    with engine.connect() as connection:
        persona = revenue_by_persona(connection, ["academic_field", "company_type"])
        category = revenue_by_persona(connection, ["category"], month="2026-01")
        whole = revenue_by_persona(connection, [], by_month=False)
    assert [
        (r["month"], r["currency"], r["revenue"], r["orders"], r["customers"], r["lines"])
        for r in persona
    ] == [("2026-01", "EUR", "70.00", 3, 2, 4), ("2026-01", "USD", "20.00", 1, 1, 1)]
    assert [
        (r["category"], r["currency"], r["revenue"], r["orders"], r["customers"]) for r in category
    ] == [
        ("Hardware", "EUR", "60.00", 3, 2),
        ("Office", "EUR", "10.00", 1, 1),
        ("Hardware", "USD", "20.00", 1, 1),
    ]
    assert [(r["currency"], r["orders"], r["customers"]) for r in whole] == [
        ("EUR", 3, 2),
        ("USD", 1, 1),
    ]


async def test_conversion_counts_leads_who_bought_per_persona(engine: Engine) -> None:
    add_lead(engine, "L1", "ada@example.com")
    add_lead(engine, "L2", "carol@example.com")
    add_lead(engine, "L3", "dan@example.com")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    set_persona(engine, "L1", "engineering", "Startup", at)
    set_persona(engine, "L2", "engineering", "Startup", at)
    set_persona(engine, "L3", "law", None, at)
    await load(
        engine,
        ListSource(
            [
                [
                    record("O1"),
                    record("O2", customer_email="dan@example.com", status="cancelled"),
                    record("O3", customer_email="bob@example.com"),
                ]
            ]
        ),
    )
    with engine.connect() as connection:
        rows = conversion_by_persona(connection)
    assert rows == [
        {
            "academic_field": "engineering",
            "company_type": "Startup",
            "leads": 2,
            "customers": 1,
            "conversion": 0.5,
        },
        {
            "academic_field": "law",
            "company_type": None,
            "leads": 1,
            "customers": 0,
            "conversion": 0.0,
        },
    ]


SUMMARY_CHECK = (
    "SELECT date_id / 100, customer_key, currency, sum(amount), count(DISTINCT order_id), "
    "count(*), sum(quantity) FROM fact_sales WHERE status = 'completed' "
    "GROUP BY date_id / 100, customer_key, currency"
)


def _cents(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _normal(found: list[Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (int(m), int(k), c, _cents(r), int(o), int(n), int(q)) for m, k, c, r, o, n, q in found
    )


def _summary_table(engine: Engine) -> list[tuple[Any, ...]]:
    return _normal(
        rows(
            engine,
            "SELECT month, customer_key, currency, revenue, orders, lines, quantity "
            "FROM sales_monthly",
        )
    )


def _summed_lines(engine: Engine) -> list[tuple[Any, ...]]:
    return _normal(rows(engine, SUMMARY_CHECK))


def assert_summary_is_exact(engine: Engine) -> list[dict[str, Any]]:
    """sales_monthly equals the completed lines aggregated now, and every revenue report that
    reads it equals the same report summed from the lines; the persona report by month."""
    assert _summary_table(engine) == _summed_lines(engine)
    with engine.connect() as connection:
        for by in (["academic_field", "company_type"], ["academic_field"], ["company_type"], []):
            for month in (None, "2025-11", "2025-12", "2026-01"):
                assert revenue_by_persona(connection, by, month=month) == revenue_by_persona(
                    connection, by, month=month, from_facts=True
                ), (by, month)
        return revenue_by_persona(connection, ["academic_field", "company_type"])


def _figures(report: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (r["month"], r["academic_field"], r["currency"], r["revenue"], r["orders"], r["lines"])
        for r in report
    ]


async def test_the_monthly_summary_stays_equal_to_the_lines(engine: Engine) -> None:
    add_lead(engine, "L1", "ada@example.com")
    set_persona(engine, "L1", "engineering", "Startup", datetime(2025, 1, 1, tzinfo=UTC))
    bob = {"customer_email": "bob@example.com"}
    # Orders split across batches, months, currencies; refunded and cancelled lines.
    await load(
        engine,
        ListSource(
            [
                [
                    record("O1", 1),
                    record("O1", 2, quantity="3"),
                    record("O2", 1, order_date="2025-11-20"),
                    record("O3", 1, order_date="2025-12-02", **bob),
                ],
                [
                    record("O3", 2, order_date="2025-12-02", unit_price="7.25", **bob),
                    record("O4", 1, order_date="2026-01-20", currency="USD"),
                    record("O5", 1, order_date="2026-01-21", status="cancelled"),
                    record("O6", 1, order_date="2026-01-12", status="refunded", **bob),
                ],
            ],
            key="k1",
        ),
    )
    assert _figures(assert_summary_is_exact(engine)) == [
        ("2025-11", "engineering", "EUR", "20.00", 1, 1),
        ("2025-12", None, "EUR", "34.50", 1, 2),
        ("2026-01", "engineering", "EUR", "50.00", 1, 2),
        ("2026-01", "engineering", "USD", "20.00", 1, 1),
    ]
    # A later load: a refund, a line re-dated from November into December, a refunded line
    # completed after all, and a replay of a line as it is stored (a duplicate).
    await load(
        engine,
        ListSource(
            [
                [
                    record("O1", 2, quantity="3", status="refunded"),
                    record("O2", 1, order_date="2025-12-03"),
                    record("O6", 1, order_date="2026-01-12", **bob),
                    record("O4", 1, order_date="2026-01-20", currency="USD"),
                ]
            ],
            key="k2",
        ),
    )
    assert rows(engine, "SELECT count(*) FROM sales_monthly WHERE month = 202511") == [(0,)]
    assert _figures(assert_summary_is_exact(engine)) == [
        ("2025-12", None, "EUR", "34.50", 1, 2),
        ("2025-12", "engineering", "EUR", "20.00", 1, 1),
        ("2026-01", None, "EUR", "20.00", 1, 1),
        ("2026-01", "engineering", "EUR", "20.00", 1, 1),
        ("2026-01", "engineering", "USD", "20.00", 1, 1),
    ]
    # A persona change on 2025-12-10: O2 (and O9, arriving late) stay engineering's, the
    # sales from that day on (January's) move to the new row.
    set_persona(engine, "L1", "business", "Mid Market", datetime(2025, 12, 10, 9, tzinfo=UTC))
    await load(
        engine,
        ListSource(
            [
                [
                    record("O7", 1, order_date="2026-01-15"),
                    record("O8", 1),
                    record("O9", 1, order_date="2025-12-05"),
                ]
            ],
            key="k3",
        ),
    )
    assert _figures(assert_summary_is_exact(engine)) == [
        ("2025-12", "engineering", "EUR", "40.00", 2, 2),
        ("2025-12", None, "EUR", "34.50", 1, 2),
        ("2026-01", "business", "EUR", "60.00", 3, 3),
        ("2026-01", None, "EUR", "20.00", 1, 1),
        ("2026-01", "business", "USD", "20.00", 1, 1),
    ]
    # A change applied with nothing to load moves sales already stored (O4 and O7), leaving
    # January split between two rows of the customer.
    set_persona(engine, "L1", "law", None, datetime(2026, 1, 8, tzinfo=UTC))
    await load(engine, ListSource([[]], key="k4"))
    assert _figures(assert_summary_is_exact(engine)) == [
        ("2025-12", "engineering", "EUR", "40.00", 2, 2),
        ("2025-12", None, "EUR", "34.50", 1, 2),
        ("2026-01", "business", "EUR", "40.00", 2, 2),
        ("2026-01", None, "EUR", "20.00", 1, 1),
        ("2026-01", "law", "EUR", "20.00", 1, 1),
        ("2026-01", "law", "USD", "20.00", 1, 1),
    ]


async def test_statistics_are_refreshed_for_the_months_a_load_changed(engine: Engine) -> None:
    await load(
        engine,
        ListSource(
            [[record("O1", order_date="2025-12-31"), record("O2", order_date="2026-01-02")]]
        ),
    )
    refresh_statistics(engine, {202601})
    if engine.dialect.name != "postgresql":
        return
    analysed = rows(
        engine,
        "SELECT tablename, attname, inherited FROM pg_stats "
        "WHERE tablename LIKE 'fact_sales%' OR tablename IN ('sales_monthly', 'sales_keys')",
    )
    facts = {(table, column) for table, column, _inherited in analysed if table != "sales_monthly"}
    assert ("fact_sales_y2026m01", "customer_key") in facts
    assert ("fact_sales_y2026m01", "status") in facts
    # Not the columns no query filters or groups by, not other months, not the parent.
    assert ("fact_sales_y2026m01", "amount") not in facts
    assert not {table for table, _column in facts} - {"fact_sales_y2026m01", "sales_keys"}
    assert ("sales_keys", "order_id") in facts
    assert {column for table, column, _i in analysed if table == "sales_monthly"} >= {
        "customer_key",
        "month",
    }


class Killed(BaseException):
    """Stands for the process dying: nothing in the load catches it."""


class KilledAfter(ListSource):
    """Hands over its batches, then dies before the load's closing steps."""

    async def batches(self, state: Any) -> Any:
        async for batch in super().batches(state):
            yield batch
        raise Killed


def _reports(connection: Any) -> list[Any]:
    return [
        revenue_by_persona(connection, by, month=month)
        for by in (["academic_field", "company_type"], [])
        for month in (None, "2025-12", "2026-01")
    ]


async def test_a_load_killed_before_its_rebuild_leaves_reports_exact(engine: Engine) -> None:
    add_lead(engine, "L1", "ada@example.com")
    add_lead(engine, "L2", "carol@example.com")
    set_persona(engine, "L1", "engineering", "Startup", datetime(2025, 1, 1, tzinfo=UTC))
    set_persona(engine, "L2", "law", None, datetime(2025, 1, 1, tzinfo=UTC))
    await load(
        engine,
        ListSource(
            [
                [
                    record("O1", 1),
                    record("O1", 2, quantity="3"),
                    record("O2", order_date="2025-12-02"),
                ]
            ],
            key="k1",
        ),
    )
    assert rows(engine, "SELECT count(*) FROM sales_monthly_stale") == [(0,)]
    assert_summary_is_exact(engine)
    # Killed after committing its batches: a refund in January, a line re-dated out of
    # December, carol's first purchase (in a month nobody bought in before).
    with pytest.raises(Killed):
        await load(
            engine,
            KilledAfter(
                [
                    [record("O1", 2, quantity="3", status="refunded")],
                    [
                        record("O2", order_date="2026-01-03"),
                        record("O3", customer_email="carol@example.com", order_date="2026-02-01"),
                    ],
                ],
                key="k2",
            ),
        )
    assert sorted(rows(engine, "SELECT month FROM sales_monthly_stale")) == [
        (202512,),
        (202601,),
        (202602,),
    ]
    # The summary table itself is behind the lines: the reports must not trust it there.
    assert _summary_table(engine) != _summed_lines(engine)
    with engine.connect() as connection:
        for by in (["academic_field", "company_type"], ["academic_field"], []):
            for month in (None, "2025-12", "2026-01", "2026-02"):
                assert revenue_by_persona(connection, by, month=month) == revenue_by_persona(
                    connection, by, month=month, from_facts=True
                ), (by, month)
        killed = _reports(connection)
        assert [
            (r["academic_field"], r["customers"]) for r in conversion_by_persona(connection)
        ] == [
            ("engineering", 1),
            ("law", 1),
        ]
        assert _figures(revenue_by_persona(connection, ["academic_field"])) == [
            ("2026-01", "engineering", "EUR", "40.00", 2, 2),
            ("2026-02", "law", "EUR", "20.00", 1, 1),
        ]
    # The next load, with nothing new, finishes the rebuild.
    await load(engine, ListSource([[]], key="k3"))
    assert rows(engine, "SELECT count(*) FROM sales_monthly_stale") == [(0,)]
    if engine.dialect.name == "postgresql":  # known empty to the planner
        stale = "SELECT reltuples FROM pg_class WHERE relname = 'sales_monthly_stale'"
        assert rows(engine, stale) == [(0,)]
    assert_summary_is_exact(engine)
    with engine.connect() as connection:
        assert _reports(connection) == killed


async def test_a_rebuild_beside_a_batch_marking_a_month_stale_again_misses_none_of_its_lines(
    engine: Engine,
) -> None:
    add_lead(engine, "L1", "ada@example.com")
    with pytest.raises(Killed):  # leaves January stale
        await load(engine, KilledAfter([[record("O1", 1, order_date="2026-01-03")]], key="k1"))
    assert rows(engine, "SELECT month FROM sales_monthly_stale") == [(202601,)]
    # A batch of another load changes a January line and marks January stale again, and a
    # rebuild of the stale months runs before that batch commits.
    batch = engine.connect()
    try:
        batch.begin()
        batch.execute(text("UPDATE fact_sales SET quantity = quantity + 4"))
        mark_stale(batch, [202601])
        rebuild = threading.Thread(target=finish_stale, args=(engine,))
        rebuild.start()
        rebuild.join(timeout=0.5)
        batch.commit()
        rebuild.join(timeout=30)
        assert not rebuild.is_alive()
    finally:
        batch.close()
    await load(engine, ListSource([[]], key="k2"))  # rebuilds whatever is still stale

    assert rows(engine, "SELECT quantity FROM sales_monthly") == [(6,)]
    assert_summary_is_exact(engine)


class WatchesOctober(ListSource):
    """Before its last batch, waits (a few seconds at most) for October's ``sales_monthly``
    rows to be rebuilt while the load is still going on."""

    def __init__(self, engine: Engine, batches: Any) -> None:
        super().__init__(batches)
        self.engine = engine
        self.seen_during_load: list[Any] = []

    async def batches(self, state: Any) -> Any:
        count = len(self._batches)
        async for batch in super().batches(state):
            if batch.checkpoint["batches"] == count and self.engine.dialect.name == "postgresql":
                for _ in range(250):
                    found = rows(
                        self.engine,
                        "SELECT count(*) FROM sales_monthly_stale WHERE month = 202510",
                    )
                    october = rows(
                        self.engine, "SELECT count(*) FROM sales_monthly WHERE month = 202510"
                    )
                    if found == [(0,)] and october != [(0,)]:
                        self.seen_during_load = october
                        break
                    await asyncio.sleep(0.02)
            yield batch


async def test_months_no_batch_in_flight_touches_are_finished_during_the_load(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sales_load_service, "ANALYZE_AFTER", 1)  # analysed as they finish
    # Lines in date order, as a backfill brings them: October is done after the first batch,
    # then changed again by the last one (a refund of an October line, beside a replay).
    october = [record(f"O{n}", order_date=f"2025-10-{n:02d}") for n in range(1, 6)]
    november = [record(f"N{n}", order_date=f"2025-11-{n:02d}") for n in range(1, 6)]
    december = [record(f"D{n}", order_date=f"2025-12-{n:02d}") for n in range(1, 6)]
    refund = [record("O1", order_date="2025-10-01", status="refunded")]
    source = WatchesOctober(engine, [october, november, december, december[:1] + refund])
    report = await load(engine, source)
    check_balance(report)
    files = report.sources["files"]
    assert (files.inserted, files.updated, files.duplicates) == (15, 1, 1)
    if engine.dialect.name == "postgresql":
        # Rebuilt while the load went on (SQLite's writers take turns: it rebuilds at the end).
        assert source.seen_during_load == [(1,)]
    assert rows(engine, "SELECT count(*) FROM sales_monthly_stale") == [(0,)]
    assert_summary_is_exact(engine)
    assert rows(
        engine, "SELECT revenue, orders, lines FROM sales_monthly WHERE month = 202510"
    ) == [(Decimal("80.00"), 4, 4)]
    if engine.dialect.name == "postgresql":
        analysed = rows(
            engine,
            "SELECT DISTINCT tablename FROM pg_stats WHERE tablename LIKE 'fact_sales_%' "
            "AND attname = 'customer_key' ORDER BY tablename",
        )
        assert analysed == [
            ("fact_sales_y2025m10",),
            ("fact_sales_y2025m11",),
            ("fact_sales_y2025m12",),
        ]


async def test_keys_claimed_by_a_load_killed_before_its_batch_committed_heal(
    engine: Engine,
) -> None:
    # What a load leaves when it dies after claiming a batch's keys ahead of the batch's own
    # transaction: keys in sales_keys, no lines.
    lines = [record("O1"), record("O1", 2), record("O2", order_date="2026-01-09")]
    upgrade(engine)
    cleaner = SalesCleaner(today=NOW.date())
    try:
        cleaned = cleaner.clean(raw_table(lines))
    finally:
        cleaner.close()
    writer = SalesWriter("killed")
    with engine.begin() as connection:
        prepared = writer.prepare(connection, cleaned.lines, "files")
    with engine.begin() as connection:
        claimed = writer.claim(connection, prepared)
    assert claimed is (engine.dialect.name == "postgresql")
    report = await load(engine, ListSource([lines]))
    check_balance(report)
    files = report.sources["files"]
    assert (files.inserted, files.updated, files.duplicates) == (3, 0, 0)
    assert rows(engine, "SELECT order_id, line_no FROM fact_sales ORDER BY 1, 2") == [
        ("O1", 1),
        ("O1", 2),
        ("O2", 1),
    ]
    assert rows(engine, "SELECT count(*) FROM sales_keys") == [(3,)]
    assert_summary_is_exact(engine)


async def test_a_batch_sharing_keys_with_a_staged_batch_before_it_stores_each_line_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    await load(engine, ListSource([[record("A1"), record("A2")]], key="first"))
    stage = SalesWriter._stage

    def slow_stage(self: SalesWriter, connection: Any, fact: Any) -> None:
        time.sleep(0.3)  # the next batch's keys are claimed meanwhile, unless it waits
        stage(self, connection, fact)

    monkeypatch.setattr(SalesWriter, "_stage", slow_stage)
    # Batch 2 holds a stored line (staged: its own transaction stores its keys, C1 among
    # them); batch 3, prepared while batch 2 is written, brings C1 again and a new line.
    report = await load(
        engine,
        ListSource(
            [
                [record("B1"), record("B2")],
                [record("A1", status="refunded"), record("C1"), record("C2")],
                [record("C1", quantity="5"), record("D1")],
            ],
            key="second",
        ),
    )
    check_balance(report)
    files = report.sources["files"]
    assert (files.read, files.inserted, files.updated, files.duplicates) == (7, 5, 2, 0)
    stored = rows(engine, "SELECT order_id, status, quantity FROM fact_sales ORDER BY order_id")
    assert stored == [
        ("A1", "refunded", 2),
        ("A2", "completed", 2),
        ("B1", "completed", 2),
        ("B2", "completed", 2),
        ("C1", "completed", 5),
        ("C2", "completed", 2),
        ("D1", "completed", 2),
    ]
    assert rows(engine, "SELECT count(*) FROM sales_keys") == [(7,)]
    assert_summary_is_exact(engine)


async def test_two_loads_at_once_take_turns_and_store_each_line_once(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    upgrade(engine)
    first = ListSource([[record(f"O{n}") for n in range(200)]] * 3, key="one")
    second = ListSource(
        [[record(f"O{n}", status="refunded") for n in range(100, 300)]] * 3, key="two"
    )
    reports = await asyncio.gather(load(engine, first), load(engine, second))
    for report in reports:
        check_balance(report)
    assert rows(engine, "SELECT count(*), count(DISTINCT order_id) FROM fact_sales") == [(300, 300)]
    assert rows(engine, "SELECT count(*) FROM sales_keys") == [(300,)]
    refunded = rows(engine, "SELECT count(*) FROM fact_sales WHERE status = 'refunded'")
    # Whichever load came second superseded the lines both hold.
    assert refunded in ([(200,)], [(100,)])
    assert_summary_is_exact(engine)
    if engine.dialect.name == "postgresql":
        assert "another sales load is running" in caplog.text


def test_a_new_months_partition_is_made_while_a_batch_is_written(engine: Engine) -> None:
    upgrade(engine)
    if engine.dialect.name != "postgresql":
        with engine.connect() as connection:
            assert ensure_partitions(connection, [20260105]) == []
        return
    with engine.begin() as connection:
        ensure_partitions(connection, [20260105])
    with engine.connect() as writing, engine.connect() as preparing:
        # A batch being written holds its lock on fact_sales until it commits.
        writing.execute(
            text(
                "INSERT INTO fact_sales (order_id, line_no, date_id, product_key, customer_key,"
                " quantity, unit_price, discount, amount, currency, status, source) VALUES"
                " ('O1', 1, 20260105, 1, 1, 1, 1, 0, 1, 'EUR', 'completed', 'files')"
            )
        )
        preparing.execute(text("SET lock_timeout = '2s'"))
        assert ensure_partitions(preparing, [20260205]) == ["fact_sales_y2026m02"]
        preparing.commit()
        writing.commit()
    assert rows(
        engine,
        "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c "
        "WHERE c.relname = 'fact_sales_y2026m02'",
    ) == [("FOR VALUES FROM (20260200) TO (20260300)",)]


async def test_a_load_cancelled_while_another_holds_the_lock_leaves_nothing_behind(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    if engine.dialect.name != "postgresql":
        return
    upgrade(engine)
    with engine.connect() as holder:
        holder.execute(text(f"SELECT pg_advisory_lock({LOAD_LOCK})"))
        waiting = asyncio.ensure_future(load(engine, ListSource([[record("O1")]])))
        for _ in range(100):  # until it waits for the lock
            if "another sales load is running" in caplog.text:
                break
            await asyncio.sleep(0.05)
        assert "another sales load is running" in caplog.text
        assert not waiting.done()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(waiting, 5)
        holders = rows(
            engine,
            f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            f"AND objid = {LOAD_LOCK & 0xFFFFFFFF}",
        )
        assert holders == [(1,)]  # only the holder
        holder.execute(text(f"SELECT pg_advisory_unlock({LOAD_LOCK})"))
        holder.commit()
    await asyncio.sleep(0.5)  # nothing left waiting takes the lock once it is free
    assert rows(
        engine,
        f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
        f"AND objid = {LOAD_LOCK & 0xFFFFFFFF}",
    ) == [(0,)]
    report = await load(engine, ListSource([[record("O1")]]))
    assert report.sources["files"].inserted == 1
