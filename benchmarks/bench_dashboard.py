"""Dashboard: what the page and the static report cost on top of the stats they show.

Runs against the embedded MongoDB-wire server (a child process), as a user's machine would.
Baseline: ``PersonaService.stats()``, the document ``GET /personas/stats`` already serves.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks._server import on_embedded_server
from leadpersona.adapters.local_server import serve_in_thread
from leadpersona.adapters.mongo.connection import MongoDatabase, connect
from leadpersona.adapters.mongo.persona_store import to_document
from leadpersona.bootstrap import field_map_store, mongo_repositories, warehouse_or_reason
from leadpersona.config import Settings
from leadpersona.domain.persona import FeatureProvenance, Persona
from leadpersona.entrypoints.http.app import create_app
from leadpersona.entrypoints.http.page import render_page
from leadpersona.entrypoints.report import write_report
from leadpersona.services.dashboard import DashboardData, collect_dashboard
from leadpersona.services.personas import PersonaService

PERSONAS = 20_000
RUNS = 30
QUARANTINED = 2_000
REPEAT = 5
FIELDS = [f"field {i:02d}" for i in range(30)]
TYPES = ["Startup", "Mid Market", "Multi National Company"]
REASONS = ["invalid_email", "missing_field", "invalid_url", "invalid_status"]


async def _timed(fn: Callable[[], Awaitable[Any]], repeat: int = REPEAT) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def _load(database: MongoDatabase) -> None:
    now = datetime.now(UTC)
    batch = []
    for i in range(PERSONAS):
        features: dict[str, str | int | float | bool] = {"company_type": TYPES[i % 3]}
        provenance = {"company_type": FeatureProvenance(source="rule", employee_count=i % 2000)}
        if i % 4:
            features["academic_field"] = FIELDS[(i * 7) % len(FIELDS)]
            provenance["academic_field"] = FeatureProvenance(source="mapping", confidence=1.0)
        persona = Persona(lead_id=f"p{i:06d}", features=features, provenance=provenance)
        batch.append(to_document(persona))
        if len(batch) == 5000:
            await database["personas"].insert_many(batch)
            batch = []
    await database["leads"].insert_many(
        [{"_id": f"p{i:06d}", "status": 0, "email": f"p{i}@example.com"} for i in range(PERSONAS)]
    )
    await database["runs"].insert_many(
        [
            {
                "_id": f"run{i:03d}",
                "started_at": now - timedelta(hours=i),
                "finished_at": now - timedelta(hours=i) + timedelta(seconds=30),
                "status": "completed",
                "counts": {"processed": 1000, "enriched": 950, "failed": 50},
                "errors": [{"lead_id": f"p{j:06d}", "error": "HTTP 503"} for j in range(50)],
            }
            for i in range(RUNS)
        ]
    )
    await database["quarantine"].insert_many(
        [
            {
                "_id": f"imp:{i}",
                "import_id": "imp",
                "row": i,
                "reasons": [{"code": REASONS[i % 4]}, {"code": REASONS[(i + 1) % 4]}],
            }
            for i in range(QUARANTINED)
        ]
    )


async def _main(uri: str, data_dir: Path) -> str:
    settings = Settings(mongodb_uri=uri, mongodb_db="bench_dashboard", data_dir=data_dir)
    async with connect(uri, settings.mongodb_db) as database:
        await database.client.drop_database(settings.mongodb_db)
    async with connect(uri, settings.mongodb_db) as database:
        try:
            await _load(database)
            service = PersonaService(mongo_repositories(database))
            field_maps = field_map_store(settings)  # one store, as the app keeps
            with warehouse_or_reason(settings) as warehouse:

                def collect() -> Awaitable[DashboardData]:
                    return collect_dashboard(
                        mongo_repositories(database),
                        field_maps,
                        database=database.name,
                        warehouse=warehouse,
                    )

                await collect()  # warm: mapping CSV parsed once, cached
                stats_s = await _timed(service.stats)
                collect_s = await _timed(collect)
                data = await collect()
            for live in (True, False):  # compile the template and read the assets once
                render_page(data, live=live)
            started = time.perf_counter()
            for _ in range(REPEAT):
                live_html = render_page(data, live=True)
            live_s = (time.perf_counter() - started) / REPEAT
            started = time.perf_counter()
            for _ in range(REPEAT):
                static_html = render_page(data, live=False)
            static_s = (time.perf_counter() - started) / REPEAT
            report_s = await _timed(
                lambda: write_report(settings, database, data_dir / "r", field_maps=field_maps)
            )
            with (
                serve_in_thread(create_app(settings)) as base_url,
                httpx.Client(base_url=base_url, timeout=60) as http,
            ):
                http.get("/")

                async def get(path: str) -> None:
                    http.get(path).raise_for_status()

                http_stats_s = await _timed(lambda: get("/personas/stats"))
                http_page_s = await _timed(lambda: get("/"))
        finally:
            await database.client.drop_database(settings.mongodb_db)

    def row(label: str, seconds: float, baseline: float) -> str:
        return f"| {label} | {seconds * 1000:.1f} | {seconds / baseline:.2f}x |"

    return "\n".join(
        [
            "## Dashboard",
            "",
            f"{PERSONAS:,} personas ({len(FIELDS)} academic fields x {len(TYPES)} company types),"
            f" {RUNS} runs of 50 failures each, {QUARANTINED:,} quarantined rows; the packaged"
            f" mapping CSV. Median of {REPEAT}, ms; ratio against `stats()` measured in the same"
            " run.",
            "",
            "| operation | ms | vs `stats()` |",
            "|---|---:|---:|",
            row("baseline: `PersonaService.stats()` (GET /personas/stats)", stats_s, stats_s),
            row("`collect_dashboard` (stats, 10 runs, quarantine, mapping)", collect_s, stats_s),
            row("render the live page (assets linked)", live_s, stats_s),
            row("render the static report (assets inlined)", static_s, stats_s),
            row("`write_report` (collect, render, write HTML + Markdown)", report_s, stats_s),
            row("HTTP GET /personas/stats on loopback", http_stats_s, stats_s),
            row("HTTP GET / (the dashboard page) on loopback", http_page_s, stats_s),
            "",
            f"Sizes: live page {len(live_html.encode()) / 1024:.0f} KiB (plus"
            f" {sum(len(p.read_bytes()) for p in _vendor()) / 1024:.0f} KiB of cached scripts);"
            f" static report {len(static_html.encode()) / 1024:.0f} KiB, of which the bundled"
            " Vega, Vega-Lite and vega-embed are most.",
        ]
    )


def _vendor() -> list[Path]:
    import leadpersona.entrypoints.http as http_package

    return sorted((Path(http_package.__file__).parent / "static").rglob("*.js"))


def run() -> str:
    return on_embedded_server(_main)


if __name__ == "__main__":
    print(run())
