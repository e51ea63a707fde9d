"""The shop database (SPEC section 7): the operational schema sales are read from, and a demo shop.

Tables (SQLAlchemy Core, :data:`metadata`)::

    orders(order_id PK, customer_email, order_date, status, currency, updated_at NOT NULL)
    order_lines(order_id FK -> orders, line_no, product_sku, quantity, unit_price, discount;
                PK (order_id, line_no))
    products(sku PK, name, category)

``order_date`` and ``updated_at`` are date-times without a time zone, in UTC. ``updated_at`` is
the time an order (or any of its lines) last changed: the shop source
(:class:`leadpersona.sales.sources.shopdb.ShopDbSource`) reads incrementally by it, so whatever
writes to the shop must bump it on every change (:func:`set_order_status` does). It is indexed
together with ``order_id``, the order the source reads in.

The demo shop (:func:`create_demo_shop`) holds the synthetic order lines
(:mod:`leadpersona.sales.synthetic`) of a date range, bought by the same customers as the mock
sales API's (the demo's leads), but mostly *other* orders: drawn with another seed
(``seed + SHOP_SEED_OFFSET``) and numbered ``SHOP-YYYYMMDD-NNNNN``, so that the API and the shop
add up rather than repeat each other. ``api_overlap`` orders a day are the API's own first
orders of that day, with their ``SO-...`` numbers: the same order line from two sources, which
the warehouse stores as one sale.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from leadpersona.adapters.warehouse.engine import safe_url, sqlite_pragmas
from leadpersona.errors import ConfigError, DatabaseError, InvalidInput
from leadpersona.sales.records import STATUSES
from leadpersona.sales.synthetic import (
    DEFAULT_ORDERS_PER_DAY,
    PRODUCTS,
    default_customers,
    synthetic_day,
)

__all__ = [
    "SHOP_SEED_OFFSET",
    "create_demo_shop",
    "create_shop_engine",
    "first_orders",
    "metadata",
    "order_lines",
    "orders",
    "products",
    "refund_order",
    "set_order_status",
    "shop_errors",
    "to_utc_naive",
]

#: Added to the demo's seed to draw the shop's own orders (the mock API draws with the seed).
SHOP_SEED_OFFSET = 7919

metadata = MetaData()

orders = Table(
    "orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("customer_email", String(320)),
    Column("order_date", DateTime(timezone=False)),
    Column("status", String(32)),
    Column("currency", String(8)),
    Column("updated_at", DateTime(timezone=False), nullable=False),
    Index("ix_orders_updated_at", "updated_at", "order_id"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", String(64), ForeignKey("orders.order_id"), primary_key=True),
    Column("line_no", Integer, primary_key=True, autoincrement=False),
    Column("product_sku", String(64)),
    Column("quantity", Integer),
    Column("unit_price", Numeric(18, 4)),
    Column("discount", Numeric(6, 4)),
)

products = Table(
    "products",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("name", String(300)),
    Column("category", String(120)),
)

# Ids per IN (...) list: well under SQLite's limit on bound parameters.
_IN_CHUNK = 500


def create_shop_engine(url: str, *, pool_size: int = 5) -> Engine:
    """A pooled engine for the shop database at ``url`` (connections checked before use).

    On PostgreSQL the pool keeps ``pool_size`` connections and opens up to as many more under
    load, recycling them after 30 minutes; SQLite gets foreign keys enforced and WAL, so a
    long read does not block the shop's writers; an in-memory SQLite shop is one database
    shared by every thread (for demos and tests).
    """
    try:
        parsed = make_url(url)
        options: dict[str, Any] = {"pool_pre_ping": True}
        if parsed.get_backend_name() != "sqlite":
            options.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
        elif parsed.database in (None, "", ":memory:"):
            # One in-memory database, whichever thread asks (the source reads on its own).
            options.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        engine = create_engine(parsed, **options)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"cannot use the shop database URL {safe_url(url)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", sqlite_pragmas)
    return engine


def shop_errors(engine: Engine, exc: SQLAlchemyError) -> DatabaseError:
    """One :class:`DatabaseError` line for a failure of the shop database (no password)."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = detail[0][:300] if detail else type(exc).__name__
    return DatabaseError(f"shop database {safe_url(str(engine.url))}: {first}")


