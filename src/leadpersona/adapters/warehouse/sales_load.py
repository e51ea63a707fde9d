"""Writes cleaned sales batches into the star schema, one transaction per batch.

A batch's order lines, its rejected records, its counts and its source's checkpoint are
committed together, so a load killed at any point loses nothing and stores nothing twice: the
next load resumes after the last committed checkpoint.

Within a batch (SQLAlchemy Core, set-based; steps 1 and 2 are :meth:`SalesWriter.prepare`,
which on PostgreSQL the load commits on its own while the previous batch is written):

1. ``dim_date`` gets the missing days; ``dim_product`` the new SKUs (name and category updated
   when a record brings other ones); ``dim_customer`` a first row for each new email, with the
   lead of that email (if any) and its persona, valid from the beginning of time.
2. The fact rows get their surrogate keys (the customer row valid at the order date).
3. ``sales_keys`` (one row per order line: where it is stored) says whether any line is stored
   already. On PostgreSQL the batch's keys are copied into it optimistically: when none is
   known (the usual case) that succeeds and the lines go by ``COPY`` straight into
   ``fact_sales``; when its primary key refuses the copy, the copy is rolled back to a
   savepoint and the lines are staged (always so on SQLite). The load makes that copy ahead
   of the batch's transaction, in one of its own (:meth:`SalesWriter.claim`), while the
   previous batch is written. Staged rows identical to a stored sale are duplicates and
   dropped; stored sales with a staged key are superseded (deleted, found in their partition
   through ``sales_keys``); the staged rows are inserted. On PostgreSQL the monthly
   partitions they need are created first.
4. The months the batch changed (those of the lines it stored and of the lines they
   superseded: a re-dated line leaves its old month) are recorded in ``sales_monthly_stale``.
   :func:`rebuild_stale` rebuilds their ``sales_monthly`` rows once no batch in flight
   touches them, or at the end of the load (and at the start of the next, when a load was
   killed in between); the reports take the stale months from the lines meanwhile.

:func:`refresh_customers` applies persona changes (type 2) once per load, and rebuilds the
``sales_monthly`` rows of the customer rows it moved sales between.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from bisect import bisect_right
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import psycopg.errors
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Numeric,
    Select,
    String,
    Table,
    and_,
    bindparam,
    cast,
    distinct,
    func,
    literal,
    select,
    text,
    tuple_,
    update,
)

from leadpersona.adapters.warehouse.engine import dialect_insert, warehouse_errors
from leadpersona.adapters.warehouse.tables import (
    DimCustomer,
    DimDate,
    DimProduct,
    FactSale,
    Lead,
    Persona,
    SalesCheckpoint,
    SalesKey,
    SalesLoad,
    SalesMonthly,
    SalesMonthlyStale,
    SalesQuarantine,
)
from leadpersona.adapters.warehouse.tables.sales import BEGINNING_OF_TIME

__all__ = [
    "FACT_COLUMNS",
    "LOAD_LOCK",
    "BatchCounts",
    "PreparedLines",
    "QuarantineRow",
    "SalesWriter",
    "analyze_partitions",
    "date_id",
    "ensure_partitions",
    "exclusive_load",
    "finish_stale",
    "mark_stale",
    "quarantine_id",
    "read_checkpoints",
    "rebuild_stale",
    "refresh_customers",
    "refresh_monthly",
    "refresh_statistics",
    "refresh_summary_statistics",
]

DIM_DATE: Table = DimDate.__table__  # type: ignore[assignment]
DIM_PRODUCT: Table = DimProduct.__table__  # type: ignore[assignment]
DIM_CUSTOMER: Table = DimCustomer.__table__  # type: ignore[assignment]
FACT: Table = FactSale.__table__  # type: ignore[assignment]
LEADS: Table = Lead.__table__  # type: ignore[assignment]
PERSONAS: Table = Persona.__table__  # type: ignore[assignment]
CHECKPOINTS: Table = SalesCheckpoint.__table__  # type: ignore[assignment]
KEYS: Table = SalesKey.__table__  # type: ignore[assignment]
LOADS: Table = SalesLoad.__table__  # type: ignore[assignment]
QUARANTINE: Table = SalesQuarantine.__table__  # type: ignore[assignment]
MONTHLY: Table = SalesMonthly.__table__  # type: ignore[assignment]
STALE: Table = SalesMonthlyStale.__table__  # type: ignore[assignment]

FACT_COLUMNS = (
    "order_id",
    "line_no",
    "date_id",
    "product_key",
    "customer_key",
    "quantity",
    "unit_price",
    "discount",
    "amount",
    "currency",
    "status",
    "source",
)
#: Columns that make two records of one key the same sale (``source`` does not).
_SAME = tuple(name for name in FACT_COLUMNS if name != "source")

_IN_CHUNK = 1000

_STAGE = Table(
    "sales_stage",
    MetaData(),
    Column("order_id", String(200)),
    Column("line_no", Integer),
    Column("date_id", Integer),
    Column("product_key", Integer),
    Column("customer_key", Integer),
    Column("quantity", Integer),
    Column("unit_price", Numeric(18, 4)),
    Column("discount", Numeric(6, 4)),
    Column("amount", Numeric(18, 2)),
    Column("currency", String(3)),
    Column("status", String(16)),
    Column("source", String(16)),
    prefixes=["TEMPORARY"],
)


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def date_id(day: date) -> int:
    """``YYYYMMDD`` as an integer (the ``dim_date`` key)."""
    return day.year * 10000 + day.month * 100 + day.day


def _day_of(key: int) -> date:
    return date(key // 10000, key // 100 % 100, key % 100)


def _month_bounds(month: int) -> tuple[int, int]:
    """The ``date_id`` range [from, to) of month ``YYYYMM``."""
    year, number = divmod(month, 100)
    following = (year + 1) * 100 + 1 if number == 12 else month + 1
    return month * 100, following * 100


def _monthly_sums(month: Any, *where: Any) -> Select[Any]:
    """Completed lines of ``fact_sales`` matching ``where`` summed as ``sales_monthly`` rows;
    ``month`` is the month column (a constant when ``where`` is one month)."""
    groups = [FACT.c.customer_key, FACT.c.currency]
    if not isinstance(month, int):
        groups.insert(0, month)
    return (
        select(
            literal(month, Integer) if isinstance(month, int) else month,
            FACT.c.customer_key,
            FACT.c.currency,
            func.sum(FACT.c.amount),
            func.count(distinct(FACT.c.order_id)),
            func.count(),
            func.sum(FACT.c.quantity),
        )
        .where(FACT.c.status == "completed", *where)
        .group_by(*groups)
    )


_MONTHLY_COLUMNS = ["month", "customer_key", "currency", "revenue", "orders", "lines", "quantity"]


def refresh_monthly(connection: Connection, months: Iterable[int]) -> None:
    """Rebuild the ``sales_monthly`` rows of these months (``YYYYMM``) from ``fact_sales``
    (one partition each on PostgreSQL), in the caller's transaction."""
    for month in sorted(set(months)):
        low, high = _month_bounds(month)
        connection.execute(MONTHLY.delete().where(MONTHLY.c.month == month))
        connection.execute(
            MONTHLY.insert().from_select(
                _MONTHLY_COLUMNS,
                _monthly_sums(month, FACT.c.date_id >= low, FACT.c.date_id < high),
            )
        )


