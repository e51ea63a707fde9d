"""Personas: pipeline throughput against the API's rate limit, get latency, find by persona.

Everything runs against the embedded MongoDB-wire server (a child process) and the mock API
under uvicorn on loopback, as a user's machine would.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks._server import on_embedded_server
from leadpersona.adapters.enrichment_client import EnrichmentClient
from leadpersona.adapters.local_server import serve_in_thread
from leadpersona.adapters.mock_api import MockConfig, create_app
from leadpersona.adapters.mongo.connection import MongoDatabase, connect
from leadpersona.adapters.mongo.persona_store import to_document
from leadpersona.bootstrap import mongo_repositories, run_enrichment
from leadpersona.config import Settings
from leadpersona.domain.persona import FeatureProvenance, Persona
from leadpersona.entrypoints.http.app import create_app as create_api
from leadpersona.services.personas import PersonaService

RATE = 50.0
LATENCY_S = 0.08
PIPELINE_LEADS = 600
PERSONAS = 100_000
GETS = 300
FIELDS = ["computer science", "marketing", "law", "finance", "engineering", "design"]
TYPES = ["Startup", "Mid Market", "Multi National Company"]


async def _timed(fn: Callable[[], Awaitable[Any]], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return samples


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"{statistics.median(samples) * 1000:.2f} / {p95 * 1000:.2f}"


async def _pipeline(settings: Settings, database: MongoDatabase, url: str) -> list[str]:
    await database["leads"].insert_many(
        [
            {"_id": f"b{i:06d}", "email": f"bench{i}@example.com", "status": 0}
            for i in range(PIPELINE_LEADS)
        ]
    )
    # Baseline: the client alone, one request at a time (no pipeline, no database).
    async with EnrichmentClient(url, rate_limit=RATE, concurrency=1) as client:
        started = time.perf_counter()
        for i in range(40):
            await client.fetch_profile(f"serial{i}@example.com")
        serial = 40 / (time.perf_counter() - started)
    async with EnrichmentClient(url, rate_limit=RATE, concurrency=16) as client:
        started = time.perf_counter()
        summary = await run_enrichment(settings, database, client=client, batch_size=200)
        elapsed = time.perf_counter() - started
    rate = summary.processed / elapsed
    return [
        f"| enrichment, one request at a time (client alone) | {serial:.1f} leads/s |"
        f" {serial / RATE:.0%} |",
        f"| enrichment pipeline, {PIPELINE_LEADS} leads (fetch, archive, persona, bulk write) |"
        f" {rate:.1f} leads/s | {rate / RATE:.0%} |",
    ]


async def _personas(database: MongoDatabase) -> None:
    now = datetime.now(UTC)
    batch = []
    for i in range(PERSONAS):
        features: dict[str, Any] = {
            "academic_field": FIELDS[i % len(FIELDS)],
            "company_type": TYPES[(i // 7) % 3],
        }
        if i % 1000 == 0:
            features["seniority"] = "c-level"
        batch.append(
            to_document(
                Persona(
                    lead_id=f"{i:08d}",
                    features=features,
                    provenance={"company_type": FeatureProvenance(source="rule")},
                    computed_at=now,
                    updated_at=now,
                )
            )
        )
        if len(batch) == 10_000:
            await database["personas"].insert_many(batch, ordered=False)
            batch = []


async def _get_latency(settings: Settings, database: MongoDatabase) -> list[str]:
    service = PersonaService(mongo_repositories(database))
    collection = database["personas"]
    ids = [f"{(i * 7919) % PERSONAS:08d}" for i in range(GETS)]
    it = iter(ids * 3)
    raw = await _timed(lambda: collection.find_one({"_id": next(it)}), GETS)
    module = await _timed(lambda: service.get(next(it)), GETS)
    with serve_in_thread(create_api(settings)) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            await http.get("/health")
            over_http = await _timed(lambda: http.get(f"/leads/{next(it)}/persona"), GETS)
    base = statistics.median(raw)
    return [
        f"| persona get: raw PyMongo `find_one` (baseline) | {_ms(raw)} | 1.0x |",
        f"| persona get: `PersonaService.get` | {_ms(module)} |"
        f" {statistics.median(module) / base:.1f}x |",
        f"| persona get: HTTP `GET /leads/{{id}}/persona` | {_ms(over_http)} |"
        f" {statistics.median(over_http) / base:.1f}x |",
    ]


async def _find(database: MongoDatabase) -> list[str]:
    service = PersonaService(mongo_repositories(database))
    collection = database["personas"]
    rows = []
    for label, query in [
        ("rare value (seniority=c-level, 0.1%)", service.query(features={"seniority": "c-level"})),
        ("common value (company_type=Startup, 33%)", service.query(company_type="Startup")),
        (
            "two features (law x Mid Market, 5.6%)",
            service.query(academic_field="law", company_type="Mid Market"),
        ),
    ]:
        keys = query.keys()
        scan_filter = {"feature_index": {"$all": keys}}

        async def indexed(q: Any = query) -> list[str]:
            return await service.store.find_ids(q, limit=1000)

        async def scanned(f: dict[str, Any] = scan_filter) -> list[Any]:
            cursor = collection.find(
                f, {"_id": 1}, sort=[("_id", 1)], limit=1000, hint={"$natural": 1}
            )
            return await cursor.to_list()

        with_index = statistics.median(await _timed(indexed, 3))
        without = statistics.median(await _timed(scanned, 3))
        rows.append(
            f"| {label} | {without * 1000:.0f} | {with_index * 1000:.0f} |"
            f" {without / with_index:.1f}x |"
        )
    return rows


async def _main(uri: str, data_dir: Path) -> str:
    settings = Settings(mongodb_uri=uri, mongodb_db="bench_personas", data_dir=data_dir)
    mock = create_app(MockConfig(rate_limit=RATE, latency_s=LATENCY_S))
    async with connect(uri, settings.mongodb_db) as database:
        await database.client.drop_database(settings.mongodb_db)
    async with connect(uri, settings.mongodb_db) as database:
        try:
            with serve_in_thread(mock) as url:
                pipeline = await _pipeline(settings, database, url)
            await database["personas"].delete_many({})
            loaded = time.perf_counter()
            await _personas(database)
            load_s = time.perf_counter() - loaded
            gets = await _get_latency(settings, database)
            finds = await _find(database)
        finally:
            await database.client.drop_database(settings.mongodb_db)
    return "\n".join(
        [
            "## Personas",
            "",
            f"Mock API on loopback limited to {RATE:.0f} req/s with {LATENCY_S * 1000:.0f} ms"
            " latency; the client capped at the same rate, 16 requests in flight.",
            "",
            "| run | throughput | share of the API's rate limit |",
            "|---|---|---|",
            *pipeline,
            "",
            f"{PERSONAS:,} personas loaded in {load_s:.1f} s. Latency median / p95 in ms over"
            f" {GETS} gets of random ids:",
            "",
            "| operation | ms (median / p95) | vs baseline |",
            "|---|---|---|",
            *gets,
            "",
            f"Find by persona over {PERSONAS:,} personas, first page of 1000 ids in `_id`"
            " order (median of 3, ms); without the index = the same query forced to a"
            " collection scan:",
            "",
            "| query | without index | with `feature_index` | speed-up |",
            "|---|---|---|---|",
            *finds,
        ]
    )


def run() -> str:
    return on_embedded_server(_main)


if __name__ == "__main__":
    print(run())
