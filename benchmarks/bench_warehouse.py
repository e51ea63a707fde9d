"""Warehouse sync MongoDB → PostgreSQL: the product against a hand-written floor, dlt and a raw
COPY of its own rows, all in one run per size.

Each size runs on a fresh embedded MongoDB-wire server (in a temporary directory, removed
afterwards), with leads enriched with the mock API's ``rich`` answers, asked in process
(about 5 positions, 3 schools and 10 skills per lead, companies and skills shared across
leads; not timed): the first ``SEED_RUN`` by the product's enrichment run, the others written
in bulk in the same documents (its archive, its rules, its persona documents), several times
faster, so that 100,000 leads are seeded in minutes. Every job writes
into its own fresh PostgreSQL database at 127.0.0.1:5432 (or ``LEADPERSONA_TEST_POSTGRES``),
dropped at the end, also on failure. The three MongoDB → PostgreSQL jobs each run in a fresh
process, whose peak RSS is its own ``VmHWM`` (``ru_maxrss`` is inherited across ``exec``):

- *product*: ``sync_warehouse(full=True)`` (what ``warehouse sync --full`` runs) into an empty,
  migrated schema, end to end; its extract / transform / load split is the product's own
  ``SyncReport.stage_seconds`` when it reports one;
- *floor (a)*: a hand-written job: PyMongo reads whole documents (personas, leads and the
  GridFS chunks of the archived answers), plain Python decodes the answers with ``json.loads``
  and flattens them into the same rows (dicts and lists, no pydantic; the product's key helpers
  ``stable_id``, ``company_key``, ``skill_key``, ``normalize_email`` and ``company_type`` so
  that ids match), companies merged as the product merges them; then one ``COPY … FROM STDIN``
  per table into an empty schema of the same tables (same keys and foreign keys) and a commit.
  Its rows are checked against the product's (per-table digests);
- *dlt (b)*: ``dlt[postgres]`` with its defaults: one pipeline, three resources yielding the
  personas, the leads and the decoded archived answers (ids as text), destination postgres in
  its own database; dlt makes its own child tables from the nested lists;
- *raw COPY*: the rows the product wrote, dumped with ``COPY … TO STDOUT``, loaded into an empty
  schema with ``COPY … FROM STDIN`` and a commit (median of 3): the floor of the load part;
- *writer alone*: the product's load part alone: the same rows, grouped as its full sync's
  batches (500 leads in id order, COPY bodies made beforehand, not timed), written by its
  ``WarehouseWriter`` into an empty schema, one transaction per batch as the sync commits
  them, nothing else running in the process (median of 3). In the sync itself the writer
  overlaps the mapping of the next batch and shares the interpreter with it, so its stage
  time there is longer than the load alone;
- *incremental*: after the above, 1 % of the personas get a new ``updated_at``; a sync (in the
  benchmark's process) picks them up.

Override the sizes with ``LEADPERSONA_BENCH_WAREHOUSE=1000,10000`` (100,000 runs only when
asked for there; its product and floor run ``LEADPERSONA_BENCH_WAREHOUSE_LARGE_ROUNDS`` times,
1 unless set, other sizes ``LEADPERSONA_BENCH_WAREHOUSE_ROUNDS``, 3 unless set).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from benchmarks._server import in_child, on_embedded_server, peak_rss_mb
from leadpersona.adapters.enrichment_client import EnrichmentClient
from leadpersona.adapters.mock_api import INITIAL_CREDITS, Profile, synthetic_answer
from leadpersona.adapters.mongo.connection import connect
from leadpersona.adapters.warehouse.engine import make_engine, upgrade
from leadpersona.adapters.warehouse.load import TABLES
from leadpersona.bootstrap import run_enrichment, sync_warehouse
from leadpersona.config import Settings

SIZES = tuple(
    int(n)
    for n in os.environ.get("LEADPERSONA_BENCH_WAREHOUSE", "1000,10000,20000").split(",")
    if n.strip()
)
POSTGRES = os.environ.get(
    "LEADPERSONA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
#: How many times the product's full sync and the floor run, in turns (the median counts).
ROUNDS = int(os.environ.get("LEADPERSONA_BENCH_WAREHOUSE_ROUNDS", "3"))
#: From this many leads on, they run LARGE_ROUNDS times each (a round takes minutes there).
LARGE = 100_000
LARGE_ROUNDS = int(os.environ.get("LEADPERSONA_BENCH_WAREHOUSE_LARGE_ROUNDS", "1"))
#: The raw COPY of the product's rows is the median of this many committed loads.
COPY_REPEATS = 3
#: The mock API's profile of the seeded answers: about 5 positions, 3 schools and 10 skills
#: per lead, companies and skills shared across leads (see ``leadpersona.adapters.mock_api``).
PROFILE: Profile = "rich"
#: Leads per page of the seeding.
SEED_BATCH = 2000
#: Leads the seeding has enriched by the product's enrichment run itself (the others are
#: written in bulk, in the same shape, checked).
SEED_RUN = 1000
JSON = "application/json"
STAGES = ("extract", "transform", "load")


def _libpq(database: str) -> str:
    """A libpq URL (psycopg, dlt) for one database of the benchmark's server."""
    scheme, rest = POSTGRES.split("://", 1)
    return f"{scheme.split('+')[0]}://{rest}/{database}"


