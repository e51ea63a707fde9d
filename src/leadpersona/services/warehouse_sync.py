"""``leadpersona warehouse sync``: MongoDB → SQL, incremental by watermark, convergent.

Two passes, each in batches, each batch one transaction:

1. **Personas changed since the watermark** (``updated_at``, then ``_id``, so rows sharing a
   timestamp are never skipped), with their leads and their latest archived API answers: the
   lead, persona and child rows are replaced as a set (the child rows stay, and the answer is
   not read, when the warehouse's rows were mapped from the answer the persona names: see
   :meth:`_Sync._answers_kept`); the watermark of the batch is committed with its rows.
   ``--full`` reads every persona in ``_id`` order instead, with its leads and answers walked
   in the same order, and moves the watermark once, at the end.
2. **Leads added, changed or deleted**: the leads MongoDB's change stream of ``leads`` names
   since the position the last sync kept (read before pass 1, see :meth:`_Sync.read_lead_log`)
   are read again: one that is still there has its lead row rewritten (without a persona until
   it has one), one that is gone leaves with its rows. Without a usable position (the first
   sync, ``--full``, a server without change streams, a position the oplog no longer holds),
   MongoDB's lead ids and the warehouse's, both in byte order, are merged like two sorted files
   instead: a lead only MongoDB has is written; a lead only the warehouse has leaves with its
   rows. ``--full`` also rewrites the lead rows the personas pass did not write, so edits made
   to leads outside the product are picked up.

A sync killed at any point loses nothing: committed batches carry their watermark, and both
passes are idempotent. A second sync with nothing changed writes nothing.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence, Set
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine

from leadpersona.adapters.archive import AnswersInOrder, RawArchive
from leadpersona.adapters.enrichment_client import parse_response
from leadpersona.adapters.repositories import LeadsInOrder, RunRepository, SyncSource
from leadpersona.adapters.warehouse.engine import ensure_schema, warehouse_errors
from leadpersona.adapters.warehouse.load import (
    TABLES,
    BatchRows,
    WarehouseWriter,
    batch_rows,
    chunks,
    lead_ids_after,
    read_resume_token,
    read_watermark,
    synced_answers,
)
from leadpersona.config import Settings
from leadpersona.domain.warehouse_rows import LeadRows, answer_id, lead_rows
from leadpersona.services.runs import recorded_run

__all__ = ["DEFAULT_BATCH", "SyncReport", "sync_warehouse"]

SOURCE = "personas"
#: The ``sync_state`` row of the position in MongoDB's log of writes to leads.
LEADS_LOG = "leads"
DEFAULT_BATCH = 500
_IDS = 5000
#: More leads changed than this since the last sync: the ids are walked instead (memory).
_MAX_LEAD_CHANGES = 100_000

Progress = Callable[[int, int | None], None]
#: Seconds a thread holds the interpreter lock while another waits for it, during the personas
#: pass (Python's default: 0.005). The writer wakes up from PostgreSQL dozens of times per
#: batch; with the default it waited up to 5 ms each time for the thread mapping the next
#: batch, and the pipeline saved nothing (see docs/decisions/warehouse.md).
_SWITCH_INTERVAL = 0.0005


class SyncReport(BaseModel):
    """What one sync did, per table."""

    full: bool
    run_id: str | None = None
    personas_read: int = 0
    #: Lead ids compared (every one when ``walked_lead_ids``, else those the log named).
    leads_checked: int = 0
    #: Whether the sync walked every lead id of MongoDB and of the warehouse to find leads
    #: added and deleted, for want of a usable change log (see the module's docstring).
    walked_lead_ids: bool = False
    inserted: dict[str, int]
    updated: dict[str, int]
    deleted: dict[str, int]
    seconds: float = 0.0
    #: Seconds spent reading MongoDB ("extract"), mapping documents to rows ("transform") and
    #: writing the warehouse ("load"); reading overlaps the rest, so the sum exceeds ``seconds``.
    stage_seconds: dict[str, float] = {}

    @property
    def changed(self) -> int:
        return sum(self.inserted.values()) + sum(self.updated.values()) + sum(self.deleted.values())


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _rewrite_leads(
    rows: Sequence[LeadRows], gone: Sequence[str]
) -> Callable[[WarehouseWriter], None]:
    """A batch of the leads pass: these lead rows written, these leads removed."""

    def write(writer: WarehouseWriter) -> None:
        writer.write_lead_rows(rows)
        writer.delete_leads(gone)

    return write


class _Sync:
    def __init__(
        self,
        settings: Settings,
        source: SyncSource,
        engine: Engine,
        archive: RawArchive,
        *,
        full: bool,
        batch_size: int,
        on_progress: Progress | None,
    ) -> None:
        self.source = source
        self.engine = engine
        self.archive = archive
        self.full = full
        self.batch_size = batch_size
        self.on_progress = on_progress
        self.rules = settings.company_type_rules
        self.inserted: Counter[str] = Counter()
        self.updated: Counter[str] = Counter()
        self.deleted: Counter[str] = Counter()
        #: Seconds spent reading MongoDB, mapping documents to rows and writing the
        #: warehouse; reading overlaps the other two, so their sum exceeds the wall time.
        self.stages: dict[str, float] = {"extract": 0.0, "transform": 0.0, "load": 0.0}
        #: Tables whose rows are copied straight in until one turns out to be known.
        self.fresh_first = {"leads", "personas"}
        #: Companies and skills that rows deleted by this sync named (orphan candidates).
        self.freed: dict[str, set[str]] = {"companies": set(), "skills": set()}
        #: The position in MongoDB's log of writes to leads that the last sync kept, the one
        #: this sync keeps, and the leads the log named in between that the personas pass has
        #: not written (None: no usable log, every lead id is walked).
        self.kept_position: str | None = None
        self.position: str | None = None
        self.changed_leads: set[str] | None = None

    def _commit(
        self,
        write: Callable[[WarehouseWriter], None],
        watermark: tuple[datetime, str] | None = None,
        *,
        flushed: bool = True,
    ) -> None:
        """One transaction. Not ``flushed``: PostgreSQL reports the commit before its log is
        on disk; a crash of the server may then lose it, as if the sync had been killed just
        before it, which the next sync finishes (the next ``flushed`` commit puts every earlier
        one on disk first)."""
        started = time.perf_counter()
        with self.engine.begin() as connection:
            if not flushed and connection.dialect.name == "postgresql":
                connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            writer = WarehouseWriter(connection, self.fresh_first)
            write(writer)
            if watermark is not None:
                writer.save_watermark(SOURCE, watermark, datetime.now(UTC))
            info = connection.connection.info
        writer.committed(info)
        for name, ids in writer.freed.items():
            self.freed[name].update(ids)
        self.stages["load"] += time.perf_counter() - started
        self.inserted.update(writer.inserted)
        self.updated.update(writer.updated)
        self.deleted.update(writer.deleted)

    async def _answers_kept(
        self, personas: Sequence[Mapping[str, Any]], in_flight: Set[str]
    ) -> set[str]:
        """The leads of an incremental batch whose child rows in the warehouse were mapped from
        the very answer their persona names now (a persona edited or recomputed, not enriched
        again): their answers are neither read nor mapped again, and their child rows stay.
        Not a lead of the batch still being written: what it will have is not committed yet.
        """
        ids = [str(persona["_id"]) for persona in personas]

        def read() -> dict[str, str | None]:
            with self.engine.connect() as connection:
                return synced_answers(connection, ids)

        synced = await asyncio.to_thread(read)
        kept = {
            lead_id
            for lead_id, persona in zip(ids, personas, strict=True)
            if lead_id in synced
            and lead_id not in in_flight
            and synced[lead_id] == answer_id(persona)
        }
        return kept

    async def _extract(
        self,
        personas: Sequence[Mapping[str, Any]],
        walks: tuple[LeadsInOrder, AnswersInOrder] | None,
        in_flight: Set[str] = frozenset(),
    ) -> tuple[dict[str, Mapping[str, Any]], dict[str, bytes], set[str]]:
        """The batch's leads and archived answers (two lookups, concurrently), and the leads
        whose answers are kept (incremental: see :meth:`_answers_kept`, found while the leads
        are read; their answers are not read). In a full sync the batches come in ``_id``
        order, so ``walks`` read their leads by one cursor in that order alongside (a lookup by
        id costs the embedded server about four times a walk), and their answers too, archived
        in the order the leads were enriched (those the walk has passed are looked up)."""
        started = time.perf_counter()
        ids = [persona["_id"] for persona in personas]
        kept: set[str] = set()
        if walks is not None:
            leads_walk, answers_walk = walks
            archive_ids = [a for persona in personas if (a := answer_id(persona))]
            leads, answers = await asyncio.gather(
                leads_walk.take(ids), answers_walk.take(archive_ids)
            )
        else:
            reading = asyncio.ensure_future(self.source.leads(ids))
            try:
                kept = await self._answers_kept(personas, in_flight)
                archive_ids = [
                    archive_id
                    for persona in personas
                    if (archive_id := answer_id(persona)) and str(persona["_id"]) not in kept
                ]
                answers = await self.archive.raw_many(archive_ids)
                leads = await reading
            finally:
                reading.cancel()  # (done by then, unless something above failed)
        self.stages["extract"] += time.perf_counter() - started
        return {doc["_id"]: doc for doc in leads}, answers, kept

    async def read_lead_log(self) -> None:
        """Before anything else is read: the leads written or deleted in MongoDB since the
        position the last sync kept, and the position this one keeps (committed at the end).

        The log is read up to the present, so every lead document read from here on is newer
        than its events: a lead the personas pass writes needs nothing more, the others are
        read again by :meth:`leads_pass`. A write made after this read is named again by the
        next sync's read (whatever this sync saw of it, reading a lead again is idempotent).
        Without a usable log, the position is taken here too, before the walk of every lead
        id that stands in for it: the walk sees every write the position comes after.
        """
        started = time.perf_counter()
        with self.engine.connect() as connection:
            self.kept_position = read_resume_token(connection, LEADS_LOG)
        changes = None
        if not self.full and self.kept_position is not None:
            changes = await self.source.lead_changes(self.kept_position, _MAX_LEAD_CHANGES)
        if changes is None:
            self.position = await self.source.lead_log_position()
        else:
            self.position = changes.position
            self.changed_leads = set(changes.ids)
        self.stages["extract"] += time.perf_counter() - started

    def _transform(
        self,
        personas: Sequence[Mapping[str, Any]],
        leads: Mapping[str, Mapping[str, Any]],
        answers: Mapping[str, bytes],
        kept: Set[str] = frozenset(),
    ) -> list[LeadRows]:
        """The rows of each persona's lead; none mapped from the answer of a lead whose child
        rows are ``kept`` (another lead of the batch may have brought the same answer)."""
        started = time.perf_counter()
        rows = []
        for persona in personas:
            lead = leads.get(persona["_id"])
            if lead is None:
                continue  # the lead was deleted: the lead pass removes it
            if str(persona["_id"]) in kept:
                rows.append(lead_rows(lead, persona, None, self.rules))
                continue
            raw = answers.get(answer_id(persona) or "")
            response = parse_response(raw) if raw else None
            rows.append(lead_rows(lead, persona, response, self.rules))
        self.stages["transform"] += time.perf_counter() - started
        return rows

    async def personas_pass(self) -> int:
        """Batches of personas, pipelined: while one batch is written (in a worker thread, one
        transaction), the next is mapped (in another) and the one after it read from MongoDB.
        Batches commit in order.

        Incremental: the personas changed since the watermark, in ``(updated_at, _id)`` order,
        each batch committing its own watermark. Full: every persona in ``_id`` order, so that
        its leads and answers are read by walks in the same order (see :meth:`_extract`), and
        the watermark moves once, at the end, to the moment the pass began (a full sync killed
        midway leaves the watermark where it was: the next sync reads again what changed
        since)."""
        with warehouse_errors(str(self.engine.url)), self.engine.connect() as connection:
            mark = None if self.full else read_watermark(connection, SOURCE)
        if mark is not None:
            # Synced before: the leads and personas read are mostly known, and copying them
            # straight in would only be undone (a COPY and a savepoint rolled back per table).
            self.fresh_first.clear()
        # The personas at the watermark's own instant that were already synced are read
        # again, and skipped below.
        since = None if mark is None else mark[0]
        started = time.perf_counter()
        # BSON keeps milliseconds: a persona written from now on is read again next time.
        began = datetime.now(UTC) - timedelta(milliseconds=1)
        # Counted only for the progress reports, alongside the reading (21 ms of an
        # incremental sync at 20,000 leads when it came first).
        counting = (
            None
            if self.on_progress is None
            else asyncio.ensure_future(self.source.count_personas(since))
        )
        cursor = self.source.personas(since, by_id=self.full, batch_size=self.batch_size)
        walks = (self.source.leads_in_order(), self.archive.raw_in_order()) if self.full else None
        self.stages["extract"] += time.perf_counter() - started
        read = 0
        # Up to three batches in flight: one read from MongoDB (here, in the event loop), one
        # mapped in a worker thread while the one before it is written in another (waiting on
        # PostgreSQL most of the time). Batches are mapped in turn and committed in turn.
        mapping: asyncio.Future[tuple[list[LeadRows], BatchRows]] | None = None
        #: Each batch's write (done once committed), the personas read up to it, its leads.
        pending: deque[tuple[asyncio.Future[None], int, set[str]]] = deque()

        async def settle(everything: bool = False) -> None:
            """Wait for the writes that are done (``everything``: for all of them)."""
            while pending and (everything or pending[0][0].done()):
                done, count, _ = pending.popleft()
                try:
                    await done
                except BaseException:
                    # The later writes fail too (each one waits for the one before).
                    await asyncio.gather(*(f for f, _, _ in pending), return_exceptions=True)
                    pending.clear()
                    raise
                if self.on_progress is not None and counting is not None:
                    self.on_progress(count, await counting)

        def transform(
            batch: Sequence[Mapping[str, Any]],
            leads: Mapping[str, Mapping[str, Any]],
            answers: Mapping[str, bytes],
            kept: Set[str],
        ) -> tuple[list[LeadRows], BatchRows]:
            rows = self._transform(batch, leads, answers, kept)
            if self.changed_leads is not None:
                self.changed_leads.difference_update(row.lead["lead_id"] for row in rows)
            # The COPY bodies too: the writer then only sends bytes.
            started = time.perf_counter()
            prepared = batch_rows(rows, formatted=self.engine.dialect.name == "postgresql")
            self.stages["transform"] += time.perf_counter() - started
            return rows, prepared

        def write(
            mapped: tuple[list[LeadRows], BatchRows], last: Mapping[str, Any], kept: Set[str]
        ) -> None:
            rows, prepared = mapped
            watermark = None if self.full else (_utc(last["updated_at"]), str(last["_id"]))
            # A full sync's batches move no watermark, and its last commit waits for the disk:
            # theirs need not (40 waits for the disk at 20,000 leads).
            self._commit(
                lambda writer: writer.write_leads(rows, kept, prepared),
                watermark,
                flushed=not self.full,
            )

        async def map_then_write(
            before: asyncio.Future[None] | None,
            mapped: asyncio.Future[tuple[list[LeadRows], BatchRows]],
            last: Mapping[str, Any],
            kept: Set[str],
        ) -> None:
            try:
                rows = await mapped
            finally:
                if before is not None:
                    await before  # committed in turn
            await asyncio.to_thread(write, rows, last, kept)

        async def flush(batch: list[Mapping[str, Any]]) -> None:
            nonlocal mapping
            # Not the leads of a batch still being written: what it will have is not committed.
            in_flight: set[str] = set().union(*(i for done, _, i in pending if not done.done()))
            leads, answers, kept = await self._extract(batch, walks, in_flight)
            await settle()
            if mapping is not None:
                # One batch mapped at a time: a third thread busy with Python made the writer
                # wait longer for the interpreter lock than it saved.
                await asyncio.gather(mapping, return_exceptions=True)  # raised by its write
            while len(pending) > 1:  # one written, one mapped: no more in memory
                await pending[0][0]
                await settle()
            mapping = asyncio.ensure_future(
                asyncio.to_thread(transform, batch, leads, answers, kept)
            )
            before = pending[-1][0] if pending else None
            writing = asyncio.ensure_future(map_then_write(before, mapping, batch[-1], kept))
            pending.append((writing, read, {str(persona["_id"]) for persona in batch}))

        batch: list[Mapping[str, Any]] = []
        personas = aiter(cursor)
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(switch_interval, _SWITCH_INTERVAL))
        try:
            while True:
                started = time.perf_counter()
                try:
                    persona = await anext(personas)
                except StopAsyncIteration:
                    break
                finally:
                    self.stages["extract"] += time.perf_counter() - started
                moment = persona.get("updated_at")
                if moment is None or (
                    mark is not None and _utc(moment) == mark[0] and str(persona["_id"]) <= mark[1]
                ):
                    continue
                batch.append(persona)
                read += 1
                if len(batch) >= self.batch_size:
                    await flush(batch)
                    batch = []
            if batch:
                await flush(batch)
        finally:
            try:
                await settle(everything=True)
            finally:
                if mapping is not None:
                    await asyncio.gather(mapping, return_exceptions=True)
                sys.setswitchinterval(switch_interval)
                if counting is not None and not counting.done():
                    counting.cancel()  # nothing was written: no progress to report
                elif counting is not None and not counting.cancelled():
                    counting.exception()  # retrieved: a failed count is not worth a warning
        if self.full:
            await asyncio.to_thread(self._commit, lambda writer: None, (began, ""))
        return read

    async def leads_pass(self) -> int:
        """The leads the log named, or without a log every lead id: add the new, remove the
        deleted."""
        if self.changed_leads is not None:
            return await self._apply_lead_changes(sorted(self.changed_leads))
        return await self._walk_lead_ids()

    async def _apply_lead_changes(self, ids: Sequence[str]) -> int:
        """Read these leads again: rewrite the lead rows of those still there, remove those
        gone with their rows (one transaction per batch)."""
        with warehouse_errors(str(self.engine.url)):
            for batch in chunks(ids, self.batch_size):
                started = time.perf_counter()
                docs = await self.source.leads(batch)
                self.stages["extract"] += time.perf_counter() - started
                started = time.perf_counter()
                rows = [lead_rows(doc, None, None, self.rules) for doc in docs]
                there = {str(doc["_id"]) for doc in docs}
                gone = [lead_id for lead_id in batch if lead_id not in there]
                self.stages["transform"] += time.perf_counter() - started
                await asyncio.to_thread(self._commit, _rewrite_leads(rows, gone))
        return len(ids)

    async def _walk_lead_ids(self) -> int:
        """Merge MongoDB's and the warehouse's lead ids: add the new, remove the deleted."""
        checked = 0
        sql_ids: list[tuple[str, bool]] = []
        sql_pos = 0
        sql_done = False
        last_sql: str | None = None
        new: list[str] = []
        gone: list[str] = []

        def read_sql_ids() -> list[tuple[str, bool]]:
            started = time.perf_counter()
            with self.engine.connect() as connection:
                ids = lead_ids_after(connection, last_sql, _IDS)
            self.stages["extract"] += time.perf_counter() - started
            return ids

        async def next_sql() -> tuple[str, bool] | None:
            nonlocal sql_ids, sql_pos, sql_done, last_sql
            if sql_pos >= len(sql_ids) and not sql_done:
                sql_ids = await asyncio.to_thread(read_sql_ids)
                sql_pos = 0
                sql_done = len(sql_ids) < _IDS
                if sql_ids:
                    last_sql = sql_ids[-1][0]
            if sql_pos < len(sql_ids):
                return sql_ids[sql_pos]
            return None

        async def flush(final: bool = False) -> None:
            nonlocal new, gone
            if len(new) >= self.batch_size or (final and new):
                ids = new
                new = []
                started = time.perf_counter()
                docs = await self.source.leads(ids)
                self.stages["extract"] += time.perf_counter() - started
                started = time.perf_counter()
                rows = [lead_rows(doc, None, None, self.rules) for doc in docs]
                self.stages["transform"] += time.perf_counter() - started
                await asyncio.to_thread(self._commit, lambda w: w.write_lead_rows(rows))
            if len(gone) >= self.batch_size or (final and gone):
                ids = gone
                gone = []
                await asyncio.to_thread(self._commit, lambda w: w.delete_leads(ids))

        with warehouse_errors(str(self.engine.url)):
            async for mongo_id in self.source.lead_ids(_IDS):
                checked += 1
                while (current := await next_sql()) is not None and (current[0] < mongo_id):
                    gone.append(current[0])
                    sql_pos += 1
                if current is not None and current[0] == mongo_id:
                    sql_pos += 1
                    # --full rewrites every lead row; the personas pass just wrote those with
                    # a persona.
                    if self.full and not current[1]:
                        new.append(mongo_id)
                else:
                    new.append(mongo_id)
                await flush()
            while (current := await next_sql()) is not None:
                gone.append(current[0])
                sql_pos += 1
            await flush(final=True)
        return checked


async def sync_warehouse(
    settings: Settings,
    *,
    source: SyncSource,
    archive: RawArchive,
    runs: RunRepository,
    full: bool = False,
    batch_size: int = DEFAULT_BATCH,
    engine: Engine,
    on_progress: Progress | None = None,
    parent_run_id: str | None = None,
) -> SyncReport:
    """Bring the warehouse up to date with the documents of ``source`` (everything again with
    ``full``), the answers in ``archive``.

    The sync is recorded as a ``warehouse_sync`` run in ``runs``, as a step of
    ``parent_run_id`` when given, with the rows inserted, updated and deleted per table as its
    counts; an error ends it as ``failed`` and is raised as itself.
    ``leadpersona.bootstrap.sync_warehouse`` runs it on a MongoDB database.
    """
    started = time.perf_counter()
    async with recorded_run(
        runs,
        "warehouse_sync",
        parent_id=parent_run_id,
        details={"full": full, "batch_size": batch_size},
    ) as run:
        await asyncio.to_thread(ensure_schema, engine)
        sync = _Sync(
            settings,
            source,
            engine,
            archive,
            full=full,
            batch_size=batch_size,
            on_progress=on_progress,
        )
        try:
            with warehouse_errors(str(engine.url)):
                await sync.read_lead_log()
                personas = await sync.personas_pass()
                leads = await sync.leads_pass()
                # A full sync looks at every company and skill; an incremental one only
                # at those that rows it deleted named.
                candidates = None if full else sync.freed

                def finish(writer: WarehouseWriter) -> None:
                    writer.drop_orphans(candidates)
                    # Kept with the last rows: a sync killed before reads the log again from
                    # the position the last one kept.
                    if sync.position is not None or sync.kept_position is not None:
                        writer.save_resume_token(LEADS_LOG, sync.position, datetime.now(UTC))

                await asyncio.to_thread(sync._commit, finish)
        finally:
            run.counts.update(
                {
                    "inserted": {name: sync.inserted[name] for name in TABLES},
                    "updated": {name: sync.updated[name] for name in TABLES},
                    "deleted": {name: sync.deleted[name] for name in TABLES},
                }
            )
        run.counts.update(
            {
                "personas_read": personas,
                "leads_checked": leads,
                "walked_lead_ids": sync.changed_leads is None,
                "stage_seconds": {name: round(v, 3) for name, v in sync.stages.items()},
            }
        )
    return SyncReport(
        full=full,
        run_id=run.id,
        personas_read=personas,
        leads_checked=leads,
        walked_lead_ids=sync.changed_leads is None,
        inserted={name: sync.inserted[name] for name in TABLES},
        updated={name: sync.updated[name] for name in TABLES},
        deleted={name: sync.deleted[name] for name in TABLES},
        seconds=round(time.perf_counter() - started, 3),
        stage_seconds={name: round(value, 3) for name, value in sync.stages.items()},
    )
