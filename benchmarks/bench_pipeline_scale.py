"""The enrichment pipeline at 1,000, 10,000 and 100,000 leads: does the cost per lead stay flat?

Each size runs on a fresh embedded MongoDB-wire server against the mock API in its own process
(`leadpersona mock-api`, so the client's CPU excludes the mock's). Two API settings:

- *fast*: no latency, no server limit, client capped at 2,000 req/s and 32 in flight: the
  pipeline's own cost per lead (client and database server CPU) is what is measured;
- *limited*: 80 ms per answer, 50 req/s on the server and in the client: the share of the
  limit the pipeline reaches, start-up (connect, indexes, counts) included.

CPU is read from /proc (user + system) for the client process and for the database server's;
peak memory is the client's peak RSS (VmHWM). Override the sizes with
``LEADPERSONA_BENCH_SCALE=1000,10000``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks._server import peak_rss_mb
from leadpersona.adapters.enrichment_client import EnrichmentClient
from leadpersona.adapters.local_server import free_port
from leadpersona.adapters.mongo.connection import connect
from leadpersona.adapters.mongo.embedded import EmbeddedMongo
from leadpersona.bootstrap import run_enrichment
from leadpersona.config import Settings

SIZES = tuple(
    int(n) for n in os.environ.get("LEADPERSONA_BENCH_SCALE", "1000,10000,100000").split(",")
)
LIMITED_SIZES = (1_000, 10_000)
RATE = 50.0
LATENCY = 0.08
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Outcome:
    setting: str
    leads: int
    seconds: float
    client_cpu_ms: float
    server_cpu_ms: float
    peak_rss_mb: float
    api_calls: int

    @property
    def rate(self) -> float:
        return self.leads / self.seconds


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


class _MockProcess:
    def __init__(self, *options: str) -> None:
        self.port = free_port("127.0.0.1")
        self.url = f"http://127.0.0.1:{self.port}"
        self._options = options

    def __enter__(self) -> str:
        command = [sys.executable, "-m", "leadpersona", "mock-api", "--port", str(self.port)]
        self._process = subprocess.Popen(
            [*command, *self._options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(200):
            try:
                httpx.get(f"{self.url}/docs", timeout=0.5)
                return self.url
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the mock API did not start")

    def __exit__(self, *_: object) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)


def measure(setting: str, leads: int) -> Outcome:
    limited = setting == "limited"
    options = ("--rate-limit", str(RATE), "--latency", str(LATENCY)) if limited else ()
    with (
        tempfile.TemporaryDirectory(prefix="lp-scale-") as tmp,
        _MockProcess(*options) as url,
    ):
        mongo = EmbeddedMongo(Path(tmp) / "mongo")
        with mongo as uri:
            assert mongo.pid is not None
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                mongodb_uri=uri,
                mongodb_db="scale",
                data_dir=Path(tmp) / "data",
            )

            async def seed() -> None:
                async with connect(uri, "scale") as database:
                    for start in range(0, leads, 10_000):
                        await database["leads"].insert_many(
                            [
                                {"_id": f"b{i:07d}", "email": f"scale{i}@example.com", "status": 0}
                                for i in range(start, min(leads, start + 10_000))
                            ]
                        )

            asyncio.run(seed())

            async def work() -> int:
                async with (
                    connect(uri, "scale") as database,
                    EnrichmentClient(
                        url,
                        rate_limit=RATE if limited else 2000.0,
                        concurrency=32,
                        max_retries=8,
                    ) as client,
                ):
                    summary = await run_enrichment(
                        settings, database, client=client, batch_size=500
                    )
                    assert summary.processed == leads, summary
                    return summary.api_calls

            server_before = _cpu_seconds(mongo.pid)
            client_before = time.process_time()
            started = time.perf_counter()
            calls = asyncio.run(work())
            seconds = time.perf_counter() - started
            client_cpu = time.process_time() - client_before
            server_cpu = _cpu_seconds(mongo.pid) - server_before
    return Outcome(
        setting,
        leads,
        seconds,
        client_cpu / leads * 1000,
        server_cpu / leads * 1000,
        peak_rss_mb(),
        calls,
    )


def run() -> str:
    fast = [measure("fast", n) for n in SIZES]
    limited = [measure("limited", n) for n in LIMITED_SIZES if n <= max(SIZES)]
    rows = [
        "| API | leads | seconds | leads/s | share of the limit | client CPU/lead "
        "| server CPU/lead | client peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for outcome in fast + limited:
        share = f"{outcome.rate / RATE:.2f}" if outcome.setting == "limited" else "-"
        rows.append(
            f"| {outcome.setting} | {outcome.leads:,} | {outcome.seconds:.1f} "
            f"| {outcome.rate:.0f} | {share} | {outcome.client_cpu_ms:.2f} ms "
            f"| {outcome.server_cpu_ms:.2f} ms | {outcome.peak_rss_mb:.0f} MB |"
        )
    small, large = fast[0], fast[-1]
    client_ratio = large.client_cpu_ms / small.client_cpu_ms
    server_ratio = large.server_cpu_ms / small.server_cpu_ms
    lines = [
        "## Enrichment pipeline at scale",
        "",
        "Fresh embedded server per row; the mock API in its own process; batch 500, 32 in "
        f"flight. *fast*: no latency, client capped at 2,000 req/s. *limited*: "
        f"{LATENCY * 1000:.0f} ms per answer, {RATE:g} req/s on both sides; seconds include "
        "start-up (connect, indexes, counts). Peak RSS is the benchmark process's high-water "
        "mark so far (it only grows across rows).",
        "",
        *rows,
        "",
        f"CPU per lead at {large.leads:,} vs {small.leads:,} leads: client "
        f"{client_ratio:.2f}x, database server {server_ratio:.2f}x (goal: within 1.2x).",
    ]
    for outcome in limited:
        lines.append(
            f"Share of the {RATE:g} req/s limit at {outcome.leads:,} leads, start-up included: "
            f"{outcome.rate / RATE:.2f} (goal at 10,000: >= 0.9)."
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