def _with_password(url: str) -> str:
    """dlt refuses credentials without a password, even for a server that trusts the user: give
    it one the server ignores when the URL has none."""
    scheme, rest = url.split("://", 1)
    user, at, host = rest.rpartition("@")
    if not at or ":" in user:
        return url
    return f"{scheme}://{user}:unused@{host}"


# Databases: every one created here is dropped at the end, also on failure.


class _Databases:
    def __init__(self) -> None:
        self.admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
        self.names: list[str] = []

    def new(self, *, migrated: bool = True) -> str:
        name = f"lp_bench_wh_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        if migrated:
            engine = make_engine(f"{POSTGRES}/{name}")
            upgrade(engine)
            engine.dispose()
        return name

    def drop(self) -> None:
        """Drop every database made so far."""
        with self.admin.connect() as connection:
            while self.names:
                name = self.names.pop()
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# Children: each MongoDB → PostgreSQL job runs in its own process.


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _child_product(uri: str, mongo_db: str, data_dir: str, database: str, queue: Any) -> None:
    async def main() -> dict[str, Any]:
        settings = Settings(mongodb_uri=uri, mongodb_db=mongo_db, data_dir=Path(data_dir))
        engine = make_engine(f"{POSTGRES}/{database}")
        try:
            async with connect(uri, mongo_db) as mongo:
                before = _rss_mb()
                started = time.perf_counter()
                report = await sync_warehouse(settings, mongo, engine=engine, full=True)
                seconds = time.perf_counter() - started
        finally:
            engine.dispose()
        stages = getattr(report, "stage_seconds", None)
        return {
            "seconds": seconds,
            "rows": sum(report.inserted.values()),
            "inserted": dict(report.inserted),
            "stages": dict(stages) if stages else None,
            "rss_before_mb": before,
            "rss_mb": peak_rss_mb(),
        }

    queue.put(asyncio.run(main()))


# Floor (a): PyMongo, plain Python, COPY.

_COLUMNS: dict[str, tuple[str, ...]] = {
    "leads": ("lead_id", "email", "email_key", "first_name", "last_name", "status", "photo_url"),
    "personas": ("lead_id", "academic_field", "company_type", "status", "features", "updated_at"),
    "companies": (
        "company_id",
        "name",
        "linkedin_url",
        "employee_count",
        "industry",
        "company_type",
    ),
    "skills": ("skill_id", "name"),
    "positions": (
        "lead_id",
        "ordinal",
        "company_id",
        "title",
        "start_date",
        "end_date",
        "is_current",
    ),
    "lead_skills": ("lead_id", "skill_id"),
    "educations": (
        "lead_id",
        "ordinal",
        "school_name",
        "degree_name",
        "field_of_study",
        "start_year",
        "end_year",
    ),
}
#: Parents before children (the schema's foreign keys are checked during each COPY).
_LOAD_ORDER = ("leads", "personas", "companies", "skills", "positions", "lead_skills", "educations")


def _date(value: Any) -> date | None:
    if not isinstance(value, dict) or value.get("year") is None:
        return None
    year = value["year"]
    try:
        return date(year, value.get("month") or 1, value.get("day") or 1)
    except ValueError:
        return date(year, 1, 1) if 1 <= year <= 9999 else None


def _norm(value: str | None) -> str:
    return " ".join((value or "").split()).casefold()


def _year(value: Any) -> int | None:
    return value.get("year") if isinstance(value, dict) else None


def _count(company: Mapping[str, Any]) -> int | None:
    count = company.get("employeeCount")
    if isinstance(count, int) and count > 0:
        return count
    start = (company.get("employeeCountRange") or {}).get("start")
    return start if isinstance(start, int) and start >= 0 else None


def _merge_company(companies: dict[str, list[Any]], row: list[Any]) -> None:
    """The product's merge: the largest employee count (and its company type), the smallest
    non-empty text; independent of the order answers arrive in."""
    old = companies.get(row[0])
    if old is None:
        companies[row[0]] = row
        return
    if (row[3] if row[3] is not None else -1) > (old[3] if old[3] is not None else -1):
        old[3], old[5] = row[3], row[5] if row[5] is not None else old[5]
    elif old[5] is None:
        old[5] = row[5]
    for index in (1, 2, 4):
        if old[index] is None or (row[index] is not None and row[index] < old[index]):
            old[index] = row[index]


