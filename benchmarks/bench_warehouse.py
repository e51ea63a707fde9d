"""Warehouse sync MongoDB → PostgreSQL: full and incremental, against a raw COPY of the same rows.

Each size runs on a fresh embedded MongoDB-wire server, with leads enriched through the
in-process mock API (not timed), into a fresh PostgreSQL database at 127.0.0.1:5432 (or
``LEADPERSONA_TEST_POSTGRES``). Measured in the same run:

- *full sync*: ``warehouse sync --full`` end to end (extract, transform, load);
- *incremental*: a sync after 1 % of the personas changed;
- *COPY floor*: the rows the full sync wrote, dumped beforehand with ``COPY … TO STDOUT``, then
  loaded into an empty schema with ``COPY … FROM STDIN`` only: the load alone, no extract, no
  transform, no upsert. The product's full sync against it is a ratio of the whole job to the
  load floor.

Override the sizes with ``LEADPERSONA_BENCH_WAREHOUSE=1000,10000``.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine, text

from benchmarks._server import on_embedded_server
from leadpersona.adapters.enrichment_client import EnrichmentClient
from leadpersona.adapters.mock_api import create_app
from leadpersona.adapters.mongo.connection import connect
from leadpersona.adapters.warehouse.engine import make_engine, upgrade
from leadpersona.adapters.warehouse.load import TABLES
from leadpersona.config import Settings
from leadpersona.services.enrichment import run_enrichment
from leadpersona.services.warehouse_sync import sync_warehouse

SIZES = tuple(
    int(n) for n in os.environ.get("LEADPERSONA_BENCH_WAREHOUSE", "1000,10000").split(",")
)
POSTGRES = os.environ.get(
    "LEADPERSONA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)


class _Databases:
    def __init__(self) -> None:
        self.admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
        self.names: list[str] = []

    def new(self) -> Engine:
        name = f"lp_bench_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        return make_engine(f"{POSTGRES}/{name}")

    def drop(self) -> None:
        with self.admin.connect() as connection:
            for name in self.names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def _dump(engine: Engine) -> dict[str, bytes]:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        dumped = {}
        for table in TABLES:
            with cursor.copy(f"COPY {table} TO STDOUT") as copy:  # type: ignore[attr-defined]
                dumped[table] = b"".join(bytes(chunk) for chunk in copy)
        return dumped
    finally:
        raw.close()


def _copy_floor(engine: Engine, dumped: dict[str, bytes]) -> float:
    upgrade(engine)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        for table in TABLES:
            with cursor.copy(f"COPY {table} FROM STDIN") as copy:  # type: ignore[attr-defined]
                copy.write(dumped[table])
        raw.commit()
        return time.perf_counter() - started
    finally:
        raw.close()


async def _one(uri: str, data_dir: Path, size: int, databases: _Databases) -> str:
    settings = Settings(mongodb_uri=uri, mongodb_db=f"bench_wh_{size}", data_dir=data_dir)
    async with connect(uri, settings.mongodb_db) as database:
        await database["leads"].insert_many(
            [
                {"_id": f"p{i:07d}", "status": 0, "email": f"person{i}@example.com"}
                for i in range(size)
            ]
        )
        client = EnrichmentClient(
            "http://mock.invalid", transport=httpx.ASGITransport(app=create_app())
        )
        async with client:
            await run_enrichment(settings, database, client=client, batch_size=500)

        product = databases.new()
        upgrade(product)  # the schema exists before the timed sync, as after `warehouse migrate`
        started = time.perf_counter()
        full = await sync_warehouse(settings, database, engine=product, full=True)
        full_s = time.perf_counter() - started
        rows = sum(full.inserted.values())

        changed = max(1, size // 100)
        ids = [f"p{i:07d}" for i in range(0, size, size // changed)][:changed]
        await database["personas"].update_many(
            {"_id": {"$in": ids}}, {"$set": {"updated_at": datetime.now(UTC)}}
        )
        started = time.perf_counter()
        incremental = await sync_warehouse(settings, database, engine=product)
        incremental_s = time.perf_counter() - started

        dumped = await asyncio.to_thread(_dump, product)
        floor = databases.new()
        copy_s = await asyncio.to_thread(_copy_floor, floor, dumped)
        product.dispose()
        floor.dispose()
    return (
        f"| {size:,} | {rows:,} | {full_s:.2f} | {rows / full_s:,.0f} | {copy_s:.2f} "
        f"| {rows / copy_s:,.0f} | {copy_s / full_s:.2f} | {incremental.personas_read:,} "
        f"| {incremental_s:.2f} | {incremental_s / full_s:.1%} |"
    )


def run() -> str:
    databases = _Databases()
    lines = []
    try:
        for size in SIZES:
            lines.append(
                on_embedded_server(lambda uri, data, size=size: _one(uri, data, size, databases))
            )
            print(lines[-1], flush=True)
    finally:
        databases.drop()
    return "\n".join(
        [
            "## Warehouse sync (MongoDB → PostgreSQL)",
            "",
            "Leads enriched through the mock API; `warehouse sync --full` into an empty "
            "PostgreSQL schema, end to end; then a sync after 1 % of the personas changed. "
            "Baseline in the same run: the same rows loaded with a raw `COPY … FROM STDIN` "
            "(load only; no extract, no transform, no upsert).",
            "",
            "| leads | rows | full sync s | rows/s | raw COPY s | COPY rows/s "
            "| full sync vs COPY (speed) | personas changed | incremental s | incremental / full |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *lines,
        ]
    )
