"""Raw-answer archive: object sizes, and put/get latency of GridFS and S3 on this machine.

MongoDB is the embedded server (secantus, a child process) in a temporary directory; S3 is moto
in server mode on loopback (an S3-compatible server in a thread; real S3 adds a network round
trip of tens of milliseconds per call). Baseline measured in the same run: the same bytes as a
field of a plain MongoDB document (one ``insert_one`` / ``find_one``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from bson import Binary
from moto.server import ThreadedMotoServer

from leadpersona.adapters.archive import GridFSArchive, RawArchive, S3Archive
from leadpersona.adapters.enrichment_client import FetchResult
from leadpersona.adapters.local_server import free_port
from leadpersona.adapters.mock_api import example_answer_bytes, synthetic_answer
from leadpersona.adapters.mongo.connection import MongoDatabase, connect
from leadpersona.adapters.mongo.embedded import EmbeddedMongo

ROUNDS = 200
BATCH = 100


def synthetic_sizes(count: int = 2000) -> list[int]:
    sizes = []
    for i in range(count):
        _, body = synthetic_answer(f"size{i}@example.com")
        sizes.append(len(json.dumps(body, ensure_ascii=False).encode()))
    return sorted(sizes)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def timed(action: Callable[[], Awaitable[Any]], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def row(label: str, samples: list[float]) -> str:
    return (
        f"| {label} | {statistics.median(samples):.2f} | {percentile(samples, 0.95):.2f} "
        f"| {len(samples)} |"
    )


async def measure_archive(name: str, archive: RawArchive, raw: bytes) -> list[str]:
    await archive.ensure_indexes()
    counter = iter(range(10**9))

    async def put() -> None:
        n = next(counter)
        result = FetchResult.from_answer(f"p{n}@example.com", 200, raw, datetime.now(UTC))
        await archive.put(result, [f"lead-{n}"])

    puts = await timed(put, ROUNDS)
    picks = iter(range(10**9))

    async def get() -> None:
        await archive.latest(lead_id=f"lead-{next(picks) % ROUNDS}")

    gets = await timed(get, ROUNDS)
    emails = [f"p{n}@example.com" for n in range(BATCH)]
    since = datetime.now(UTC) - timedelta(days=1)

    async def batch() -> None:
        found = await archive.latest_for_emails(emails, since)
        assert len(found) == BATCH

    batches = await timed(batch, 10)
    return [
        row(f"{name}: put one answer", puts),
        row(f"{name}: latest(lead_id) with bytes", gets),
        row(f"{name}: latest_for_emails, batch of {BATCH}", batches),
    ]


async def measure_plain(database: MongoDatabase, raw: bytes) -> list[str]:
    collection = database["plain_raw"]
    await collection.create_index("lead_id")
    counter = iter(range(10**9))

    async def put() -> None:
        n = next(counter)
        await collection.insert_one({"lead_id": f"lead-{n}", "raw": Binary(raw)})

    puts = await timed(put, ROUNDS)
    picks = iter(range(10**9))

    async def get() -> None:
        await collection.find_one({"lead_id": f"lead-{next(picks) % ROUNDS}"})

    gets = await timed(get, ROUNDS)
    return [row("baseline, plain document: insert", puts), row("baseline: find_one", gets)]


async def measure_all(uri: str, endpoint: str, raw: bytes) -> list[str]:
    async with connect(uri, f"bench_{uuid.uuid4().hex[:8]}", init_documents=False) as database:
        try:
            client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
            rows = await measure_plain(database, raw)
            rows += await measure_archive("GridFS", GridFSArchive(database), raw)
            s3 = S3Archive(database, client, "bench-raw")
            try:
                rows += await measure_archive("S3 (moto, loopback)", s3, raw)
            finally:
                await s3.aclose()
            return rows
        finally:
            await database.client.drop_database(database.name)


def run() -> str:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request log
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    example = example_answer_bytes()
    sizes = synthetic_sizes()
    port = free_port("127.0.0.1")
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="lp-bench-archive-") as tmp,
            EmbeddedMongo(Path(tmp) / "mongo") as uri,
        ):
            rows = asyncio.run(measure_all(uri, f"http://127.0.0.1:{port}", example))
    finally:
        moto.stop()
    median_size = statistics.median(sizes)
    return "\n".join(
        [
            "## Raw-answer archive",
            "",
            f"Object sizes: the provided answer is {len(example):,} bytes; {len(sizes):,} "
            f"synthetic answers: median {median_size:,.0f} bytes, 95th percentile "
            f"{percentile([float(s) for s in sizes], 0.95):,.0f}, largest {sizes[-1]:,}. "
            "Every one fits in a single GridFS chunk (255 kB).",
            "",
            f"Latency with the provided answer ({len(example):,} bytes), {ROUNDS} sequential "
            "operations each (batches: 10), embedded MongoDB (secantus) and moto S3 on loopback:",
            "",
            "| operation | median ms | p95 ms | n |",
            "|---|---:|---:|---:|",
            *rows,
        ]
    )


if __name__ == "__main__":
    print(run())