def _flatten(
    leads: list[dict[str, Any]],
    personas: list[dict[str, Any]],
    answers: dict[str, bytes],
    settings: Settings,
) -> dict[str, list[Any]]:
    from leadpersona.domain.email import normalize_email
    from leadpersona.domain.segmentation import company_type
    from leadpersona.domain.warehouse_rows import company_key, skill_key, stable_id

    rules = settings.company_type_rules
    by_lead = {p["_id"]: p for p in personas if p.get("updated_at") is not None}
    out: dict[str, list[Any]] = {name: [] for name in _COLUMNS}
    companies: dict[str, list[Any]] = {}
    skills: dict[str, tuple[str, str]] = {}
    for lead in leads:
        lead_id = str(lead["_id"])
        email = lead.get("email") if isinstance(lead.get("email"), str) else None
        status = lead.get("status")
        out["leads"].append(
            (
                lead_id,
                email,
                normalize_email(email) if email else None,
                lead.get("first_name"),
                lead.get("last_name"),
                status if isinstance(status, int) and not isinstance(status, bool) else 0,
                lead.get("photo_url"),
            )
        )
        persona = by_lead.get(lead_id)
        if persona is None:
            continue
        features = dict(persona.get("features") or {})
        out["personas"].append(
            (
                lead_id,
                features.get("academic_field"),
                features.get("company_type"),
                persona.get("status"),
                json.dumps(features),
                persona["updated_at"],
            )
        )
        raw = answers.get(str(persona.get("archive_id")))
        answer = json.loads(raw) if raw is not None else None
        if not isinstance(answer, dict) or not answer.get("success") or not answer.get("person"):
            continue
        person = answer["person"]
        mine: dict[str, list[Any]] = {}
        current = answer.get("company")
        current_key = current_name = None
        if current:
            current_name = _norm(current.get("name"))
            current_key = company_key(
                linkedin_id=current.get("linkedinId"), name=current.get("name")
            )
            if current_key is not None:
                count = _count(current)
                mine[current_key] = [
                    stable_id("company", current_key),
                    current.get("name"),
                    None,
                    count,
                    current.get("industry"),
                    company_type(count, rules),
                ]
        history = (person.get("positions") or {}).get("positionHistory") or []
        referenced: set[str | None] = set()
        for ordinal, position in enumerate(history):
            name, url = position.get("companyName"), position.get("linkedInUrl")
            key = company_key(url=url, name=name)
            if current_key is not None and current_name and current_name == _norm(name):
                key = current_key  # the answer's company, known by more than its name
                if url and not mine[key][2]:
                    mine[key][2] = url
            if key is not None and key not in mine:
                mine[key] = [stable_id("company", key), name, url, None, None, None]
            dates = position.get("startEndDate") or {}
            start, end = _date(dates.get("start")), _date(dates.get("end"))
            company_id = mine[key][0] if key is not None else None
            referenced.add(company_id)
            out["positions"].append(
                (
                    lead_id,
                    ordinal,
                    company_id,
                    position.get("title"),
                    start,
                    end,
                    start is not None and end is None,
                )
            )
        for row in mine.values():
            if row[0] in referenced:
                _merge_company(companies, row)
        seen: set[str] = set()
        for item in person.get("skills") or []:
            name = item.get("name") if isinstance(item, dict) else item
            if not isinstance(name, str) or not name.strip():
                continue
            key = skill_key(name)
            if not key or key in seen:
                continue
            seen.add(key)
            skill_id = stable_id("skill", key)
            skills.setdefault(skill_id, (skill_id, " ".join(name.split())))
            out["lead_skills"].append((lead_id, skill_id))
        for ordinal, education in enumerate(
            (person.get("schools") or {}).get("educationHistory") or []
        ):
            dates = education.get("startEndDate") or {}
            out["educations"].append(
                (
                    lead_id,
                    ordinal,
                    education.get("schoolName"),
                    education.get("degreeName"),
                    education.get("fieldOfStudy"),
                    _year(dates.get("start")),
                    _year(dates.get("end")),
                )
            )
    out["companies"] = [tuple(row) for row in companies.values()]
    out["skills"] = list(skills.values())
    return out


def _copy_rows(connection: Any, table: str, columns: tuple[str, ...], rows: list[Any]) -> None:
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _child_floor(uri: str, mongo_db: str, data_dir: str, database: str, queue: Any) -> None:
    import psycopg
    from pymongo import MongoClient

    settings = Settings(mongodb_uri=uri, mongodb_db=mongo_db, data_dir=Path(data_dir))
    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    try:
        mongo = client[mongo_db]
        started = time.perf_counter()
        personas = list(mongo["personas"].find({}))
        leads = list(mongo["leads"].find({}))
        pieces: dict[str, list[tuple[int, bytes]]] = {}
        for chunk in mongo["linkedin_raw.chunks"].find({}):
            pieces.setdefault(str(chunk["files_id"]), []).append((chunk["n"], chunk["data"]))
        extract = time.perf_counter() - started
    finally:
        client.close()
    started = time.perf_counter()
    answers = {
        file_id: b"".join(data for _, data in sorted(parts)) for file_id, parts in pieces.items()
    }
    rows = _flatten(leads, personas, answers, settings)
    transform = time.perf_counter() - started
    del personas, leads, pieces, answers
    started = time.perf_counter()
    with psycopg.connect(_libpq(database)) as connection:
        for table in _LOAD_ORDER:
            _copy_rows(connection, table, _COLUMNS[table], rows[table])
        connection.commit()
    load = time.perf_counter() - started
    queue.put(
        {
            "stages": {"extract": extract, "transform": transform, "load": load},
            "seconds": extract + transform + load,
            "rows": sum(len(table_rows) for table_rows in rows.values()),
            "per_table": {table: len(table_rows) for table, table_rows in rows.items()},
            "rss_mb": peak_rss_mb(),
        }
    )