def to_utc_naive(moment: datetime) -> datetime:
    """``moment`` in UTC without a time zone (as the shop stores it); naive values are UTC."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _parse_when(text: str) -> datetime:
    return to_utc_naive(datetime.fromisoformat(text))


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _day_records(
    day: date, *, seed: int, orders_per_day: int, api_overlap: int
) -> list[dict[str, Any]]:
    """The demo shop's order lines of ``day`` (see the module docstring)."""
    customers = default_customers(seed)
    records = [
        {**record, "order_id": "SHOP-" + record["order_id"].removeprefix("SO-")}
        for record in synthetic_day(
            day,
            seed=seed + SHOP_SEED_OFFSET,
            customers=customers,
            orders_per_day=orders_per_day,
        )
    ]
    if api_overlap:
        # The API's first orders of a day do not depend on how many it makes that day.
        records += synthetic_day(day, seed=seed, orders_per_day=api_overlap)
    return records


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def _write_chunk(engine: Engine, records: list[dict[str, Any]]) -> int:
    """Insert the orders of ``records`` not in the shop yet (one transaction); lines written.

    On PostgreSQL the tables are analysed after each chunk: a pooled connection keeps the
    plans it made while the tables were nearly empty (the foreign key check, the lookup of
    orders already there), which then scan whole tables, so filling slowed down with every
    chunk when autovacuum had not analysed them yet (a million lines: 11 minutes instead of
    under two).
    """
    with engine.begin() as connection:
        written = _insert_new(connection, records)
    if written and engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE orders, order_lines"))
    return written


def _insert_new(connection: Connection, records: list[dict[str, Any]]) -> int:
    """Insert the orders of ``records`` not in the shop yet; the number of lines written."""
    by_order: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_order.setdefault(record["order_id"], []).append(record)
    ids = list(by_order)
    existing: set[str] = set()
    for part in _chunks(ids, _IN_CHUNK):
        existing.update(
            connection.scalars(select(orders.c.order_id).where(orders.c.order_id.in_(part)))
        )
    order_rows: list[dict[str, Any]] = []
    line_rows: list[dict[str, Any]] = []
    for order_id, lines in by_order.items():
        if order_id in existing:
            continue
        first = lines[0]
        when = _parse_when(first["order_date"])
        order_rows.append(
            {
                "order_id": order_id,
                "customer_email": first["customer_email"],
                "order_date": when,
                "status": first["status"],
                "currency": first["currency"],
                "updated_at": when,
            }
        )
        line_rows.extend(
            {
                "order_id": order_id,
                "line_no": int(line["line_no"]),
                "product_sku": line["product_sku"],
                "quantity": int(line["quantity"]),
                "unit_price": Decimal(line["unit_price"]),
                "discount": Decimal(line["discount"]),
            }
            for line in lines
        )
    if order_rows:
        connection.execute(insert(orders), order_rows)
        connection.execute(insert(order_lines), line_rows)
    return len(line_rows)


def create_demo_shop(
    engine: Engine,
    *,
    start: date,
    end: date,
    seed: int = 0,
    orders_per_day: int = DEFAULT_ORDERS_PER_DAY,
    api_overlap: int = 0,
    chunk_lines: int = 20_000,
) -> int:
    """Create the shop tables if needed and fill them with the demo orders of ``start`` to ``end``.

    Idempotent: orders already in the shop are left as they are (a refund made since stays), so
    running it again writes nothing, and a longer range writes only the new days. Written in
    transactions of about ``chunk_lines`` lines. Returns the number of order lines written.
    """
    if end < start:
        raise InvalidInput("the demo shop's end date is before its start date")
    if orders_per_day < 0 or api_overlap < 0:
        raise InvalidInput("orders per day must not be negative")
    if chunk_lines < 1:
        raise InvalidInput("chunk_lines must be at least 1")
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            known = set(connection.scalars(select(products.c.sku)))
            missing = [
                {"sku": sku, "name": name, "category": category}
                for sku, name, category, _price in PRODUCTS
                if sku not in known
            ]
            if missing:
                connection.execute(insert(products), missing)
        written = 0
        pending: list[dict[str, Any]] = []
        for day in _days(start, end):
            pending += _day_records(
                day, seed=seed, orders_per_day=orders_per_day, api_overlap=api_overlap
            )
            if len(pending) >= chunk_lines:
                written += _write_chunk(engine, pending)
                pending = []
        if pending:
            written += _write_chunk(engine, pending)
    except SQLAlchemyError as exc:
        raise shop_errors(engine, exc) from None
    return written


def set_order_status(engine: Engine, order_id: str, status: str, at: datetime) -> bool:
    """Give an order a new ``status``, changed ``at`` (``updated_at``); False if no such order."""
    if status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    try:
        with engine.begin() as connection:
            result = connection.execute(
                update(orders)
                .where(orders.c.order_id == order_id)
                .values(status=status, updated_at=to_utc_naive(at))
            )
            return bool(result.rowcount)
    except SQLAlchemyError as exc:
        raise shop_errors(engine, exc) from None


def refund_order(engine: Engine, order_id: str, at: datetime) -> bool:
    """Refund an order ``at`` that time (a later change the next read picks up)."""
    return set_order_status(engine, order_id, "refunded", at)


def first_orders(engine: Engine, count: int) -> list[str]:
    """The ids of the first ``count`` orders (by id), e.g. to pick some to refund in a demo."""
    try:
        with engine.connect() as connection:
            return list(
                connection.scalars(
                    select(orders.c.order_id).order_by(orders.c.order_id).limit(count)
                )
            )
    except SQLAlchemyError as exc:
        raise shop_errors(engine, exc) from None
