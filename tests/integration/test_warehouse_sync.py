"""``warehouse sync`` on a real MongoDB-wire server into SQLite and PostgreSQL: convergence."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.warehouse import load as warehouse_load
from leadpersona.adapters.warehouse.engine import ensure_schema, make_engine
from leadpersona.adapters.warehouse.load import TABLES, WarehouseWriter, read_watermark
from leadpersona.adapters.warehouse.tables import Lead
from leadpersona.bootstrap import mongo_repositories, run_enrichment, sync_warehouse
from leadpersona.config import Settings
from leadpersona.domain.warehouse_rows import LeadRows
from leadpersona.errors import WarehouseError
from leadpersona.services.personas import PersonaService
from tests.integration.test_enrichment_pipeline import leads, mock_client
from tests.warehouse_support import warehouse_factory

__all__ = ["warehouse_factory"]

ORDER = {
    "leads": "lead_id",
    "personas": "lead_id",
    "companies": "company_id",
    "positions": "lead_id, ordinal",
    "skills": "skill_id",
    "lead_skills": "lead_id, skill_id",
    "educations": "lead_id, ordinal",
}


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as connection:
        return {
            table: [
                tuple(row)
                for row in connection.execute(
                    text(f"SELECT * FROM {table} ORDER BY {ORDER[table]}")
                )
            ]
            for table in TABLES
        }


async def enriched(settings: Settings, database: MongoDatabase, count: int) -> None:
    """``count`` leads in MongoDB, each with a persona and an archived answer."""
    await database["leads"].insert_many(leads(count))
    async with mock_client() as client:
        await run_enrichment(settings, database, client=client, batch_size=40)


async def assert_equals_a_full_sync(
    settings: Settings,
    database: MongoDatabase,
    engine: Engine,
    warehouse_factory: Callable[[], str],
    *,
    after_deletions: bool = False,
) -> None:
    """``engine`` holds what a full sync into a new warehouse writes. ``after_deletions``: a
    company's attributes merge every answer that named it (largest employee count), and one
    named only by a deleted lead's answer may keep its count until ``--full``, so companies
    are compared by id only."""
    twin = make_engine(warehouse_factory())
    try:
        full = await sync_warehouse(settings, database, engine=twin, full=True)
        assert full.inserted["leads"] == len(dump(twin)["leads"])
        ours, theirs = dump(engine), dump(twin)
        if after_deletions:
            assert [c[0] for c in ours.pop("companies")] == [c[0] for c in theirs.pop("companies")]
        assert ours == theirs
    finally:
        twin.dispose()


async def test_incremental_sync_converges_to_a_full_sync(
    settings_env: Settings, database: MongoDatabase, warehouse_factory: Callable[[], str]
) -> None:
    await enriched(settings_env, database, 30)
    engine = make_engine(warehouse_factory())
    try:
        first = await sync_warehouse(settings_env, database, engine=engine, batch_size=7)
        assert first.inserted["leads"] == 30 and first.inserted["personas"] == 30
        assert first.inserted["positions"] > 0 and first.inserted["skills"] > 0
        assert first.walked_lead_ids  # nothing to read the change stream from yet
        nothing = await sync_warehouse(settings_env, database, engine=engine, batch_size=7)
        assert nothing.changed == 0, nothing
        assert not nothing.walked_lead_ids and nothing.leads_checked == 0

        # Changes on the MongoDB side: a persona edited by hand, a lead deleted, a new lead
        # without a persona yet, a lead re-enriched with another answer.
        await PersonaService(mongo_repositories(database)).update(
            "p00003", {"academic_field": "law", "seniority": 2}
        )
        await database["leads"].delete_one({"_id": "p00004"})
        await database["leads"].insert_one({"_id": "p99999", "email": "new@example.com"})
        second = await sync_warehouse(settings_env, database, engine=engine, batch_size=7)
        assert not second.walked_lead_ids  # the change stream named the two leads
        assert second.updated["personas"] == 1
        assert second.deleted["leads"] == 1 and second.inserted["leads"] == 1
        # The edited persona names the answer its child rows came from: they stay.
        assert second.inserted["positions"] == second.updated["positions"] == 0
        with engine.connect() as connection:
            lead = connection.execute(select(Lead).where(Lead.lead_id == "p00004")).first()
            assert lead is None
            row = connection.execute(
                text("SELECT academic_field, features FROM personas WHERE lead_id = 'p00003'")
            ).one()
            assert row[0] == "law"

        # A lead enriched again, its persona now computed from another answer: its child rows
        # are those of the new answer. That answer is also the one of a persona recomputed in
        # the same batch, whose child rows stay.
        other = await database["personas"].find_one({"_id": "p00008"})
        assert other is not None and other["archive_id"]
        await database["personas"].update_one(
            {"_id": "p00006"},
            {"$set": {"archive_id": other["archive_id"], "updated_at": datetime.now(UTC)}},
        )
        await database["personas"].update_one(
            {"_id": "p00008"}, {"$set": {"updated_at": datetime.now(UTC)}}
        )
        third = await sync_warehouse(settings_env, database, engine=engine)
        assert third.personas_read == 2 and third.updated["lead_skills"] > 0
        with engine.connect() as connection:
            kept = connection.execute(
                text("SELECT archive_id FROM personas WHERE lead_id = 'p00006'")
            ).scalar_one()
            assert kept == str(other["archive_id"])
        assert (await sync_warehouse(settings_env, database, engine=engine)).changed == 0

        assert len(dump(engine)["leads"]) == 30
        await assert_equals_a_full_sync(
            settings_env, database, engine, warehouse_factory, after_deletions=True
        )
    finally:
        engine.dispose()


async def test_leads_written_and_deleted_between_syncs_come_from_the_change_stream(
    settings_env: Settings, database: MongoDatabase, warehouse_factory: Callable[[], str]
) -> None:
    """Each way a lead can change between two syncs, the stream read instead of every lead id;
    and a position the stream no longer has falls back to the walk, with the same result."""
    await enriched(settings_env, database, 12)
    leads_collection = database["leads"]
    engine = make_engine(warehouse_factory())
    twin = make_engine(warehouse_factory())

    async def converged() -> None:
        rebuilt = await sync_warehouse(settings_env, database, engine=twin, full=True)
        assert rebuilt.walked_lead_ids
        ours, theirs = dump(engine), dump(twin)
        # Companies may keep a merged attribute of a deleted lead's answer until --full.
        assert [c[0] for c in ours.pop("companies")] == [c[0] for c in theirs.pop("companies")]
        assert ours == theirs
        with twin.begin() as connection:
            for table in reversed(TABLES):
                connection.execute(text(f"DELETE FROM {table}"))

    try:
        await sync_warehouse(settings_env, database, engine=engine)

        # A lead deleted and another added without a persona: as many leads as before.
        await leads_collection.delete_one({"_id": "p00002"})
        await leads_collection.insert_one({"_id": "q00001", "email": "q1@example.com"})
        # A lead edited outside the product, its persona untouched.
        await leads_collection.update_one({"_id": "p00005"}, {"$set": {"first_name": "Renamed"}})
        # A lead added and deleted again before the sync.
        await leads_collection.insert_one({"_id": "q00002", "email": "q2@example.com"})
        await leads_collection.delete_one({"_id": "q00002"})
        # A lead deleted and added again under its id.
        [again] = await leads_collection.find({"_id": "p00007"}).to_list()
        await leads_collection.delete_one({"_id": "p00007"})
        await leads_collection.insert_one({**again, "last_name": "Again"})
        report = await sync_warehouse(settings_env, database, engine=engine)
        assert not report.walked_lead_ids and report.personas_read == 0
        assert report.leads_checked == 5
        assert report.deleted["leads"] == 1 and report.deleted["personas"] == 1
        assert report.inserted["leads"] == 1 and report.updated["leads"] == 2
        with engine.connect() as connection:
            names = dict(
                connection.execute(
                    text(
                        "SELECT lead_id, first_name FROM leads"
                        " WHERE lead_id IN ('p00002', 'p00005', 'q00001', 'q00002')"
                    )
                ).all()
            )
        assert names == {"p00005": "Renamed", "q00001": None}
        await converged()

        # The stream read again from a position it no longer holds (an oplog past its
        # retention): every lead id is walked instead, with the same result.
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE sync_state SET resume_token = :token WHERE source = 'leads'"),
                {"token": '{"_data": "00"}'},
            )
        await leads_collection.delete_one({"_id": "p00003"})
        walked = await sync_warehouse(settings_env, database, engine=engine)
        assert walked.walked_lead_ids and walked.leads_checked == 11
        assert walked.deleted["leads"] == 1
        await converged()
        after = await sync_warehouse(settings_env, database, engine=engine)
        assert not after.walked_lead_ids and after.changed == 0
    finally:
        engine.dispose()
        twin.dispose()


async def test_a_sync_killed_midway_is_finished_by_the_next(
    settings_env: Settings, database: MongoDatabase, warehouse_factory: Callable[[], str]
) -> None:
    await enriched(settings_env, database, 120)
    url = warehouse_factory()
    engine = make_engine(url)
    env = {**os.environ, "LEADPERSONA_WAREHOUSE_URL": url}
    command = [sys.executable, "-m", "leadpersona", "warehouse", "sync", "--batch-size", "5"]
    try:
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # Kill it once some batches are committed and before it is done.
        deadline = time.monotonic() + 60
        committed = 0
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with engine.connect() as connection:
                    committed = connection.execute(
                        text("SELECT COUNT(*) FROM personas")
                    ).scalar_one()
            except Exception:  # the schema is not there yet
                committed = 0
            if committed >= 10:
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        with engine.connect() as connection:
            mark = connection.execute(
                text("SELECT watermark_id FROM sync_state WHERE source = 'personas'")
            ).scalar_one()
            # More batches may have committed between the count above and the kill.
            kept = connection.execute(text("SELECT COUNT(*) FROM personas")).scalar_one()
        assert mark is not None
        assert 10 <= kept < 120, kept  # killed midway
        finished = await sync_warehouse(settings_env, database, engine=engine)
        # The next sync reads on from the watermark: exactly the personas not yet there.
        assert finished.inserted["personas"] == 120 - kept
        await assert_equals_a_full_sync(settings_env, database, engine, warehouse_factory)
    finally:
        engine.dispose()


async def test_a_sync_killed_after_reading_the_change_stream_is_finished_by_the_next(
    settings_env: Settings, database: MongoDatabase, warehouse_factory: Callable[[], str]
) -> None:
    """The stream's position moves only with the sync's last transaction: a sync killed in its
    personas pass leaves the old one, and the next sync reads the same leads again."""
    await enriched(settings_env, database, 120)
    url = warehouse_factory()
    engine = make_engine(url)
    position = text("SELECT resume_token FROM sync_state WHERE source = 'leads'")
    command = [sys.executable, "-m", "leadpersona", "warehouse", "sync", "--batch-size", "5"]
    try:
        await sync_warehouse(settings_env, database, engine=engine)
        with engine.connect() as connection:
            before = connection.execute(position).scalar_one()
        gone = ["p00003", "p00050", "p00119"]
        await database["leads"].delete_many({"_id": {"$in": gone}})
        await database["leads"].insert_many(
            [{"_id": f"q{n:05d}", "email": f"q{n}@example.com"} for n in range(4)]
        )
        touched = datetime.now(UTC)
        await database["personas"].update_many({}, {"$set": {"updated_at": touched}})

        process = subprocess.Popen(
            command,
            env={**os.environ, "LEADPERSONA_WAREHOUSE_URL": url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Kill it once a batch of the touched personas is committed, before it is done.
        # (BSON keeps milliseconds.)
        touched = touched.replace(microsecond=touched.microsecond // 1000 * 1000)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and process.poll() is None:
                with engine.connect() as connection:
                    mark = read_watermark(connection, "personas")
                if mark is not None and mark[0] >= touched:
                    break
                time.sleep(0.02)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        with engine.connect() as connection:
            mark = read_watermark(connection, "personas")
            assert connection.execute(position).scalar_one() == before
            left = connection.execute(
                text("SELECT COUNT(*) FROM leads WHERE lead_id IN ('p00003', 'p00050', 'p00119')")
            ).scalar_one()
        assert mark is not None and mark[0] >= touched and mark[1] < "p00119", mark
        assert left == 3  # killed midway: the deleted leads are still there

        finished = await sync_warehouse(settings_env, database, engine=engine)
        assert not finished.walked_lead_ids
        assert finished.deleted["leads"] == 3 and finished.inserted["leads"] == 4
        await assert_equals_a_full_sync(
            settings_env, database, engine, warehouse_factory, after_deletions=True
        )
    finally:
        engine.dispose()


async def test_a_full_sync_waits_for_the_disk_only_at_the_end(
    settings_env: Settings, database: MongoDatabase, warehouse_factory: Callable[[], str]
) -> None:
    await enriched(settings_env, database, 12)
    engine = make_engine(warehouse_factory())
    # The statements of each transaction, in the order they committed.
    transactions: list[list[str]] = [[]]
    event.listen(engine, "before_cursor_execute", lambda *args: transactions[-1].append(args[2]))
    event.listen(engine, "commit", lambda connection: transactions.append([]))
    unflushed = "SET LOCAL synchronous_commit TO OFF"
    try:
        await sync_warehouse(settings_env, database, engine=engine, full=True, batch_size=5)
        writes = [t for t in transactions if any("INSERT" in sql for sql in t)]
        marks = [t for t in writes if any("INSERT INTO sync_state" in sql for sql in t)]
        batches = [t for t in writes if unflushed in t]
        if engine.dialect.name == "postgresql":
            # Each batch of personas (12 in batches of 5); not the watermark, not the end.
            assert len(batches) == 3
            assert marks and not any(unflushed in t for t in marks)
            assert unflushed not in writes[-1]
        else:
            assert batches == []
        transactions[:] = [[]]
        await PersonaService(mongo_repositories(database)).update("p00003", {"seniority": 2})
        again = await sync_warehouse(settings_env, database, engine=engine, batch_size=5)
        assert again.updated["personas"] == 1
        assert not any(unflushed in t for t in transactions)  # an incremental sync waits
    finally:
        engine.dispose()


async def test_a_sync_is_recorded_in_the_run_ledger_as_a_step_of_its_parent(
    settings_env: Settings, database: MongoDatabase, warehouse_factory: Callable[[], str]
) -> None:
    await enriched(settings_env, database, 6)
    engine = make_engine(warehouse_factory())
    try:
        report = await sync_warehouse(
            settings_env, database, engine=engine, parent_run_id="daily-1"
        )
        run = await database["runs"].find_one({"_id": report.run_id})
        assert run is not None
        assert (run["kind"], run["status"], run["parent_id"]) == (
            "warehouse_sync",
            "completed",
            "daily-1",
        )
        assert run["counts"]["inserted"]["leads"] == 6
        assert run["counts"]["personas_read"] == 6

        # A warehouse that goes away midway: the run ends failed, with one line saying why.
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE personas"))
        await PersonaService(mongo_repositories(database)).update("p00001", {"seniority": 3})
        with pytest.raises(WarehouseError):
            await sync_warehouse(settings_env, database, engine=engine)
        failed = await database["runs"].find_one({"kind": "warehouse_sync", "status": "failed"})
        assert failed is not None and failed["error"]
    finally:
        engine.dispose()


def at_one_company(
    lead_id: str,
    *,
    name: str,
    count: int | None,
    kind: str | None = None,
    industry: str | None = None,
) -> LeadRows:
    """The rows of a lead with one position, at company ``c1`` as its answer describes it."""
    company = {
        "company_id": "c1",
        "name": name,
        "linkedin_url": None,
        "employee_count": count,
        "industry": industry,
        "company_type": kind,
    }
    position = {
        "lead_id": lead_id,
        "ordinal": 0,
        "company_id": "c1",
        "title": None,
        "start_date": None,
        "end_date": None,
        "is_current": False,
    }
    return LeadRows(
        lead={"lead_id": lead_id, "email": None, "email_key": None, "status": 0},
        companies=[company],
        positions=[position],
    )


def test_a_company_named_by_leads_of_one_batch_merges_as_across_batches(
    warehouse_factory: Callable[[], str],
) -> None:
    small = at_one_company("a", name="acme", count=40, kind="Startup")
    large = at_one_company("b", name="ACME", count=4000, kind="Multi National")
    stored = []
    for batches in ([[small, large]], [[large, small]], [[small], [large]], [[large], [small]]):
        engine = make_engine(warehouse_factory())
        try:
            ensure_schema(engine)
            for batch in batches:
                with engine.begin() as connection:
                    WarehouseWriter(connection).write_leads(batch)
            stored.append(dump(engine)["companies"])
        finally:
            engine.dispose()
    assert stored[0] == [("c1", "ACME", None, 4000, None, "Multi National")]
    assert all(rows == stored[0] for rows in stored), stored


def test_a_company_named_again_is_set_again_only_when_the_merge_changes_it(
    warehouse_factory: Callable[[], str],
) -> None:
    engine = make_engine(warehouse_factory())
    try:
        ensure_schema(engine)
        updated = []
        leads = [
            at_one_company(lead_id, name="Acme", count=count, industry="Software")
            for lead_id, count in (("a", 40), ("b", 40), ("c", None), ("d", 400))
        ]
        for batch in ([lead] for lead in leads):
            with engine.begin() as connection:
                writer = WarehouseWriter(connection)
                writer.write_leads(batch)
            updated.append(writer.updated["companies"])
        # The same answer again, one that knows less, one that knows a larger count.
        assert updated == [0, 0, 0, 1]
        assert dump(engine)["companies"] == [("c1", "Acme", None, 400, "Software", None)]
    finally:
        engine.dispose()


async def test_a_full_sync_killed_midway_is_finished_by_the_next(
    settings_env: Settings, database: MongoDatabase, warehouse_factory: Callable[[], str]
) -> None:
    """Its batches commit without waiting for the disk and move no watermark: the next sync,
    incremental, reads every persona again and ends with the rows of a full sync."""
    await enriched(settings_env, database, 120)
    url = warehouse_factory()
    engine = make_engine(url)
    command = [sys.executable, "-m", "leadpersona", "warehouse", "sync", "--full"]
    try:
        process = subprocess.Popen(
            [*command, "--batch-size", "5"],
            env={**os.environ, "LEADPERSONA_WAREHOUSE_URL": url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    with engine.connect() as connection:
                        count = text("SELECT COUNT(*) FROM personas")
                        if connection.execute(count).scalar_one() >= 10:
                            break
                except Exception:  # the schema is not there yet
                    pass
                time.sleep(0.02)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT COUNT(*) FROM personas")).scalar_one()
            assert read_watermark(connection, "personas") is None  # moved only at the end
        assert 10 <= kept < 120, kept
        finished = await sync_warehouse(settings_env, database, engine=engine)
        assert finished.personas_read == 120
        assert finished.inserted["personas"] == 120 - kept
        await assert_equals_a_full_sync(settings_env, database, engine, warehouse_factory)
    finally:
        engine.dispose()


async def test_a_full_sync_writes_the_same_rows_without_preformatted_copy_bodies(
    settings_env: Settings,
    database: MongoDatabase,
    warehouse_factory: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The COPY bodies made while the next batch is mapped need a formatter psycopg does not
    promise to keep; without it the writer formats the rows itself, to the same rows."""
    await enriched(settings_env, database, 30)
    dumps = []
    for formatter in (warehouse_load._format_row_text, None):
        monkeypatch.setattr(warehouse_load, "_format_row_text", formatter)
        engine = make_engine(warehouse_factory())
        try:
            await sync_warehouse(settings_env, database, engine=engine, full=True, batch_size=7)
            dumps.append(dump(engine))
        finally:
            engine.dispose()
    assert dumps[0]["positions"] and dumps[0] == dumps[1]