# Baseline (b): dlt with its defaults.


def _documents(mongo: Any, name: str, size: int = 1000) -> Iterator[list[dict[str, Any]]]:
    """A collection's documents in pages, ObjectIds as text (dlt has no type for them)."""
    from bson import ObjectId

    page: list[dict[str, Any]] = []
    for document in mongo[name].find({}):
        page.append({k: str(v) if isinstance(v, ObjectId) else v for k, v in document.items()})
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page


def _child_dlt(uri: str, mongo_db: str, data_dir: str, database: str, queue: Any) -> None:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
    os.environ["DLT_DATA_DIR"] = str(Path(data_dir) / "dlt-home")
    import dlt
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    mongo = client[mongo_db]

    @dlt.resource(name="personas")
    def personas() -> Iterator[list[dict[str, Any]]]:
        yield from _documents(mongo, "personas")

    @dlt.resource(name="leads")
    def leads() -> Iterator[list[dict[str, Any]]]:
        yield from _documents(mongo, "leads")

    @dlt.resource(name="answers")
    def answers() -> Iterator[list[dict[str, Any]]]:
        for page in _documents(mongo, "linkedin_raw.chunks"):
            decoded = []
            for chunk in page:
                answer = json.loads(chunk["data"])
                if isinstance(answer, dict):
                    decoded.append({"archive_id": chunk["files_id"], **answer})
            yield decoded

    pipeline = dlt.pipeline(
        pipeline_name=f"mongo_{database}",
        pipelines_dir=str(Path(data_dir) / "dlt-pipelines"),
        destination=dlt.destinations.postgres(credentials=_with_password(_libpq(database))),
        dataset_name="mongo",
    )
    try:
        started = time.perf_counter()
        pipeline.run([personas(), leads(), answers()])
        seconds = time.perf_counter() - started
    finally:
        client.close()
    trace = pipeline.last_trace
    stages = {}
    for step in trace.steps:
        if step.step in ("extract", "normalize", "load") and step.finished_at and step.started_at:
            stages[step.step] = (step.finished_at - step.started_at).total_seconds()
    counts = trace.last_normalize_info.row_counts if trace.last_normalize_info else {}
    rows = sum(n for table, n in counts.items() if not table.startswith("_dlt"))
    queue.put(
        {
            "seconds": seconds,
            "stages": stages,
            "rows": rows,
            "tables": sum(1 for table in counts if not table.startswith("_dlt")),
            "rss_mb": peak_rss_mb(),
        }
    )


# The raw COPY floor of the load part, and the check that floor (a) wrote the product's rows.


def _dump(database: str) -> dict[str, bytes]:
    import psycopg

    dumped = {}
    with psycopg.connect(_libpq(database)) as connection, connection.cursor() as cursor:
        for table in TABLES:
            with cursor.copy(f"COPY {table} TO STDOUT") as copy:
                dumped[table] = b"".join(bytes(chunk) for chunk in copy)
    return dumped


def _copy_floor(database: str, dumped: dict[str, bytes]) -> float:
    import psycopg

    timings = []
    with psycopg.connect(_libpq(database)) as connection:
        for _ in range(COPY_REPEATS):
            started = time.perf_counter()
            with connection.cursor() as cursor:
                for table in _LOAD_ORDER:
                    with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                        copy.write(dumped[table])
            connection.commit()
            timings.append(time.perf_counter() - started)
            connection.execute(f"TRUNCATE {', '.join(_LOAD_ORDER)} CASCADE")
            connection.commit()
    return statistics.median(timings)


def _lead_batches(database: str) -> list[Any]:
    """The product's rows as the batches its full sync writes (leads in id order, in batches
    of its default size), each with its COPY bodies made (not timed)."""
    from collections import defaultdict

    from leadpersona.adapters.warehouse.load import batch_rows
    from leadpersona.domain.warehouse_rows import LeadRows
    from leadpersona.services.warehouse_sync import DEFAULT_BATCH

    engine = make_engine(f"{POSTGRES}/{database}")
    try:
        with engine.connect() as connection:

            def table(name: str) -> list[dict[str, Any]]:
                query = text(f"SELECT * FROM {name} ORDER BY 1")
                return [dict(row._mapping) for row in connection.execute(query)]

            leads, personas = table("leads"), {r["lead_id"]: r for r in table("personas")}
            companies = {r["company_id"]: r for r in table("companies")}
            skills = {r["skill_id"]: r for r in table("skills")}
            children: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(
                lambda: defaultdict(list)
            )
            for name in ("positions", "educations", "lead_skills"):
                for row in table(name):
                    children[row["lead_id"]][name].append(row)
    finally:
        engine.dispose()
    rows = []
    for lead in leads:
        mine = children[lead["lead_id"]]
        named = {p["company_id"] for p in mine["positions"] if p["company_id"] is not None}
        rows.append(
            LeadRows(
                lead=lead,
                persona=personas.get(lead["lead_id"]),
                companies=[companies[c] for c in sorted(named)],
                positions=sorted(mine["positions"], key=lambda r: r["ordinal"]),
                skills=[skills[pair["skill_id"]] for pair in mine["lead_skills"]],
                lead_skills=mine["lead_skills"],
                educations=sorted(mine["educations"], key=lambda r: r["ordinal"]),
            )
        )
    return [
        (rows[i : i + DEFAULT_BATCH], batch_rows(rows[i : i + DEFAULT_BATCH], formatted=True))
        for i in range(0, len(rows), DEFAULT_BATCH)
    ]


