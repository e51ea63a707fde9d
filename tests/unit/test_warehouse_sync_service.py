"""The warehouse sync service on in-memory fakes (no MongoDB) into a SQLite file: what it reads
and when, the watermark, deletes and orphans. The same service on a real MongoDB-wire server and
both SQL dialects is in ``tests/integration/test_warehouse_sync.py``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from leadpersona.adapters.enrichment_client import FetchResult
from leadpersona.adapters.mock_api import synthetic_answer
from leadpersona.adapters.warehouse.engine import make_engine
from leadpersona.config import Settings
from leadpersona.services.warehouse_sync import sync_warehouse
from tests.fakes import InMemoryArchive, InMemoryRunRepository, InMemorySyncSource

START = datetime(2026, 1, 1, tzinfo=UTC)


async def add(source: InMemorySyncSource, archive: InMemoryArchive, n: int, at: datetime) -> None:
    """Lead ``n`` with its archived answer and a persona updated ``at``."""
    lead_id, email = f"lead{n:04d}", f"person{n}@example.com"
    status, answer = synthetic_answer(email)
    raw = json.dumps(answer).encode()
    [stored] = await archive.put_many([(FetchResult.from_answer(email, status, raw, at), [])])
    source.leads_by_id[lead_id] = {"_id": lead_id, "email": email, "status": 1}
    source.personas_by_id[lead_id] = {
        "_id": lead_id,
        "features": {"academic_field": "Computer Science", "company_type": "Startup"},
        "status": "computed",
        "updated_at": at,
        "archive_id": stored.archive_id,
    }


def rows(engine: Engine, query: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(query))]


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")


async def test_incremental_reads_only_what_changed_and_converges(
    engine: Engine, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path)
    source, archive, runs = InMemorySyncSource(), InMemoryArchive(), InMemoryRunRepository()
    for n in range(12):
        await add(source, archive, n, START + timedelta(seconds=n))
    source.leads_by_id["lone"] = {"_id": "lone", "email": "lone@example.com"}

    def sync(**options: Any) -> Any:
        return sync_warehouse(
            settings, engine=engine, archive=archive, runs=runs, source=source, **options
        )

    first = await sync(batch_size=5)
    assert first.personas_read == 12 and first.inserted["leads"] == 13
    assert rows(engine, "SELECT watermark FROM sync_state")[0][0] is not None
    assert (await sync()).changed == 0  # nothing changed: nothing written

    # One persona changes, one lead goes with its rows, and its skills only it had go too.
    source.personas_by_id["lead0003"]["updated_at"] = START + timedelta(days=1)
    source.personas_by_id["lead0003"]["features"]["company_type"] = "Enterprise"
    del source.leads_by_id["lead0007"], source.personas_by_id["lead0007"]
    later = await sync()
    assert later.personas_read == 1 and later.deleted["leads"] == 1
    assert rows(engine, "SELECT company_type FROM personas WHERE lead_id = 'lead0003'") == [
        ("Enterprise",)
    ]
    assert rows(engine, "SELECT COUNT(*) FROM positions WHERE lead_id = 'lead0007'") == [(0,)]
    orphans = rows(
        engine,
        "SELECT COUNT(*) FROM skills s WHERE NOT EXISTS"
        " (SELECT 1 FROM lead_skills l WHERE l.skill_id = s.skill_id)",
    )
    assert orphans == [(0,)]
    kept = {table: rows(engine, f"SELECT * FROM {table} ORDER BY 1") for table in ("leads",)}

    # A full sync over the same documents changes no row, and moves the watermark once.
    full = await sync(full=True, batch_size=4)
    assert full.personas_read == 11 and full.inserted["leads"] == 0
    assert {t: rows(engine, f"SELECT * FROM {t} ORDER BY 1") for t in kept} == kept
    assert rows(engine, "SELECT watermark_id FROM sync_state") == [("",)]
    assert [run.status for run in runs.runs.values()] == ["completed"] * 4
