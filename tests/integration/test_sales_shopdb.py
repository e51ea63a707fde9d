"""The shop database source and the demo shop, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from leadpersona.errors import ConfigError, DatabaseError, InvalidInput
from leadpersona.sales.cleaning import SalesCleaner
from leadpersona.sales.records import FIELDS, SourceBatch
from leadpersona.sales.shop_db import (
    SHOP_SEED_OFFSET,
    create_demo_shop,
    create_shop_engine,
    first_orders,
    metadata,
    order_lines,
    orders,
    products,
    refund_order,
    set_order_status,
)
from leadpersona.sales.sources.shopdb import ShopDbSource, _dates
from leadpersona.sales.synthetic import PRODUCTS, default_customers, synthetic_sales
from tests.warehouse_support import warehouse_factory

__all__ = ["warehouse_factory"]

START, END = date(2026, 1, 1), date(2026, 1, 6)
PER_DAY = 12


@pytest.fixture
def shop(warehouse_factory: Callable[[], str]) -> Iterator[Engine]:
    """An empty shop database (its engine), on each dialect."""
    engine = create_shop_engine(warehouse_factory())
    try:
        yield engine
    finally:
        engine.dispose()


def expected_lines(
    start: date = START, end: date = END, *, per_day: int = PER_DAY
) -> list[dict[str, Any]]:
    """The demo shop's lines (seed 0, no overlap), in the source's keyset order."""
    lines = [
        {**r, "order_id": "SHOP-" + r["order_id"].removeprefix("SO-")}
        for r in synthetic_sales(
            start,
            end,
            seed=SHOP_SEED_OFFSET,
            customers=default_customers(0),
            orders_per_day=per_day,
        )
    ]
    return sorted(lines, key=lambda r: (r["order_date"], r["order_id"], r["line_no"]))


async def read(source: ShopDbSource, state: Mapping[str, Any] | None = None) -> list[SourceBatch]:
    return [batch async for batch in source.batches(state or {})]


def rows(batches: list[SourceBatch]) -> list[dict[str, Any]]:
    return [row for batch in batches for row in batch.records.to_pylist()]


def same_line(got: Mapping[str, Any], want: Mapping[str, Any]) -> None:
    """``got`` (a raw record of strings) holds the values of synthetic record ``want``."""
    for name in ("order_id", "order_date", "customer_email", "product_sku", "currency"):
        assert got[name] == want[name], name
    for name in ("product_name", "category", "status"):
        assert got[name] == want[name], name
    assert got["line_no"] == str(want["line_no"])
    assert got["quantity"] == str(want["quantity"])
    for name in ("unit_price", "discount"):
        assert Decimal(got[name]) == Decimal(want[name]), name
        assert got[name] == format(Decimal(want[name]).normalize(), "f"), name


def test_demo_shop_is_created_once_and_is_not_the_apis_stream(shop: Engine) -> None:
    want = expected_lines()
    assert create_demo_shop(shop, start=START, end=END, orders_per_day=PER_DAY) == len(want)
    assert create_demo_shop(shop, start=START, end=END, orders_per_day=PER_DAY) == 0
    # A longer range writes only the new days.
    longer = create_demo_shop(
        shop, start=START, end=END + timedelta(days=1), orders_per_day=PER_DAY
    )
    assert longer == len(expected_lines(END + timedelta(days=1), END + timedelta(days=1)))
    with shop.connect() as connection:
        assert (
            connection.scalar(select(func.count()).select_from(order_lines)) == len(want) + longer
        )
        skus = set(connection.scalars(select(products.c.sku)))
        ids = set(connection.scalars(select(orders.c.order_id)))
    assert skus == {p[0] for p in PRODUCTS}
    assert all(i.startswith("SHOP-") for i in ids)
    # Same customers as the API's, other order lines.
    api = list(synthetic_sales(START, END, orders_per_day=PER_DAY))
    shop_keys = {(r["order_date"], r["customer_email"]) for r in want}
    assert not shop_keys & {(r["order_date"], r["customer_email"]) for r in api}
    assert {r["customer_email"] for r in want} <= set(default_customers(0))


def test_demo_shop_overlap_holds_the_apis_first_orders(shop: Engine) -> None:
    written = create_demo_shop(shop, start=START, end=START, orders_per_day=3, api_overlap=2)
    api = [r for r in synthetic_sales(START, START) if r["order_id"] <= "SO-20260101-00002"]
    with shop.connect() as connection:
        keys = set(connection.execute(select(order_lines.c.order_id, order_lines.c.line_no)))
    assert {(r["order_id"], r["line_no"]) for r in api} <= keys
    assert written == len(keys) == len(api) + len(expected_lines(START, START, per_day=3))


def test_bad_demo_range_and_bad_url_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match="shop database URL"):
        create_shop_engine("nosuchdialect://x/y")
    engine = create_shop_engine("sqlite://")
    try:
        with pytest.raises(InvalidInput, match="before its start"):
            create_demo_shop(engine, start=END, end=START)
        with pytest.raises(InvalidInput, match="chunk_lines"):
            create_demo_shop(engine, start=START, end=END, chunk_lines=0)
    finally:
        engine.dispose()


async def test_an_in_memory_shop_is_one_database_for_every_thread() -> None:
    engine = create_shop_engine("sqlite://")
    try:
        written = create_demo_shop(engine, start=START, end=START, orders_per_day=PER_DAY)
        got = rows(await read(ShopDbSource(engine, batch_rows=7)))
        assert len(got) == written == len(expected_lines(START, START))
    finally:
        engine.dispose()


async def test_source_reads_every_line_in_batches_as_strings(shop: Engine) -> None:
    create_demo_shop(shop, start=START, end=END, orders_per_day=PER_DAY)
    want = expected_lines()
    source = ShopDbSource(shop, batch_rows=25)
    batches = await read(source)
    assert [b.records.num_rows for b in batches[:-1]] == [25] * (len(batches) - 1)
    assert 0 < batches[-1].records.num_rows <= 25
    assert [b.first_row for b in batches] == [1 + 25 * i for i in range(len(batches))]
    for batch in batches:
        assert batch.source == "db" and batch.location == "orders"
        assert batch.checkpoint_key == "db"
        assert batch.records.column_names == list(FIELDS)
        assert all(str(t) == "string" for t in batch.records.schema.types)
        last = batch.records.to_pylist()[-1]
        assert batch.checkpoint == {
            "updated_at": last["order_date"].removesuffix("Z"),
            "order_id": last["order_id"],
            "line_no": int(last["line_no"]),
        }
    got = rows(batches)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        same_line(g, w)
    assert shop.pool.checkedout() == 0


async def test_resume_after_a_checkpoint_reads_only_later_lines(shop: Engine) -> None:
    create_demo_shop(shop, start=START, end=END, orders_per_day=PER_DAY)
    source = ShopDbSource(shop, batch_rows=10, checkpoint_key="shop")
    batches = await read(source)
    everything = rows(batches)
    for k in (0, 3, len(batches) - 2):
        later = rows(await read(source, {"shop": batches[k].checkpoint}))
        assert later == everything[10 * (k + 1) :]
    # Another key's checkpoint is not this source's.
    assert rows(await read(source, {"db": batches[3].checkpoint})) == everything
    assert await read(source, {"shop": batches[-1].checkpoint}) == []


async def test_a_refund_is_read_again_on_the_next_pass(shop: Engine) -> None:
    create_demo_shop(shop, start=START, end=END, orders_per_day=PER_DAY)
    source = ShopDbSource(shop, batch_rows=50)
    first = await read(source)
    done = {"db": first[-1].checkpoint}
    assert await read(source, done) == []
    order_id = first_orders(shop, 3)[2]
    before = [r for r in rows(first) if r["order_id"] == order_id]
    assert refund_order(shop, order_id, datetime(2026, 2, 1, 9, 30, tzinfo=UTC))
    assert not refund_order(shop, "SHOP-NO-SUCH-ORDER", datetime(2026, 2, 1, tzinfo=UTC))
    again = await read(source, done)
    changed = rows(again)
    assert [r["line_no"] for r in changed] == [r["line_no"] for r in before]
    assert all(r["status"] == "refunded" for r in changed)
    assert [{**r, "status": None} for r in changed] == [{**r, "status": None} for r in before]
    assert again[-1].checkpoint["updated_at"] == "2026-02-01T09:30:00"
    assert await read(source, {"db": again[-1].checkpoint}) == []
    with pytest.raises(InvalidInput, match="status must be one of"):
        set_order_status(shop, order_id, "shipped", datetime(2026, 2, 2))


def add_orders(engine: Engine, count: int, lines: int, at: datetime, sku: str) -> None:
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(orders),
            [
                {
                    "order_id": f"T-{n:03d}",
                    "customer_email": f"c{n}@example.com",
                    "order_date": at,
                    "status": "completed",
                    "currency": "EUR",
                    "updated_at": at,
                }
                for n in range(count)
            ],
        )
        connection.execute(
            insert(order_lines),
            [
                {
                    "order_id": f"T-{n:03d}",
                    "line_no": line,
                    "product_sku": sku,
                    "quantity": line,
                    "unit_price": Decimal("10.50"),
                    "discount": None,
                }
                for n in range(count)
                for line in range(1, lines + 1)
            ],
        )


async def test_lines_with_one_updated_at_across_batch_boundaries(shop: Engine) -> None:
    add_orders(shop, 7, 3, datetime(2026, 3, 1, 12, 0, 0), "NOT-IN-PRODUCTS")
    source = ShopDbSource(shop, batch_rows=4)
    batches = await read(source)
    keys = [(r["order_id"], r["line_no"]) for r in rows(batches)]
    assert keys == [(f"T-{n:03d}", str(line)) for n in range(7) for line in (1, 2, 3)]
    for k, batch in enumerate(batches):
        later = [
            (r["order_id"], r["line_no"])
            for r in rows(await read(source, {"db": batch.checkpoint}))
        ]
        assert later == keys[4 * (k + 1) :]
    # A product missing from products: the line is read, without a name or a category.
    first = rows(batches)[0]
    assert first["product_sku"] == "NOT-IN-PRODUCTS"
    assert first["product_name"] is None and first["category"] is None
    assert first["discount"] is None and first["unit_price"] == "10.5"


async def test_a_batch_cleans_without_rejections(shop: Engine) -> None:
    create_demo_shop(shop, start=START, end=END, orders_per_day=PER_DAY, api_overlap=2)
    add_orders(shop, 2, 2, datetime(2026, 1, 3, 8, 0, 0), "NOT-IN-PRODUCTS")
    batches = await read(ShopDbSource(shop, batch_rows=1000))
    assert len(batches) == 1
    cleaner = SalesCleaner(today=date(2026, 2, 1))
    try:
        cleaned = cleaner.clean(batches[0].records)
    finally:
        cleaner.close()
    assert cleaned.rejected == [] and cleaned.duplicates == 0
    assert cleaned.lines.num_rows == cleaned.read == batches[0].records.num_rows
    assert str(cleaned.lines.column("order_date")[0].as_py()) == rows(batches)[0]["order_date"][:10]


async def test_an_early_stop_gives_the_connection_back(shop: Engine) -> None:
    create_demo_shop(shop, start=START, end=END, orders_per_day=PER_DAY)
    source = ShopDbSource(shop, batch_rows=5)
    stream = source.batches({})
    batch = await anext(stream)
    assert batch.records.num_rows == 5
    assert shop.pool.checkedout() == 1
    await stream.aclose()
    assert shop.pool.checkedout() == 0
    # aclose() of the source releases a pass its consumer left open.
    other = source.batches({})
    await anext(other)
    assert shop.pool.checkedout() == 1
    await source.aclose()
    assert shop.pool.checkedout() == 0
    await other.aclose()
    assert shop.pool.checkedout() == 0


async def test_settle_holds_back_lines_changed_too_recently(shop: Engine) -> None:
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    add_orders(shop, 2, 1, now - timedelta(hours=2), "SW-CRM-001")
    with shop.begin() as connection:
        connection.execute(
            orders.update().where(orders.c.order_id == "T-001").values(updated_at=now)
        )
    settled = ShopDbSource(shop, settle=timedelta(minutes=10))
    assert [r["order_id"] for r in rows(await read(settled))] == ["T-000"]
    assert [r["order_id"] for r in rows(await read(ShopDbSource(shop)))] == ["T-000", "T-001"]
    with pytest.raises(ValueError, match="settle"):
        ShopDbSource(shop, settle=timedelta(seconds=-1))


async def test_bad_checkpoints_and_missing_tables_are_one_line_errors(shop: Engine) -> None:
    source = ShopDbSource(shop)
    with pytest.raises(DatabaseError, match="shop database"):
        await read(source)
    assert shop.pool.checkedout() == 0
    metadata.create_all(shop)
    with pytest.raises(InvalidInput, match="checkpoint is not readable"):
        await read(source, {"db": {"updated_at": "yesterday", "order_id": "x", "line_no": 1}})
    with pytest.raises(InvalidInput, match="checkpoint is not readable"):
        await read(source, {"db": {"order_id": "x"}})


async def test_order_dates_are_iso_text_with_a_fraction_only_when_there_is_one(
    shop: Engine,
) -> None:
    metadata.create_all(shop)
    moments = [
        datetime(2026, 1, 2, 3, 4, 5),
        datetime(2026, 1, 2, 3, 4, 5, 120000),
        datetime(2026, 1, 2, 3, 4, 50, 7),
        None,
    ]
    with shop.begin() as connection:
        for n, moment in enumerate(moments):
            connection.execute(
                insert(orders).values(
                    order_id=f"D-{n}",
                    customer_email="d@example.com",
                    order_date=moment,
                    status="completed",
                    currency="EUR",
                    updated_at=datetime(2026, 1, 3),
                )
            )
            connection.execute(
                insert(order_lines).values(
                    order_id=f"D-{n}", line_no=1, product_sku="SW-CRM-001", quantity=1
                )
            )
    got = [r["order_date"] for r in rows(await read(ShopDbSource(shop)))]
    want = [None if m is None else m.isoformat() + "Z" for m in moments]
    assert got == want
    # Text (some drivers hand it over), dates and aware date-times as ISO 8601 too.
    assert _dates(moments).to_pylist() == want
    aware = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert _dates([aware, date(2026, 1, 2)]).to_pylist() == [aware.isoformat(), "2026-01-02"]


async def test_the_shop_writes_while_a_pass_streams_and_the_change_is_read_after(
    shop: Engine,
) -> None:
    create_demo_shop(shop, start=START, end=END, orders_per_day=PER_DAY)
    source = ShopDbSource(shop, batch_rows=10)
    stream = source.batches({})
    first = [await anext(stream)]
    order_id = first[0].records.column("order_id")[0].as_py()
    # The shop's write is not blocked by the open pass (SQLite in WAL mode, PostgreSQL MVCC).
    assert refund_order(shop, order_id, datetime(2026, 3, 1))
    passed = first + [batch async for batch in stream]
    later = await read(source, {"db": passed[-1].checkpoint})
    seen = [r for r in rows(passed) + rows(later) if r["order_id"] == order_id]
    assert seen[0]["status"] == expected_lines()[0]["status"]
    assert seen[-1]["status"] == "refunded"
    assert len(rows(passed)) + len(rows(later)) == len(expected_lines()) + len(seen) // 2
    assert shop.pool.checkedout() == 0