def _writer_alone(database: str, batches: list[Any]) -> float:
    """The product's load part alone: its writer writing the batches of a full sync into an
    empty schema, one transaction per batch as the sync commits them, nothing else running in
    the process (median of ``COPY_REPEATS``)."""
    from leadpersona.adapters.warehouse.load import WarehouseWriter

    engine = make_engine(f"{POSTGRES}/{database}")
    timings = []
    try:
        for _ in range(COPY_REPEATS):
            fresh_first = {"leads", "personas"}
            started = time.perf_counter()
            for batch, prepared in batches:
                with engine.begin() as connection:
                    connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                    WarehouseWriter(connection, fresh_first).write_leads(batch, prepared=prepared)
            timings.append(time.perf_counter() - started)
            with engine.begin() as connection:
                connection.exec_driver_sql(f"TRUNCATE {', '.join(_LOAD_ORDER)} CASCADE")
    finally:
        engine.dispose()
    return statistics.median(timings)


def _digests(database: str) -> dict[str, str]:
    """Per table, a digest of its rows in a fixed order (the content, not the insertion)."""
    import psycopg

    found = {}
    with psycopg.connect(_libpq(database)) as connection:
        for table, columns in _COLUMNS.items():
            listed = ", ".join(columns)
            row = connection.execute(
                f"SELECT md5(string_agg(r::text, E'\\n' ORDER BY r::text)) "
                f"FROM (SELECT {listed} FROM {table}) AS r"
            ).fetchone()
            found[table] = row[0] if row else ""
    return found


# One size.


class _MockAnswers(httpx.AsyncBaseTransport):
    """The mock API's answers (``create_app(MockConfig(profile="rich"))``, byte for byte: the
    same synthetic body, credits counted down the same way, no rate limit) served in process
    without its web framework."""

    def __init__(self) -> None:
        self.credits_left = INITIAL_CREDITS

    def answer(self, email: str) -> tuple[int, bytes]:
        status, body = synthetic_answer(email, profile=PROFILE)
        if status == 200 and "credits_left" in body:
            if body["success"]:
                self.credits_left = max(0, self.credits_left - 1)
            body["credits_left"] = self.credits_left
            body["rate_limit_left"] = None
        return status, json.dumps(body, ensure_ascii=False).encode()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        status, content = self.answer(request.url.params["email"])
        return httpx.Response(status, content=content, headers={"content-type": JSON})


def _email(index: int) -> str:
    return f"person{index}@example.com"


def _lead_id(index: int) -> str:
    return f"p{index:07d}"


async def _enrich_in_bulk(
    settings: Settings, database: Any, answers: _MockAnswers, indexes: range
) -> None:
    """What the enrichment run's pages write for these leads (each with its own email), in
    pages of ``SEED_BATCH``: every answer archived by the product's archive, the personas its
    rules derive from them, made as the run makes them and stored as its persona store
    stores them. Without the run's per-lead bookkeeping (enrichment states, run ledger),
    which the sync does not read."""
    from leadpersona.adapters.enrichment_client import FetchResult
    from leadpersona.adapters.mongo.persona_store import to_document
    from leadpersona.bootstrap import field_map_store, raw_archive
    from leadpersona.domain.persona import Persona, derive_features
    from leadpersona.domain.segmentation import person_field_of_study

    archive = raw_archive(settings, database)
    await archive.ensure_indexes()
    field_maps = field_map_store(settings)
    rules = settings.company_type_rules
    for first in range(indexes.start, indexes.stop, SEED_BATCH):
        page = range(first, min(indexes.stop, first + SEED_BATCH))
        now = datetime.now(UTC)
        fetched = [
            FetchResult.from_answer(_email(i), *answers.answer(_email(i)), now) for i in page
        ]
        archived = await archive.put_many(
            [(result, [_lead_id(i)]) for i, result in zip(page, fetched, strict=True)]
        )
        field_map = field_maps.load()
        field_map.lookup_many(
            study
            for result in fetched
            if result.found and result.response is not None
            for study in [person_field_of_study(result.response.person)]
            if study is not None
        )
        documents = []
        for i, result, entry in zip(page, fetched, archived, strict=True):
            features, provenance, field_of_study = derive_features(
                result.response if result.found else None, field_map, rules
            )
            persona = Persona(
                lead_id=_lead_id(i),
                features=features,
                provenance=provenance,
                status="enriched" if result.found else "no_data",
                field_of_study=field_of_study,
                computed_at=now,
                updated_at=now,
                archive_id=entry.archive_id,
                mapping_version=field_map.version,
                rules_version=rules.version,
            )
            documents.append(to_document(persona, uuid.uuid4().hex))
        await database["personas"].insert_many(documents, ordered=False)


