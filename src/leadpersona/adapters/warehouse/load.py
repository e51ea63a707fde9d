"""Set-based writes to the warehouse with SQLAlchemy Core: upserts on both dialects.

``INSERT ... ON CONFLICT`` (SQLite and PostgreSQL) in executemany batches; the ORM models
define the tables but are not used to load them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from psycopg.adapt import Transformer
from psycopg.errors import UniqueViolation
from sqlalchemy import (
    JSON,
    Connection,
    Table,
    case,
    delete,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.dialects import postgresql

from leadpersona.adapters.warehouse.engine import dialect_insert
from leadpersona.adapters.warehouse.tables import (
    Company,
    Education,
    Lead,
    Persona,
    Position,
    Skill,
    SyncState,
    lead_skills,
)
from leadpersona.domain.warehouse_rows import LeadRows, merge_company

try:  # psycopg's own formatter of text COPY rows (C in psycopg[binary]), not a public name:
    from psycopg._copy_base import format_row_text as _format_row_text
except ImportError:  # a psycopg without it: the writer formats each row while it copies
    _format_row_text = None

__all__ = [
    "TABLES",
    "BatchRows",
    "WarehouseWriter",
    "batch_rows",
    "by_index",
    "chunks",
    "lead_ids_after",
    "read_resume_token",
    "read_watermark",
    "synced_answers",
]

LEADS: Table = Lead.__table__  # type: ignore[assignment]
PERSONAS: Table = Persona.__table__  # type: ignore[assignment]
COMPANIES: Table = Company.__table__  # type: ignore[assignment]
POSITIONS: Table = Position.__table__  # type: ignore[assignment]
SKILLS: Table = Skill.__table__  # type: ignore[assignment]
EDUCATIONS: Table = Education.__table__  # type: ignore[assignment]
SYNC_STATE: Table = SyncState.__table__  # type: ignore[assignment]
TABLE_BY_NAME = {
    table.name: table
    for table in (LEADS, PERSONAS, COMPANIES, POSITIONS, SKILLS, EDUCATIONS, lead_skills)
}
TABLES = ("leads", "personas", "companies", "positions", "skills", "lead_skills", "educations")
_CHILDREN = (POSITIONS, EDUCATIONS, lead_skills)
STAGING_TABLES = "leadpersona_staging_tables"
#: The child tables that name a shared row: (column, the table it names).
_NAMES = {"positions": ("company_id", "companies"), "lead_skills": ("skill_id", "skills")}


#: The tables a batch of leads writes, in the order :meth:`WarehouseWriter.write_leads` writes
#: them; the child tables (appended in their columns' order) last.
_BATCH_TABLES = (
    "leads",
    "companies",
    "skills",
    "personas",
    "positions",
    "educations",
    "lead_skills",
)
_APPENDED = {"positions": POSITIONS, "educations": EDUCATIONS, "lead_skills": lead_skills}
#: Formats values as PostgreSQL's text COPY format does, with the default adapters (no
#: connection needed: the rows hold text, numbers, booleans, dates and timestamps).
_FORMATS = Transformer()


@dataclass
class BatchRows:
    """A batch's rows per table (companies merged, skills deduplicated), and, for PostgreSQL,
    each table's ``COPY`` body, in the column order the writer copies that table in (a child
    table's columns; else the keys of its first row)."""

    tables: dict[str, list[dict[str, Any]]]
    copy_text: dict[str, bytes] = field(default_factory=dict)


def batch_rows(batch: Sequence[LeadRows], *, formatted: bool) -> BatchRows:
    """The rows ``batch`` writes per table; with ``formatted``, their ``COPY`` bodies too, so
    that the writer only sends bytes (made in the thread that maps the next batch while the
    writer waits on PostgreSQL)."""
    companies: dict[str, dict[str, Any]] = {}
    for rows in batch:
        for company in rows.companies:
            kept = companies.get(company["company_id"])
            companies[company["company_id"]] = (
                company if kept is None else merge_company(kept, company)
            )
    skills: dict[str, dict[str, Any]] = {}
    for rows in batch:
        for skill in rows.skills:
            skills.setdefault(skill["skill_id"], skill)
    prepared = BatchRows(
        {
            "leads": [rows.lead for rows in batch],
            "companies": list(companies.values()),
            "skills": list(skills.values()),
            "personas": [rows.persona for rows in batch if rows.persona is not None],
            "positions": [row for rows in batch for row in rows.positions],
            "educations": [row for rows in batch for row in rows.educations],
            "lead_skills": [pair for rows in batch for pair in rows.lead_skills],
        }
    )
    if not formatted or _format_row_text is None:
        return prepared
    for name in _BATCH_TABLES:
        rows_of = prepared.tables[name]
        if not rows_of:
            continue
        appended = _APPENDED.get(name)
        columns = [c.name for c in appended.columns] if appended is not None else list(rows_of[0])
        out = bytearray()
        for cells in _copy_cells(TABLE_BY_NAME[name], columns, rows_of):
            _format_row_text(cells, _FORMATS, out)
        prepared.copy_text[name] = bytes(out)
    return prepared