def mark_stale(connection: Connection, months: Iterable[int]) -> None:
    """Record that the ``sales_monthly`` rows of these months (``YYYYMM``) wait for a rebuild,
    in the caller's transaction (the one that changed their lines)."""
    rows = [{"month": month} for month in sorted(set(months))]
    if rows:
        # DO UPDATE, not DO NOTHING: a month already stale gets its row locked, so a rebuild
        # running meanwhile waits for this transaction before it deletes the row, and its
        # next statement sees these lines (DO NOTHING locks nothing, and the rebuild would
        # clear the month without them).
        statement = dialect_insert(connection, STALE)
        statement = statement.on_conflict_do_update(
            index_elements=["month"], set_={"month": statement.excluded.month}
        )
        connection.execute(statement, rows)


def rebuild_stale(connection: Connection, months: Iterable[int] | None = None) -> list[int]:
    """Rebuild the ``sales_monthly`` rows of every stale month (of those of ``months`` that
    are stale, when given) and clear them, in the caller's transaction; the months rebuilt.

    The stale rows are deleted first, and :func:`mark_stale` locks the row of a month already
    stale: a batch marking one of these months waits for this transaction and marks it anew,
    or this one waits for the batch and then sums its lines, so they are never left out of
    both the summary and the stale months."""
    statement = STALE.delete()
    if months is not None:
        statement = statement.where(STALE.c.month.in_(sorted(set(months))))
    rebuilt = sorted(connection.scalars(statement.returning(STALE.c.month)))
    refresh_monthly(connection, rebuilt)
    return rebuilt


def finish_stale(engine: Engine) -> list[int]:
    """:func:`rebuild_stale` in its own transaction; the months. On PostgreSQL the emptied
    table's statistics are refreshed too: planned as the 2,550 rows PostgreSQL assumes of a
    table never analysed, the reports' branch over the stale months cost enough for JIT
    compilation, 0.8 s of a 21 ms report."""
    with engine.begin() as connection:
        months = rebuild_stale(connection)
    if months and engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE sales_monthly_stale"))
    return months