def _shape(document: Mapping[str, Any] | None) -> dict[str, Any]:
    """A document's keys, with those of its sub-documents (what must not differ between the
    enrichment run's documents and the bulk seeding's)."""
    return {
        key: sorted(value) if isinstance(value, Mapping) else None
        for key, value in (document or {}).items()
    }


async def _seed(uri: str, settings: Settings, size: int) -> None:
    """``size`` leads, one email each. The first ``SEED_RUN`` are enriched by the product's
    own enrichment run (``leadpersona enrich``: answers archived in GridFS, personas and
    enrichment states), the others by :func:`_enrich_in_bulk`, several times faster; the
    documents of both are checked to have the same shape."""
    async with connect(uri, settings.mongodb_db) as database:
        await database["leads"].insert_many(
            [{"_id": _lead_id(i), "status": 0, "email": _email(i)} for i in range(size)]
        )
        answers = _MockAnswers()
        by_run = min(size, SEED_RUN)
        # The run takes the first leads without a persona, in id order, and stops at the limit.
        client = EnrichmentClient("http://mock.invalid", transport=answers, concurrency=64)
        async with client:
            summary = await run_enrichment(
                settings, database, client=client, batch_size=500, limit=by_run
            )
        await _enrich_in_bulk(settings, database, answers, range(by_run, size))
        if summary.processed != by_run or summary.failed:
            raise RuntimeError(f"the enrichment run did {summary.processed} of {by_run}: {summary}")
        if by_run < size:
            # An enriched lead of each: same fields, same sub-document fields.
            boundary = _lead_id(by_run)
            for name, key in (("personas", "_id"), ("linkedin_raw.files", "metadata.lead_ids")):
                shapes = []
                for side in ({"$lt": boundary}, {"$gte": boundary}):
                    lead = await database["personas"].find_one(
                        {"_id": side, "status": "enriched"}, {"_id": 1}
                    )
                    found = await database[name].find_one({key: (lead or {}).get("_id")})
                    shapes.append(_shape(found))
                if not shapes[0] or shapes[0] != shapes[1]:
                    raise RuntimeError(f"bulk-seeded {name} differ from the run's: {shapes}")