def _copy_cells(
    table: Table, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> Iterator[Sequence[Any]]:
    """Each row's values of ``columns`` as ``COPY`` takes them: NULL for a column the row
    lacks, JSON columns as documents."""
    documents = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
    values = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
    for row in rows:
        try:
            cells = values(row)
        except KeyError:  # a row without some column: NULL there
            cells = tuple(row.get(c) for c in columns)
        if documents:
            cells = tuple(
                json.dumps(cell) if i in documents and cell is not None else cell
                for i, cell in enumerate(cells)
            )
        yield cells


class WarehouseWriter:
    """Writes inside one transaction (the caller's connection); counts rows per table."""

    def __init__(self, connection: Connection, fresh_first: set[str] | None = None) -> None:
        """``fresh_first``: tables whose rows are first copied straight in, expecting new keys
        (PostgreSQL); a table leaves the set at its first known key (share one set across the
        transactions of a sync)."""
        self.connection = connection
        self.fresh_first: set[str] = set() if fresh_first is None else fresh_first
        self.inserted: Counter[str] = Counter()
        self.updated: Counter[str] = Counter()
        self.deleted: Counter[str] = Counter()
        #: Staging tables this transaction created: once it commits, :meth:`committed` notes
        #: them on the database connection, which keeps them as long as it lives.
        self.staged: set[str] = set()
        #: Companies and skills that deleted child rows named: the only ones this
        #: transaction can have left unnamed (see :meth:`drop_orphans`).
        self.freed: dict[str, set[str]] = {"companies": set(), "skills": set()}

    def committed(self, connection_info: dict[Any, Any]) -> None:
        """Call after the transaction committed, with its DBAPI connection's ``info``."""
        connection_info.setdefault(STAGING_TABLES, set()).update(self.staged)

    def _upsert(
        self,
        table: Table,
        rows: Sequence[dict[str, Any]],
        *,
        replace: bool,
        payload: bytes | None = None,
    ) -> set[Any]:
        """Insert ``rows``, or update them (``replace``) or leave them be when their key is
        there; the keys that were already there. ``payload``: their ``COPY`` body, if made."""
        if not rows:
            return set()
        keys = [column.name for column in table.primary_key.columns]
        names = list(rows[0])
        if self.connection.dialect.name == "postgresql" and table.name in self.fresh_first:
            # Straight into the table, as long as its rows turn out new (a sync into an empty
            # warehouse): a key already there undoes the copy, and the table goes through
            # staging from then on.
            try:
                with self.connection.begin_nested():
                    self._copy(table, table.name, names, rows, payload)
            except UniqueViolation:
                self.fresh_first.discard(table.name)
            else:
                self.inserted[table.name] += len(rows)
                return set()
        statement = self._insert_many(table, rows, payload)
        if replace:
            columns = {name: statement.excluded[name] for name in names if name not in keys}
            statement = statement.on_conflict_do_update(index_elements=keys, set_=columns)
        else:
            statement = statement.on_conflict_do_nothing(index_elements=keys)
        return self._count_upsert(table, rows, statement, replace=replace)

    def _insert_many(
        self, table: Table, rows: Sequence[dict[str, Any]], payload: bytes | None = None
    ) -> Any:
        """An ``INSERT`` of ``rows``: on PostgreSQL from a temporary table they were copied into
        (``COPY``, then one set-based statement); elsewhere with the rows as parameters."""
        if self.connection.dialect.name != "postgresql":
            return dialect_insert(self.connection, table)
        names = list(rows[0])
        stage = f"stage_{table.name}"
        if stage not in self.connection.connection.info.get(STAGING_TABLES, ()):
            self.connection.exec_driver_sql(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage}"
                f" (LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            self.staged.add(stage)
        self._copy(table, stage, names, rows, payload)
        source: Any = select(*(sql_column(name) for name in names)).select_from(sql_table(stage))
        return postgresql.insert(table).from_select(names, source)

    def _count_upsert(
        self, table: Table, rows: Sequence[dict[str, Any]], statement: Any, *, replace: bool
    ) -> set[Any]:
        """Run an upsert, count the rows it inserted and updated (with ``replace``, every
        conflicting row the statement set again: all of them, unless its update has a
        condition); the keys that were already there."""
        key = table.primary_key.columns.values()[0]
        if self.connection.dialect.name == "postgresql":
            # xmax is 0 in a row version that an INSERT made, not in one an UPDATE made.
            returned = self.connection.execute(
                statement.returning(table.c[key.name], literal_column("xmax = 0"))
            )
            flags = list(returned)
            existing = {value for value, inserted in flags if not inserted}
            self.inserted[table.name] += len(flags) - len(existing)
            self.updated[table.name] += len(existing)
            return existing
        existing = set(
            self.connection.scalars(select(key).where(key.in_([row[key.name] for row in rows])))
        )
        written = self.connection.execute(statement, list(rows)).rowcount
        fresh = len({row[key.name] for row in rows} - existing)
        self.inserted[table.name] += fresh
        if replace:
            self.updated[table.name] += written - fresh
        return existing

    def _copy(
        self,
        table: Table,
        name: str,
        columns: Sequence[str],
        rows: Sequence[dict[str, Any]],
        payload: bytes | None = None,
    ) -> None:
        """``COPY`` ``rows`` into ``name`` (``table`` or a table shaped like it), or their
        ``payload`` (made by :func:`batch_rows`: the rows then need no Python here)."""
        driver = self.connection.connection.driver_connection
        assert driver is not None
        with (
            driver.cursor() as cursor,
            # (A payload is UTF-8, whatever the connection's encoding.)
            cursor.copy(
                f"COPY {name} ({', '.join(columns)}) FROM STDIN"
                + (" WITH (ENCODING 'UTF8')" if payload is not None else "")
            ) as copy,
        ):
            if payload is not None:
                copy.write(payload)
                return
            for cells in _copy_cells(table, columns, rows):
                copy.write_row(cells)

    def _append(
        self, table: Table, rows: Sequence[dict[str, Any]], payload: bytes | None = None
    ) -> None:
        """Insert rows known to be new (a lead's child rows, just deleted): ``COPY`` on
        PostgreSQL, one executemany ``INSERT`` elsewhere."""
        if not rows:
            return
        self.inserted[table.name] += len(rows)
        if self.connection.dialect.name != "postgresql":
            self.connection.execute(dialect_insert(self.connection, table), list(rows))
            return
        self._copy(table, table.name, [column.name for column in table.columns], rows, payload)

    def write_leads(
        self,
        batch: Sequence[LeadRows],
        keep_children: Set[str] = frozenset(),
        prepared: BatchRows | None = None,
    ) -> None:
        """Upsert these leads and replace each one's persona and child rows as a set; the
        child rows of the leads in ``keep_children`` stay as they are (their answer is the one
        they were mapped from, and ``batch`` has none of theirs). ``prepared``: the batch's
        :func:`batch_rows`, if made already."""
        if not batch:
            return
        if prepared is None:
            prepared = batch_rows(batch, formatted=False)
        tables, texts = prepared.tables, prepared.copy_text
        ids = [rows.lead["lead_id"] for rows in batch]
        known = self._upsert(LEADS, tables["leads"], replace=True, payload=texts.get("leads"))
        self._merge_companies(tables["companies"], texts.get("companies"))
        self._upsert(SKILLS, tables["skills"], replace=False, payload=texts.get("skills"))
        self._upsert(PERSONAS, tables["personas"], replace=True, payload=texts.get("personas"))
        # A lead that was not there has no persona or child rows to replace.
        without = [rows.lead["lead_id"] for rows in batch if rows.persona is None]
        without = [lead_id for lead_id in without if lead_id in known]
        if without:
            gone = self.connection.execute(delete(PERSONAS).where(PERSONAS.c.lead_id.in_(without)))
            self.deleted["personas"] += gone.rowcount
        self._delete_children(
            [lead_id for lead_id in ids if lead_id in known and lead_id not in keep_children]
        )
        for name, table in _APPENDED.items():
            self._append(table, tables[name], texts.get(name))
        # A replaced set counts as changed rows, not as new ones: net of what was deleted.
        for name in ("positions", "educations", "lead_skills"):
            same = min(self.inserted[name], self.deleted[name])
            self.inserted[name] -= same
            self.deleted[name] -= same
            self.updated[name] += same

    def _merge_companies(
        self, rows: Sequence[dict[str, Any]], payload: bytes | None = None
    ) -> None:
        """Upsert companies so that the result does not depend on the order leads arrive in:
        the largest employee count and the smallest non-empty text among the answers seen."""
        if not rows:
            return
        statement = self._insert_many(COMPANIES, rows, payload)
        pick = func.max if self.connection.dialect.name == "sqlite" else func.greatest
        least = func.min if self.connection.dialect.name == "sqlite" else func.least
        merged = {
            "employee_count": func.coalesce(
                pick(COMPANIES.c.employee_count, statement.excluded.employee_count),
                COMPANIES.c.employee_count,
                statement.excluded.employee_count,
            ),
            "company_type": func.coalesce(
                case(
                    (
                        func.coalesce(statement.excluded.employee_count, -1)
                        > func.coalesce(COMPANIES.c.employee_count, -1),
                        statement.excluded.company_type,
                    ),
                    else_=COMPANIES.c.company_type,
                ),
                COMPANIES.c.company_type,
                statement.excluded.company_type,
            ),
        }
        for name in ("name", "linkedin_url", "industry"):
            merged[name] = func.coalesce(
                least(COMPANIES.c[name], statement.excluded[name]),
                COMPANIES.c[name],
                statement.excluded[name],
            )
        # A company already there is set again only when the merge changes it: most answers
        # that name a known company add nothing (a full sync of 20,000 leads in batches of 500
        # merged 74,141 company rows into 20,756 companies).
        changes = or_(
            *(COMPANIES.c[name].is_distinct_from(value) for name, value in merged.items())
        )
        statement = statement.on_conflict_do_update(
            index_elements=["company_id"], set_=merged, where=changes
        )
        self._count_upsert(COMPANIES, rows, statement, replace=True)

    def _by_index(self) -> AbstractContextManager[None]:
        return by_index(self.connection)

    def _delete_children(self, lead_ids: Sequence[str]) -> None:
        """Delete these leads' child rows, noting the companies and skills they named."""
        if not lead_ids:
            return
        with self._by_index():
            self._delete_children_of(lead_ids)

    def _delete_children_of(self, lead_ids: Sequence[str]) -> None:
        for table in _CHILDREN:
            statement = delete(table).where(table.c.lead_id.in_(lead_ids))
            named = _NAMES.get(table.name)
            if named is None:
                self.deleted[table.name] += self.connection.execute(statement).rowcount
                continue
            column, target = named
            gone = self.connection.execute(statement.returning(table.c[column])).scalars().all()
            self.deleted[table.name] += len(gone)
            self.freed[target].update(value for value in gone if value is not None)

    def drop_orphans(self, candidates: Mapping[str, Iterable[str]] | None = None) -> None:
        """Remove companies no position names and skills no lead has (a full sync has none):
        among ``candidates`` (ids by table, as :attr:`freed` collects them), or all."""
        for table, column, refs in (
            (COMPANIES, COMPANIES.c.company_id, POSITIONS.c.company_id),
            (SKILLS, SKILLS.c.skill_id, lead_skills.c.skill_id),
        ):
            unnamed = ~select(refs).where(refs == column).exists()
            if candidates is None:
                gone = self.connection.execute(delete(table).where(unnamed))
                self.deleted[table.name] += gone.rowcount
                continue
            for ids in chunks(sorted(candidates.get(table.name, ())), 1000):
                gone = self.connection.execute(delete(table).where(column.in_(ids), unnamed))
                self.deleted[table.name] += gone.rowcount

    def write_lead_rows(self, batch: Sequence[LeadRows]) -> None:
        """Upsert only the ``leads`` rows (leads without a persona, or a full rewrite)."""
        self._upsert(LEADS, [rows.lead for rows in batch], replace=True)

    def delete_leads(self, lead_ids: Sequence[str]) -> None:
        """Remove leads; their persona and child rows go with them (ON DELETE CASCADE)."""
        if not lead_ids:
            return
        with self._by_index():
            gone = self.connection.execute(delete(PERSONAS).where(PERSONAS.c.lead_id.in_(lead_ids)))
            self.deleted["personas"] += gone.rowcount
            self._delete_children_of(lead_ids)
            gone = self.connection.execute(delete(LEADS).where(LEADS.c.lead_id.in_(lead_ids)))
            self.deleted["leads"] += gone.rowcount

    def save_watermark(
        self, source: str, watermark: tuple[datetime, str] | None, synced_at: datetime
    ) -> None:
        """Record how far ``source`` is synced, in the transaction of the rows it covers."""
        moment, last_id = watermark if watermark is not None else (None, None)
        self._save_state(source, {"watermark": moment, "watermark_id": last_id}, synced_at)

    def save_resume_token(self, source: str, token: str | None, synced_at: datetime) -> None:
        """Record where ``source``'s change log is to be read from next (None: nowhere)."""
        self._save_state(source, {"resume_token": token}, synced_at)

    def _save_state(self, source: str, values: Mapping[str, Any], synced_at: datetime) -> None:
        """Set these ``sync_state`` columns of ``source`` (the others are kept)."""
        statement = dialect_insert(self.connection, SYNC_STATE)
        names = [*values, "synced_at"]
        statement = statement.on_conflict_do_update(
            index_elements=["source"], set_={name: statement.excluded[name] for name in names}
        )
        row = {"source": source, **values, "synced_at": synced_at}
        self.connection.execute(statement, [row])


@contextmanager
def by_index(connection: Connection) -> Iterator[None]:
    """Statements that pick rows by a list of lead ids scan the tables' indexes, also where
    PostgreSQL has no statistics of a table yet (just loaded, before an ``ANALYZE``, which
    autovacuum may never run): it plans a scan of the whole table then, so that the deletes of
    200 leads' child rows at 20,000 leads took 22 ms (positions) and 32 ms (lead_skills),
    against 0.8 ms each after an ``ANALYZE``, and grow with the table."""
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    try:
        yield
    finally:
        connection.exec_driver_sql("RESET enable_seqscan")


def synced_answers(connection: Connection, lead_ids: Sequence[str]) -> dict[str, str | None]:
    """Of these leads, those with a persona row: the archived answer their child rows were
    mapped from (None: none)."""
    if not lead_ids:
        return {}
    with by_index(connection):
        rows = connection.execute(
            select(PERSONAS.c.lead_id, PERSONAS.c.archive_id).where(
                PERSONAS.c.lead_id.in_(lead_ids)
            )
        )
        return {str(lead_id): archive_id for lead_id, archive_id in rows}


def read_resume_token(connection: Connection, source: str) -> str | None:
    """Where ``source``'s change log is to be read from next (None: not recorded)."""
    token: str | None = connection.execute(
        select(SYNC_STATE.c.resume_token).where(SYNC_STATE.c.source == source)
    ).scalar()
    return token


def read_watermark(connection: Connection, source: str) -> tuple[datetime, str] | None:
    """The (timestamp, id) ``source`` is synced up to, in UTC (None: never synced)."""
    row = connection.execute(
        select(SYNC_STATE.c.watermark, SYNC_STATE.c.watermark_id).where(
            SYNC_STATE.c.source == source
        )
    ).first()
    if row is None or row[0] is None or row[1] is None:
        return None
    moment: datetime = row[0]
    if moment.tzinfo is None:  # SQLite keeps no offset: written in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC), str(row[1])


def lead_ids_after(connection: Connection, after: str | None, limit: int) -> list[tuple[str, bool]]:
    """Up to ``limit`` warehouse lead ids after ``after``, in byte order (MongoDB's order),
    each with whether the lead has a persona row."""
    collate = ' COLLATE "C"' if connection.dialect.name == "postgresql" else ""
    where = "" if after is None else f"WHERE l.lead_id{collate} > :after"
    statement = text(
        "SELECT l.lead_id, p.lead_id IS NOT NULL FROM leads l"
        f" LEFT JOIN personas p ON p.lead_id = l.lead_id {where}"
        f" ORDER BY l.lead_id{collate} LIMIT :n"
    )
    rows = connection.execute(statement, {"after": after, "n": limit})
    return [(str(lead_id), bool(has_persona)) for lead_id, has_persona in rows]


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of at most ``size``."""
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