def _refresh_monthly_of_customers(
    connection: Connection, moves: Sequence[tuple[int, int, date]]
) -> None:
    """Rebuild the ``sales_monthly`` rows of the customer rows sales moved between (old key,
    new key, first day moved), from the month of the earliest move on."""
    for chunk in _chunks(moves, _IN_CHUNK // 2):
        keys = sorted({key for old, new, _day in chunk for key in (old, new)})
        first = min(day for _old, _new, day in chunk)
        low = date_id(first.replace(day=1))
        connection.execute(
            MONTHLY.delete().where(MONTHLY.c.customer_key.in_(keys), MONTHLY.c.month >= low // 100)
        )
        month = cast(FACT.c.date_id // 100, Integer)
        connection.execute(
            MONTHLY.insert().from_select(
                _MONTHLY_COLUMNS,
                _monthly_sums(month, FACT.c.customer_key.in_(keys), FACT.c.date_id >= low),
            )
        )


def ensure_partitions(connection: Connection, date_ids: Iterable[int]) -> list[str]:
    """On PostgreSQL, the monthly ``fact_sales`` partitions these days need (made if missing);
    the names made. Elsewhere nothing to do."""
    if connection.dialect.name != "postgresql":
        return []
    months = sorted({key // 100 for key in date_ids})
    if not months:
        return []
    existing = _partitions(connection)
    made = []
    for month in months:
        name = _partition_name(month)
        if name in existing:
            continue
        low, high = _month_bounds(month)
        # A table of its own, then attached: ATTACH PARTITION takes a lock on fact_sales that
        # writers do not conflict with, where CREATE TABLE ... PARTITION OF waits for every
        # transaction writing into it (the batch being written) to end.
        connection.execute(
            text(f"CREATE TABLE IF NOT EXISTS {name} (LIKE fact_sales INCLUDING DEFAULTS)")
        )
        connection.execute(
            text(
                f"ALTER TABLE fact_sales ATTACH PARTITION {name} "
                f"FOR VALUES FROM ({low}) TO ({high})"
            )
        )
        made.append(name)
    return made


#: The PostgreSQL advisory lock a sales load holds from start to end ("lp-sales").
LOAD_LOCK = 0x6C702D73616C6573


#: Seconds between two tries for :data:`LOAD_LOCK` while another load holds it.
LOCK_POLL_SECONDS = 0.5


def _try_lock(connection: Connection) -> bool:
    got = bool(connection.scalar(select(func.pg_try_advisory_lock(LOAD_LOCK))))
    connection.commit()
    return got


def _unlock(connection: Connection) -> None:
    try:
        connection.scalar(select(func.pg_advisory_unlock(LOAD_LOCK)))
        connection.commit()
    finally:
        connection.close()


@asynccontextmanager
async def exclusive_load(
    engine: Engine, on_wait: Callable[[], None] | None = None
) -> AsyncIterator[None]:
    """On PostgreSQL, one sales load at a time per warehouse: take the advisory lock
    :data:`LOAD_LOCK` (calling ``on_wait`` once when another load holds it, then trying again
    every :data:`LOCK_POLL_SECONDS`) and hold it on a connection of its own until the block
    ends; PostgreSQL releases it if the process dies. The wait is in the event loop, not in a
    blocked thread, so a load cancelled while waiting leaves no thread or lock behind.
    Elsewhere nothing: SQLite's writers take turns, and its loads stage every batch."""
    if engine.dialect.name != "postgresql":
        yield
        return
    url = str(engine.url)
    with warehouse_errors(url):
        connection = await asyncio.to_thread(engine.connect)
    try:
        waited = False
        with warehouse_errors(url):
            while not await asyncio.to_thread(_try_lock, connection):
                if not waited and on_wait is not None:
                    on_wait()
                waited = True
                await asyncio.sleep(LOCK_POLL_SECONDS)
    except BaseException:
        await asyncio.to_thread(connection.close)
        raise
    try:
        yield
    finally:
        with warehouse_errors(url):
            await asyncio.to_thread(_unlock, connection)


def quarantine_id(source: str, location: str, row: int, raw: Mapping[str, Any]) -> str:
    """A stable id for a rejected record: the same record read again is stored once."""
    body = json.dumps(raw, sort_keys=True, default=str, ensure_ascii=False)
    digest = hashlib.sha256(f"{source}\x1f{location}\x1f{row}\x1f{body}".encode())
    return digest.hexdigest()[:40]


@dataclass
class QuarantineRow:
    """A rejected record as the writer stores it."""

    location: str
    row: int
    line: int | None
    raw: dict[str, Any]
    reasons: list[dict[str, Any]]


#: The columns of ``sales_keys`` a batch's lines fill.
_KEY_COLUMNS = ("order_id", "line_no", "date_id")


@dataclass
class PreparedLines:
    """A batch's fact rows ready to store (:meth:`SalesWriter.prepare`): ``days`` their
    ``date_id`` values; on PostgreSQL the ``COPY`` bodies of their keys and of the rows, and
    ``claimed``: whether :meth:`SalesWriter.claim` recorded their keys beforehand (True: the
    lines go straight into ``fact_sales``; False: some line is stored already, the batch is
    staged; None: not tried, the batch's own transaction tries)."""

    fact: pa.Table
    days: list[int]
    keys_csv: bytes | None = None
    fact_csv: bytes | None = None
    claimed: bool | None = None


@dataclass
class BatchCounts:
    """What one batch did. ``read`` = ``inserted + updated + quarantined + duplicates``."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    quarantined: int = 0
    duplicates: int = 0
    cells_present: int = 0
    cells_required: int = 0
    #: The months (``YYYYMM``) whose lines the batch changed (marked stale).
    months: set[int] = field(default_factory=set)

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated


def read_checkpoints(connection: Connection, source: str) -> dict[str, dict[str, Any]]:
    """Every checkpoint ``source`` committed, by key."""
    rows = connection.execute(
        select(CHECKPOINTS.c.key, CHECKPOINTS.c.state).where(CHECKPOINTS.c.source == source)
    )
    return {str(key): dict(state) for key, state in rows}


def _persona_of_emails(connection: Connection, emails: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """For each email a lead has: (lead_id, academic_field, company_type, persona updated_at);
    the smallest lead id when several leads share it."""
    found: dict[str, tuple[Any, ...]] = {}
    for chunk in _chunks(emails):
        rows = connection.execute(
            select(
                LEADS.c.email_key,
                LEADS.c.lead_id,
                PERSONAS.c.academic_field,
                PERSONAS.c.company_type,
                PERSONAS.c.updated_at,
            )
            .select_from(LEADS.outerjoin(PERSONAS, PERSONAS.c.lead_id == LEADS.c.lead_id))
            .where(LEADS.c.email_key.in_(chunk))
            .order_by(LEADS.c.email_key, LEADS.c.lead_id)
        )
        for email, *rest in rows:
            found.setdefault(email, tuple(rest))
    return found


def refresh_customers(connection: Connection, today: date) -> int:
    """Apply lead and persona changes to ``dim_customer`` (type 2); the customers changed.

    A current row whose lead or persona no longer matches the warehouse's is closed on the day
    of the change (the persona's ``updated_at``, else ``today``) and a new current row opened
    from that day; a change on the day the current row opened rewrites that row. Sales from
    that day on move to the new row, so each sale keeps the persona of its order date, and
    the ``sales_monthly`` rows of both rows are rebuilt from that day's month on.
    """
    current = connection.execute(
        select(
            DIM_CUSTOMER.c.customer_key,
            DIM_CUSTOMER.c.email,
            DIM_CUSTOMER.c.lead_id,
            DIM_CUSTOMER.c.academic_field,
            DIM_CUSTOMER.c.company_type,
            DIM_CUSTOMER.c.valid_from,
        ).where(DIM_CUSTOMER.c.is_current.is_(True))
    ).all()
    if not current:
        return 0
    personas = _persona_of_emails(connection, [row.email for row in current])
    changed = 0
    moves: list[tuple[int, int, date]] = []
    for row in current:
        lead_id, field, kind, moment = personas.get(row.email, (None, None, None, None))
        if (row.lead_id, row.academic_field, row.company_type) == (lead_id, field, kind):
            continue
        changed += 1
        day = moment.date() if isinstance(moment, datetime) else today
        day = max(day, row.valid_from)
        values = {"lead_id": lead_id, "academic_field": field, "company_type": kind}
        if day == row.valid_from:
            connection.execute(
                update(DIM_CUSTOMER)
                .where(DIM_CUSTOMER.c.customer_key == row.customer_key)
                .values(**values)
            )
            continue
        connection.execute(
            update(DIM_CUSTOMER)
            .where(DIM_CUSTOMER.c.customer_key == row.customer_key)
            .values(valid_to=day, is_current=False)
        )
        key = connection.execute(
            DIM_CUSTOMER.insert()
            .values(email=row.email, valid_from=day, valid_to=None, is_current=True, **values)
            .returning(DIM_CUSTOMER.c.customer_key)
        ).scalar_one()
        connection.execute(
            update(FACT)
            .where(FACT.c.customer_key == row.customer_key, FACT.c.date_id >= date_id(day))
            .values(customer_key=key)
        )
        moves.append((row.customer_key, key, day))
    if moves:
        _refresh_monthly_of_customers(connection, moves)
    return changed


def _csv(table: pa.Table) -> bytes:
    """The rows of ``table`` as CSV without a header (what ``COPY ... (FORMAT csv)`` reads)."""
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, write_options=pacsv.WriteOptions(include_header=False))
    return buffer.getvalue()


def _copy(
    connection: Connection, table: str, fact: pa.Table, *, encoded: bytes | None = None
) -> None:
    """``COPY`` the columns of ``fact`` into ``table`` (PostgreSQL), written as CSV by Arrow
    (``encoded``: that CSV, written beforehand)."""
    driver = connection.connection.driver_connection
    assert driver is not None
    statement = f"COPY {table} ({', '.join(fact.column_names)}) FROM STDIN (FORMAT csv)"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(_csv(fact) if encoded is None else encoded)


#: The ``fact_sales`` columns later queries filter, join or group by: the merge's keys and
#: ``top_products``' (the revenue report reads ``sales_monthly``).
_FACT_STATISTICS = (
    "order_id",
    "line_no",
    "date_id",
    "customer_key",
    "product_key",
    "status",
    "currency",
)


def _partitions(connection: Connection) -> set[str]:
    return set(
        connection.scalars(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'fact_sales'"
            )
        )
    )


def _partition_name(month: int) -> str:
    return f"fact_sales_y{month // 100:04d}m{month % 100:02d}"


def refresh_statistics(engine: Engine, months: Iterable[int], *, summary: bool = True) -> None:
    """On PostgreSQL, ``ANALYZE`` what the queries after a load are planned on; nothing
    elsewhere. ``sales_monthly`` (unless not ``summary``: the load analyses it after its
    closing rebuild, which runs alongside) and the dimensions (small) whole; the key columns
    of ``sales_keys``; the ``fact_sales`` partitions of ``months`` (those a load changed) on
    the columns queries use. Not ``fact_sales`` as a whole: that samples every partition
    again for statistics of the parent, which no query uses since the revenue report reads
    ``sales_monthly`` (2.4 s per 1,000,000 lines, against about 0.1 s a partition)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as connection:
        tables = ("sales_monthly",) if summary else ()
        for table in (*tables, "dim_customer", "dim_product", "dim_date"):
            connection.execute(text(f"ANALYZE {table}"))
        connection.execute(text("ANALYZE sales_keys (order_id, line_no)"))
        analyze_partitions(connection, months)


def analyze_partitions(connection: Connection, months: Iterable[int]) -> None:
    """On PostgreSQL, ``ANALYZE`` the ``fact_sales`` partitions of ``months`` (those that
    exist) on the columns queries filter, join or group by; nothing elsewhere."""
    if connection.dialect.name != "postgresql":
        return
    existing = _partitions(connection)
    columns = ", ".join(_FACT_STATISTICS)
    for month in sorted(set(months)):
        name = _partition_name(month)
        if name in existing:
            connection.execute(text(f"ANALYZE {name} ({columns})"))


def refresh_summary_statistics(engine: Engine) -> None:
    """On PostgreSQL, ``ANALYZE sales_monthly`` (after its rebuild); nothing elsewhere."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE sales_monthly"))


class SalesWriter:
    """Writes batches of one load inside the caller's transactions (one per batch)."""

    def __init__(self, load_id: str, *, started_at: datetime | None = None) -> None:
        self.load_id = load_id
        self.started_at = started_at or datetime.now(UTC)
        #: The months (``YYYYMM``) whose sales the batches written so far changed.
        self.months: set[int] = set()

    # The dimensions.

    def _dates(self, connection: Connection, keys: Sequence[int]) -> None:
        rows = []
        for key in keys:
            day = _day_of(key)
            rows.append(
                {
                    "date_id": key,
                    "date": day,
                    "year": day.year,
                    "quarter": (day.month - 1) // 3 + 1,
                    "month": day.month,
                    "day": day.day,
                    "weekday": day.isoweekday(),
                    "is_weekend": day.isoweekday() >= 6,
                }
            )
        if rows:
            statement = dialect_insert(connection, DIM_DATE).on_conflict_do_nothing(
                index_elements=["date_id"]
            )
            connection.execute(statement, rows)

    def _products(self, connection: Connection, lines: pa.Table) -> dict[str, int]:
        # The last name and category each SKU was given in the batch (nulls skipped).
        grouped = lines.select(["product_sku", "product_name", "category"]).group_by(
            "product_sku", use_threads=False
        )
        last = grouped.aggregate([("product_name", "last"), ("category", "last")])
        latest: dict[str, tuple[str | None, str | None]] = {
            sku: (name, category)
            for sku, name, category in zip(
                last["product_sku"].to_pylist(),
                last["product_name_last"].to_pylist(),
                last["category_last"].to_pylist(),
                strict=True,
            )
        }
        skus = sorted(latest)
        keys: dict[str, int] = {}
        stored: dict[str, tuple[str | None, str | None]] = {}
        for chunk in _chunks(skus):
            for key, sku, name, category in connection.execute(
                select(
                    DIM_PRODUCT.c.product_key,
                    DIM_PRODUCT.c.sku,
                    DIM_PRODUCT.c.name,
                    DIM_PRODUCT.c.category,
                ).where(DIM_PRODUCT.c.sku.in_(chunk))
            ):
                keys[sku] = key
                stored[sku] = (name, category)
        fresh = [
            {"sku": sku, "name": latest[sku][0], "category": latest[sku][1]}
            for sku in skus
            if sku not in keys
        ]
        if fresh:
            statement = dialect_insert(connection, DIM_PRODUCT).on_conflict_do_nothing(
                index_elements=["sku"]
            )
            connection.execute(statement, fresh)
        renamed = [
            {"b_sku": sku, "b_name": name or old[0], "b_category": category or old[1]}
            for sku, (name, category) in latest.items()
            if (old := stored.get(sku)) is not None and (name or old[0], category or old[1]) != old
        ]
        if renamed:
            connection.execute(
                update(DIM_PRODUCT)
                .where(DIM_PRODUCT.c.sku == bindparam("b_sku"))
                .values(name=bindparam("b_name"), category=bindparam("b_category")),
                renamed,
            )
        if fresh:
            for chunk in _chunks([row["sku"] for row in fresh]):
                for sku, key in connection.execute(
                    select(DIM_PRODUCT.c.sku, DIM_PRODUCT.c.product_key).where(
                        DIM_PRODUCT.c.sku.in_(chunk)
                    )
                ):
                    keys[sku] = key
        return keys

    def _customer_rows(
        self, connection: Connection, emails: Sequence[str]
    ) -> dict[str, list[tuple[date, date | None, int]]]:
        rows: dict[str, list[tuple[date, date | None, int]]] = {}
        for chunk in _chunks(emails):
            for email, start, end, key in connection.execute(
                select(
                    DIM_CUSTOMER.c.email,
                    DIM_CUSTOMER.c.valid_from,
                    DIM_CUSTOMER.c.valid_to,
                    DIM_CUSTOMER.c.customer_key,
                ).where(DIM_CUSTOMER.c.email.in_(chunk))
            ):
                rows.setdefault(email, []).append((start, end, key))
        for versions in rows.values():
            versions.sort()
        return rows

    def _customers(
        self, connection: Connection, emails: Sequence[str]
    ) -> dict[str, list[tuple[date, date | None, int]]]:
        known = self._customer_rows(connection, emails)
        new = [email for email in emails if email not in known]
        if new:
            personas = _persona_of_emails(connection, new)
            rows = []
            for email in new:
                lead_id, field, kind, _moment = personas.get(email, (None, None, None, None))
                rows.append(
                    {
                        "email": email,
                        "lead_id": lead_id,
                        "academic_field": field,
                        "company_type": kind,
                        "valid_from": BEGINNING_OF_TIME,
                        "valid_to": None,
                        "is_current": True,
                    }
                )
            statement = dialect_insert(connection, DIM_CUSTOMER).on_conflict_do_nothing(
                index_elements=["email", "valid_from"]
            )
            connection.execute(statement, rows)
            known.update(self._customer_rows(connection, new))
        return known

    # The facts.

    def _fact_table(
        self, connection: Connection, lines: pa.Table, source: str
    ) -> tuple[pa.Table, list[int]]:
        days = lines["order_date"]
        ids = pc.add(
            pc.add(
                pc.multiply(pc.cast(pc.year(days), pa.int32()), 10000),
                pc.multiply(pc.cast(pc.month(days), pa.int32()), 100),
            ),
            pc.cast(pc.day(days), pa.int32()),
        )
        distinct_days = sorted(pc.unique(ids).to_pylist())
        self._dates(connection, distinct_days)
        products = self._products(connection, lines)
        skus = sorted(products)
        product_keys = pc.take(
            pa.array([products[s] for s in skus], pa.int64()),
            pc.index_in(lines["product_sku"], value_set=pa.array(skus, pa.string())),
        )
        emails = lines["customer_email"]
        versions = self._customers(connection, sorted(pc.unique(emails).to_pylist()))
        single = sorted(email for email, rows in versions.items() if len(rows) == 1)
        customer_keys = pc.take(
            pa.array([versions[email][0][2] for email in single], pa.int64()),
            pc.index_in(emails, value_set=pa.array(single, pa.string())),
        )
        if customer_keys.null_count:
            # Customers whose persona changed: the row valid at each order date.
            keys = customer_keys.to_pylist()
            dates = days.to_pylist()
            for position in pc.indices_nonzero(pc.is_null(customer_keys)).to_pylist():
                rows = versions[emails[position].as_py()]
                starts = [start for start, _end, _key in rows]
                keys[position] = rows[max(bisect_right(starts, dates[position]) - 1, 0)][2]
            customer_keys = pa.array(keys, pa.int64())
        fact = pa.table(
            {
                "order_id": lines["order_id"],
                "line_no": lines["line_no"],
                "date_id": ids,
                "product_key": product_keys,
                "customer_key": customer_keys,
                "quantity": lines["quantity"],
                "unit_price": lines["unit_price"],
                "discount": lines["discount"],
                "amount": lines["amount"],
                "currency": lines["currency"],
                "status": lines["status"],
                "source": pa.array([source] * lines.num_rows, pa.string()),
            }
        )
        return fact, distinct_days

    def prepare(self, connection: Connection, lines: pa.Table, source: str) -> PreparedLines:
        """The dimension rows ``lines`` need (made if missing), their fact rows with the keys
        of those rows, and on PostgreSQL the monthly partitions they go to and both ``COPY``
        bodies, in the caller's transaction.

        The load runs this in a transaction of its own, committed while the previous batch is
        still being written (the dimension rows of a batch killed before its commit are
        kept: they are the rows its next attempt makes); on SQLite inside the batch's."""
        fact, days = self._fact_table(connection, lines, source)
        ensure_partitions(connection, days)
        if connection.dialect.name != "postgresql":
            return PreparedLines(fact, days)
        keys = _csv(fact.select(list(_KEY_COLUMNS)))
        return PreparedLines(fact, days, keys_csv=keys, fact_csv=_csv(fact))

    def claim(self, connection: Connection, prepared: PreparedLines) -> bool:
        """On PostgreSQL, record the keys of ``prepared`` in ``sales_keys`` ahead of the batch's
        own transaction (the caller's, committed on its own) if none of them is stored yet;
        whether they were (also kept in ``prepared.claimed``). Elsewhere False.

        The load claims a batch's keys while the previous batch is written, which takes the
        keys' ``COPY`` off the writer's path. The caller must hold off while a batch that may
        insert keys itself (a staged one) is being written, and while another load runs. A
        load killed between the claim and the batch's commit leaves keys without lines: the
        batch, read again, finds them stored and is staged, and its merge, which deletes the
        stored lines of its keys (none) and stores its own, counts them as inserted."""
        prepared.claimed = connection.dialect.name == "postgresql" and self._claim_keys(
            connection, prepared
        )
        return prepared.claimed

    def _claim_keys(self, connection: Connection, prepared: PreparedLines) -> bool:
        """On PostgreSQL, record these lines in ``sales_keys`` if none of them is stored yet;
        whether they were. Optimistic: one ``COPY`` whose primary key refuses the batch when
        some line is known (rolled back to a savepoint), instead of a probe per line first."""
        savepoint = connection.begin_nested()
        try:
            _copy(
                connection,
                "sales_keys",
                prepared.fact.select(list(_KEY_COLUMNS)),
                encoded=prepared.keys_csv,
            )
        except psycopg.errors.UniqueViolation:
            savepoint.rollback()
            return False
        savepoint.commit()
        return True

    def _stage(self, connection: Connection, fact: pa.Table) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text("DROP TABLE IF EXISTS pg_temp.sales_stage"))
            _STAGE.create(connection)
            if fact.num_rows:
                _copy(connection, "sales_stage", fact)
            return
        connection.execute(text("DROP TABLE IF EXISTS temp.sales_stage"))
        _STAGE.create(connection)
        if fact.num_rows == 0:
            return
        columns = [fact[name].to_pylist() for name in FACT_COLUMNS]
        rows = [
            dict(zip(FACT_COLUMNS, values, strict=True)) for values in zip(*columns, strict=True)
        ]
        connection.execute(_STAGE.insert(), rows)

    def _merge(self, connection: Connection, counts: BatchCounts, staged: int) -> set[int]:
        """Store the staged rows; the months (``YYYYMM``) whose lines changed."""
        stage = _STAGE
        months: set[int] = set()
        same_key = and_(KEYS.c.order_id == stage.c.order_id, KEYS.c.line_no == stage.c.line_no)
        known = connection.execute(
            select(func.count()).select_from(stage).join(KEYS, same_key)
        ).scalar_one()
        superseded = 0
        if known:  # most batches bring only new sales: one probe per line, not three
            same = and_(*(FACT.c[name] == stage.c[name] for name in _SAME))
            duplicates = connection.execute(
                stage.delete().where(select(FACT.c.order_id).where(same).exists())
            ).rowcount
            counts.duplicates += duplicates
            staged -= duplicates
            if known > duplicates:
                # The stored line is where sales_keys says (its partition on PostgreSQL).
                stored = select(KEYS.c.order_id, KEYS.c.line_no, KEYS.c.date_id).where(
                    tuple_(KEYS.c.order_id, KEYS.c.line_no).in_(
                        select(stage.c.order_id, stage.c.line_no)
                    )
                )
                # A superseded line may leave another month (re-dated).
                months.update(
                    connection.scalars(
                        select(cast(KEYS.c.date_id // 100, Integer))
                        .where(
                            tuple_(KEYS.c.order_id, KEYS.c.line_no).in_(
                                select(stage.c.order_id, stage.c.line_no)
                            )
                        )
                        .distinct()
                    )
                )
                key = tuple_(FACT.c.order_id, FACT.c.line_no, FACT.c.date_id)
                superseded = connection.execute(FACT.delete().where(key.in_(stored))).rowcount
                connection.execute(
                    KEYS.delete().where(
                        tuple_(KEYS.c.order_id, KEYS.c.line_no).in_(
                            select(stage.c.order_id, stage.c.line_no)
                        )
                    )
                )
        columns = [stage.c[name] for name in FACT_COLUMNS]
        connection.execute(FACT.insert().from_select(list(FACT_COLUMNS), select(*columns)))
        connection.execute(
            KEYS.insert().from_select(
                ["order_id", "line_no", "date_id"],
                select(stage.c.order_id, stage.c.line_no, stage.c.date_id),
            )
        )
        counts.updated += superseded
        counts.inserted += staged - superseded
        if staged:
            months.update(
                connection.scalars(select(cast(stage.c.date_id // 100, Integer)).distinct())
            )
        return months

    # One batch.

    def write_batch(
        self,
        connection: Connection,
        *,
        source: str,
        lines: pa.Table,
        rejected: Sequence[QuarantineRow],
        read: int,
        duplicates: int,
        cells_present: int,
        cells_required: int,
        checkpoint_key: str,
        checkpoint: Mapping[str, Any],
        prepared: PreparedLines | None = None,
    ) -> BatchCounts:
        """Store one cleaned batch with its quarantine, counts and checkpoint (the caller's
        transaction); ``prepared``: what :meth:`prepare` made of ``lines`` beforehand, else
        prepared here."""
        counts = BatchCounts(
            read=read,
            quarantined=len(rejected),
            duplicates=duplicates,
            cells_present=cells_present,
            cells_required=cells_required,
        )
        if lines.num_rows:
            if prepared is None:
                prepared = self.prepare(connection, lines, source)
            fact, days = prepared.fact, prepared.days
            claimed = prepared.claimed
            if claimed is None:
                claimed = self.claim(connection, prepared)
            if claimed:
                # Only new sales (the usual case): straight into fact_sales.
                _copy(connection, "fact_sales", fact, encoded=prepared.fact_csv)
                counts.inserted += fact.num_rows
                months = {day // 100 for day in days}
            else:
                self._stage(connection, fact)
                months = self._merge(connection, counts, fact.num_rows)
            mark_stale(connection, months)
            self.months.update(months)
            counts.months = months
        now = datetime.now(UTC)
        if rejected:
            statement = dialect_insert(connection, QUARANTINE).on_conflict_do_nothing(
                index_elements=["id"]
            )
            connection.execute(
                statement,
                [
                    {
                        "id": quarantine_id(source, row.location, row.row, row.raw),
                        "load_id": self.load_id,
                        "source": source,
                        "location": row.location,
                        "row": row.row,
                        "line": row.line,
                        "raw": row.raw,
                        "reasons": row.reasons,
                        "quarantined_at": now,
                    }
                    for row in rejected
                ],
            )
        self.add_counts(connection, source, counts)
        if checkpoint_key:
            statement = dialect_insert(connection, CHECKPOINTS)
            statement = statement.on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "state": statement.excluded.state,
                    "updated_at": statement.excluded.updated_at,
                },
            )
            connection.execute(
                statement,
                [
                    {
                        "key": checkpoint_key,
                        "source": source,
                        "state": dict(checkpoint),
                        "updated_at": now,
                    }
                ],
            )
        return counts

    def add_counts(
        self,
        connection: Connection,
        source: str,
        counts: BatchCounts,
        *,
        files_failed: int = 0,
    ) -> None:
        """Add to this load's row for ``source`` (made on first use)."""
        values = {
            "read": counts.read,
            "loaded": counts.loaded,
            "inserted": counts.inserted,
            "updated": counts.updated,
            "quarantined": counts.quarantined,
            "duplicates": counts.duplicates,
            "cells_present": counts.cells_present,
            "cells_required": counts.cells_required,
            "files_failed": files_failed,
        }
        statement = dialect_insert(connection, LOADS)
        statement = statement.on_conflict_do_update(
            index_elements=["load_id", "source"],
            set_={name: LOADS.c[name] + statement.excluded[name] for name in values},
        )
        connection.execute(
            statement,
            [
                {
                    "load_id": self.load_id,
                    "source": source,
                    "started_at": self.started_at,
                    "status": "running",
                    **values,
                }
            ],
        )

    def finish_source(
        self, connection: Connection, source: str, *, status: str, error: str | None = None
    ) -> date | None:
        """End this load's row for ``source``; the newest order date the source has stored."""
        self.add_counts(connection, source, BatchCounts())
        newest = connection.execute(
            select(func.max(FACT.c.date_id)).where(FACT.c.source == source)
        ).scalar()
        day = _day_of(int(newest)) if newest is not None else None
        connection.execute(
            update(LOADS)
            .where(LOADS.c.load_id == self.load_id, LOADS.c.source == source)
            .values(
                finished_at=datetime.now(UTC),
                status=status,
                error=error,
                newest_order_date=day,
            )
        )
        return day