async def _incremental(settings: Settings, uri: str, database: str, size: int) -> dict[str, Any]:
    engine = make_engine(f"{POSTGRES}/{database}")
    try:
        async with connect(uri, settings.mongodb_db) as mongo:
            changed = max(1, size // 100)
            ids = [_lead_id(i) for i in range(0, size, size // changed)][:changed]
            await mongo["personas"].update_many(
                {"_id": {"$in": ids}}, {"$set": {"updated_at": datetime.now(UTC)}}
            )
            started = time.perf_counter()
            report = await sync_warehouse(settings, mongo, engine=engine)
            seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    return {
        "seconds": seconds,
        "personas": report.personas_read,
        "leads_checked": report.leads_checked,
        "stages": dict(getattr(report, "stage_seconds", None) or {}),
    }


def _rounds(size: int) -> int:
    return ROUNDS if size < LARGE else LARGE_ROUNDS


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _rounds_text() -> str:
    text = f"{_times(ROUNDS)} each"
    if any(size >= LARGE for size in SIZES) and LARGE_ROUNDS != ROUNDS:
        text += f" ({_times(LARGE_ROUNDS)} from {LARGE:,} leads on, where a round takes minutes)"
    return text


def _median_run(runs: list[tuple[dict[str, Any], str]]) -> tuple[dict[str, Any], str]:
    """The run (and its database) of median time, its seconds listed with the others'."""
    ordered = sorted(runs, key=lambda run: run[0]["seconds"])
    chosen, database = ordered[len(ordered) // 2]
    return {**chosen, "all_seconds": [run[0]["seconds"] for run in runs]}, database


async def _one(uri: str, data_dir: Path, size: int, databases: _Databases) -> dict[str, Any]:
    settings = Settings(mongodb_uri=uri, mongodb_db=f"bench_wh_{size}", data_dir=data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    await _seed(uri, settings, size)
    seed_s = time.perf_counter() - started
    job = (uri, settings.mongodb_db, str(data_dir))

    # The product and the floor run in turns, ROUNDS times each, each run into its own empty
    # database; the run of median time stands for each (a shared machine's load moves single
    # runs by a factor of two).
    load_average = os.getloadavg()[0]
    products: list[tuple[dict[str, Any], str]] = []
    floors: list[tuple[dict[str, Any], str]] = []
    for _ in range(_rounds(size)):
        product_db = databases.new()
        products.append(
            (await asyncio.to_thread(in_child, _child_product, *job, product_db), product_db)
        )
        floor_db = databases.new()
        floors.append((await asyncio.to_thread(in_child, _child_floor, *job, floor_db), floor_db))
    product, product_db = _median_run(products)
    floor, floor_db = _median_run(floors)
    dumped = await asyncio.to_thread(_dump, product_db)
    copy_s = await asyncio.to_thread(_copy_floor, databases.new(), dumped)
    del dumped
    batches = await asyncio.to_thread(_lead_batches, product_db)
    writer_s = await asyncio.to_thread(_writer_alone, databases.new(), batches)
    del batches
    product_digest = await asyncio.to_thread(_digests, product_db)
    floor_digest = await asyncio.to_thread(_digests, floor_db)
    different = sorted(t for t in _COLUMNS if product_digest[t] != floor_digest[t])

    dlt_run = await asyncio.to_thread(in_child, _child_dlt, *job, databases.new(migrated=False))

    incremental = await _incremental(settings, uri, product_db, size)
    return {
        "size": size,
        "product": product,
        "floor": floor,
        "dlt": dlt_run,
        "copy_s": copy_s,
        "writer_s": writer_s,
        "incremental": incremental,
        "different": different,
        "load_average": load_average,
        "seed_s": seed_s,
    }


def _stages(stages: Mapping[str, float] | None, names: tuple[str, ...] = STAGES) -> str:
    if not stages:
        return "n/a"
    return " / ".join(f"{stages[name]:.2f}" if name in stages else "n/a" for name in names)


def _lines(result: dict[str, Any]) -> tuple[str, str]:
    size = result["size"]
    product, floor, dlt_run = result["product"], result["floor"], result["dlt"]
    rows, seconds = product["rows"], product["seconds"]
    incremental = result["incremental"]
    same = "yes" if not result["different"] else "no: " + ", ".join(result["different"])
    main = (
        f"| {size:,} | {rows:,} | {seconds:.2f} | {rows / seconds:,.0f} "
        f"| {floor['seconds']:.2f} | {floor['rows'] / floor['seconds']:,.0f} "
        f"| {(rows / seconds) / (floor['rows'] / floor['seconds']):.2f} "
        f"| {dlt_run['seconds']:.2f} | {dlt_run['seconds'] / seconds:.2f} "
        f"| {result['copy_s']:.2f} | {result['writer_s']:.2f} "
        f"| {result['copy_s'] / result['writer_s']:.2f} "
        f"| {incremental['personas']:,} | {incremental['seconds']:.2f} "
        f"| {incremental['seconds'] / seconds:.1%} "
        f"| {product['rss_mb']:.0f} ({product['rss_before_mb']:.0f}) |"
    )
    stages = (
        f"| {size:,} | {_stages(product['stages'])} | {_stages(floor['stages'])} "
        f"| {_stages(dlt_run['stages'], ('extract', 'normalize', 'load'))} "
        f"| {result['copy_s']:.2f} | {floor['rss_mb']:.0f} | {dlt_run['rows']:,} in "
        f"{dlt_run['tables']} tables | {dlt_run['rss_mb']:.0f} "
        f"| {_stages(incremental['stages'])}, {incremental['leads_checked']:,} "
        f"| {same} | {result['load_average']:.1f} "
        f"| {_seconds(product)} | {_seconds(floor)} |"
    )
    return main, stages


def _data_line(result: dict[str, Any]) -> str:
    """What the seeded leads hold, as the product's full sync counted it."""
    size, inserted = result["size"], result["product"]["inserted"]
    per_lead = " / ".join(
        f"{inserted.get(table, 0) / size:.2f}"
        for table in ("positions", "educations", "lead_skills")
    )
    return (
        f"| {size:,} | {inserted.get('personas', 0):,} | {per_lead} "
        f"| {inserted.get('companies', 0):,} | {inserted.get('skills', 0):,} "
        f"| {result['seed_s']:.0f} |"
    )


def _seconds(run: Mapping[str, Any]) -> str:
    return ", ".join(f"{seconds:.2f}" for seconds in run.get("all_seconds", [run["seconds"]]))


def _summary(results: list[dict[str, Any]]) -> list[str]:
    """The text under the tables: the goals at the largest size, what the columns mean."""
    if not results:
        return []
    last = results[-1]
    product, floor, dlt_run = last["product"], last["floor"], last["dlt"]
    vs_floor = floor["seconds"] / product["seconds"]
    vs_dlt = dlt_run["seconds"] / product["seconds"]
    incremental = last["incremental"]["seconds"] / product["seconds"]
    load = (product["stages"] or {}).get("load")
    memory = ", ".join(f"{r['product']['rss_mb']:.0f}" for r in results)
    sizes = ", ".join(f"{r['size']:,}" for r in results)

    def met(ok: bool) -> str:
        return "met" if ok else "not met"

    goals = [
        f"At {last['size']:,} leads: the product's rows/s are {vs_floor:.2f} of the "
        f"hand-written floor's (goal ≥ 0.7: {met(vs_floor >= 0.7)}); dlt took "
        f"{vs_dlt:.2f}x the product's time (goal > 1: {met(vs_dlt > 1)})",
    ]
    ratio = last["copy_s"] / last["writer_s"]
    goals.append(
        f"the product's load part alone (its writer) ran at {ratio:.2f} of a raw COPY of its "
        f"rows (goal ≥ 0.5: {met(ratio >= 0.5)})"
        + (f"; counted as its stage inside the sync, {last['copy_s'] / load:.2f}" if load else "")
    )
    goals.append(
        f"an incremental sync after 1 % of the personas changed took {incremental:.1%} of the "
        f"full sync (goal ≤ 5 %: {met(incremental <= 0.05)})"
    )
    return [
        "; ".join(goals) + f". Peak RSS of the full sync at {sizes} leads: {memory} MB.",
        "",
        "The product's stages are its own `SyncReport.stage_seconds`: MongoDB reads of the "
        "next batch overlap the mapping and writing of the last one, and the run's "
        "bookkeeping is in none of them, so they do not add up to the end-to-end time; its "
        "load is every warehouse transaction (leads, personas, companies, skills, child "
        "rows and the watermark). The "
        "floor's stages run one after the other. Its transform uses plain dicts from "
        "`json.loads` (no pydantic), with the product's key helpers so that ids match; its "
        "rows are checked equal to the product's by a digest of each table. dlt writes its "
        "own tables (nested lists as child tables, every field as a column), so its row "
        "count differs; it is compared by time over the same documents. The incremental "
        "sync learns which leads were added, edited or deleted from MongoDB's change stream "
        'of leads ("lead ids checked": ids it walked instead, 0 when the stream '
        "answered).",
    ]


def run() -> str:
    databases = _Databases()
    results = []
    try:
        for size in SIZES:
            try:
                results.append(
                    on_embedded_server(
                        lambda uri, data, size=size: _one(uri, data, size, databases)
                    )
                )
            finally:
                databases.drop()
            print(*_lines(results[-1]), sep="\n", flush=True)
    finally:
        databases.drop()
        databases.admin.dispose()
    lines = [_lines(result) for result in results]
    return "\n".join(
        [
            "## Warehouse sync (MongoDB → PostgreSQL)",
            "",
            "Leads seeded with the mock API's `rich` answers (asked in process, no rate "
            "limit; not timed; the last table says what the leads hold): the first "
            f"{SEED_RUN:,} enriched by the product's own enrichment run (`leadpersona enrich`), "
            "the others written in bulk as that run writes them (answers archived in GridFS "
            "by the product's archive, personas derived by its rules and stored in its "
            "persona store's documents, checked to have the run's shape), without its "
            "per-lead bookkeeping, which the sync does not read. Each job below reads the same "
            "MongoDB documents and writes into its own empty PostgreSQL database, each in a "
            "fresh process (peak RSS is the process's own `VmHWM`). "
            f"*Product*: `warehouse sync --full` (`sync_warehouse`) into an empty migrated "
            f"schema, end to end. The product and the floor run in turns, {_rounds_text()}, "
            "and the run of median time stands for each (every time is listed in the second "
            "table). *Floor (a)*: PyMongo reads whole documents, plain Python "
            "decodes the archived answers and flattens them into the same rows (checked equal "
            "to the product's, table by table), one `COPY` per table into an empty schema of "
            "the same tables. *dlt (b)*: a `dlt[postgres]` pipeline with its defaults, "
            "resources yielding the personas, the leads and the decoded archived answers "
            "(dlt makes its own child tables). *Raw COPY*: the product's final rows loaded "
            "with `COPY … FROM STDIN` only (median of 3). *Writer alone*: the product's load "
            "part alone: the same rows in its full sync's batches (COPY bodies made "
            "beforehand), written by its `WarehouseWriter`, a transaction per batch, nothing "
            "else running in the process (median of 3); inside the sync the writer overlaps "
            "the mapping of the next batch, so its stage time there (second table) is longer. "
            "*Incremental*: a sync after 1 % of the personas changed.",
            "",
            "| leads | rows | product s | product rows/s | floor (a) s | floor rows/s "
            "| product / floor rows/s (goal ≥ 0.7) | dlt s | dlt s / product s (goal > 1) "
            "| raw COPY s | product writer alone s | raw COPY s / writer alone s (goal ≥ 0.5) "
            "| personas changed "
            "| incremental s | incremental / full (goal ≤ 5 %) | product peak RSS MB "
            "(before the sync) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *(main for main, _ in lines),
            "",
            "Where the time goes (seconds: extract / transform / load; dlt: extract / "
            "normalize / load):",
            "",
            "| leads | product | floor (a) | dlt (b) | raw COPY | floor peak RSS MB "
            "| dlt rows | dlt peak RSS MB | incremental, lead ids checked "
            "| floor rows = product rows "
            "| load average before the product's sync | product runs s | floor runs s |",
            "|---:|---|---|---|---:|---:|---:|---:|---|---|---:|---|---|",
            *(stages for _, stages in lines),
            "",
            *_summary(results),
            "",
            "What the seeded leads hold (rows the product's full sync wrote; a lead without a "
            "profile, about 14 % of them, has none):",
            "",
            "| leads | personas | per lead: positions / educations / skills | companies "
            "| skills | seeding s (not timed) |",
            "|---:|---:|---|---:|---:|---:|",
            *(_data_line(result) for result in results),
            "",
            f"Load average when the run ended: {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
            "cores (the machine is shared; every ratio above compares jobs of the same run).",
        ]
    )
