"""The shop database source: order lines streamed out of PostgreSQL, against a raw cursor.

A fresh PostgreSQL database at 127.0.0.1:5432 (or ``LEADPERSONA_TEST_POSTGRES``) is filled with
the demo shop (:func:`leadpersona.sales.shop_db.create_demo_shop`, 2,000 orders a day, timed
apart) until it holds at least the size in order lines. Measured in the same run:

- *source*: every batch of :class:`~leadpersona.sales.sources.shopdb.ShopDbSource` (batches
  only: nothing cleaned, nothing stored), at two batch sizes: the query, the server-side cursor,
  and the rows turned into string Arrow tables;
- *raw cursor floor*: the same SQL through a psycopg server-side (named) cursor fetching as many
  rows at a time, rows thrown away: what reading alone costs;
- *incremental*: a pass from the last checkpoint after 1 % of the orders were refunded.

Override the size with ``LEADPERSONA_BENCH_SHOPDB=100000``.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, select, text

from leadpersona.sales.shop_db import (
    create_demo_shop,
    create_shop_engine,
    order_lines,
    orders,
    refund_order,
)
from leadpersona.sales.sources.shopdb import ShopDbSource

SIZE = int(os.environ.get("LEADPERSONA_BENCH_SHOPDB", "1000000"))
POSTGRES = os.environ.get(
    "LEADPERSONA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
ORDERS_PER_DAY = 2000
START = date(2025, 1, 1)
BATCHES = (10_000, 50_000)


def _fill(engine: Engine) -> tuple[int, float]:
    """The demo shop, a month at a time, until it holds SIZE lines; (lines, seconds)."""
    written, day = 0, START
    started = time.perf_counter()
    while written < SIZE:
        end = day + timedelta(days=29)
        written += create_demo_shop(
            engine, start=day, end=end, orders_per_day=ORDERS_PER_DAY, chunk_lines=50_000
        )
        day = end + timedelta(days=1)
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
        connection.commit()
    return written, time.perf_counter() - started


async def _source(
    engine: Engine, batch_rows: int, state: dict[str, Any] | None = None
) -> tuple[int, float, dict[str, Any]]:
    source = ShopDbSource(engine, batch_rows=batch_rows)
    rows, checkpoint = 0, {}
    started = time.perf_counter()
    async for batch in source.batches(state or {}):
        rows += batch.records.num_rows
        checkpoint = batch.checkpoint
    elapsed = time.perf_counter() - started
    await source.aclose()
    return rows, elapsed, checkpoint


def _raw_floor(engine: Engine, batch_rows: int) -> tuple[int, float]:
    sql = str(
        ShopDbSource(engine)
        .statement(None)
        .compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    )
    raw = engine.raw_connection()
    try:
        started = time.perf_counter()
        cursor = raw.cursor(name="floor")  # type: ignore[call-arg]
        cursor.itersize = batch_rows
        cursor.execute(sql)
        rows = 0
        while chunk := cursor.fetchmany(batch_rows):
            rows += len(chunk)
        cursor.close()
        elapsed = time.perf_counter() - started
        raw.rollback()
        return rows, elapsed
    finally:
        raw.close()


def run() -> str:
    admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    name = f"lp_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_shop_engine(f"{POSTGRES}/{name}")
    try:
        lines, fill_s = _fill(engine)
        print(f"filled {lines:,} lines in {fill_s:.1f} s", flush=True)
        table = []
        last: dict[str, Any] = {}
        for batch_rows in BATCHES:
            rows, floor_s = _raw_floor(engine, batch_rows)
            assert rows == lines, (rows, lines)
            rows, source_s, last = asyncio.run(_source(engine, batch_rows))
            assert rows == lines, (rows, lines)
            table.append(
                f"| {lines:,} | {batch_rows:,} | {source_s:.2f} | {lines / source_s:,.0f} "
                f"| {floor_s:.2f} | {lines / floor_s:,.0f} | {floor_s / source_s:.2f} |"
            )
            print(table[-1], flush=True)
        with engine.connect() as connection:
            ids = list(connection.scalars(select(orders.c.order_id).order_by(orders.c.order_id)))
        refunded = ids[:: max(1, len(ids) // max(1, len(ids) // 100))][: len(ids) // 100]
        at = datetime(2026, 6, 1)
        for order_id in refunded:
            refund_order(engine, order_id, at)
        with engine.connect() as connection:
            expected = connection.scalar(
                select(text("count(*)"))
                .select_from(order_lines)
                .where(order_lines.c.order_id.in_(refunded))
            )
        changed, incremental_s, _ = asyncio.run(_source(engine, BATCHES[0], {"db": last}))
        assert changed == expected, (changed, expected)
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return "\n".join(
        [
            "## Sales from the shop database (PostgreSQL → batches)",
            "",
            f"The demo shop in PostgreSQL ({ORDERS_PER_DAY:,} orders a day; filling it with "
            f"`create_demo_shop` took {fill_s:.1f} s, {lines / fill_s:,.0f} lines/s). "
            "*Source*: every batch of `ShopDbSource` (server-side cursor, rows turned into "
            "string Arrow tables; nothing cleaned or stored). Baseline in the same run: the same "
            "SQL through a raw psycopg named cursor, rows fetched and thrown away.",
            "",
            "| order lines | batch rows | source s | source rows/s | raw cursor s "
            "| raw rows/s | source vs raw (speed) |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            *table,
            "",
            f"Incremental: after {len(refunded):,} orders (1 %) were refunded, the next pass from "
            f"the last checkpoint read their {changed:,} lines in {incremental_s:.2f} s.",
        ]
    )
