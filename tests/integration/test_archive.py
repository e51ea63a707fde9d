"""The raw-answer archive on the real MongoDB-wire server (GridFS) and a real S3 server (moto)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from bson import ObjectId
from gridfs import AsyncGridFSBucket
from moto.server import ThreadedMotoServer

from leadpersona.adapters.archive import (
    GridFSArchive,
    RawArchive,
    S3Archive,
    email_hash,
)
from leadpersona.adapters.enrichment_client import FetchResult
from leadpersona.adapters.local_server import free_port
from leadpersona.adapters.mock_api import example_answer_bytes, synthetic_answer
from leadpersona.adapters.mongo.connection import IN_CHUNK, MongoDatabase
from leadpersona.bootstrap import raw_archive
from leadpersona.config import Settings
from leadpersona.domain.samples import DEMO_EMAIL
from leadpersona.errors import ArchiveError, ArchiveNotFound, InvalidInput

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

pytestmark = pytest.mark.usefixtures("aws_env")


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto in server mode) on loopback."""
    port = free_port("127.0.0.1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)


def s3_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


@pytest.fixture(params=["gridfs", "s3"])
async def archive(
    request: pytest.FixtureRequest, database: MongoDatabase, db_name: str
) -> AsyncIterator[RawArchive]:
    if request.param == "gridfs":
        store: RawArchive = GridFSArchive(database)
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        store = S3Archive(database, s3_client(endpoint), f"raw-{db_name.replace('_', '-')}")
    await store.ensure_indexes()
    yield store
    if isinstance(store, S3Archive):
        await store.aclose()


def result(email: str, raw: bytes, *, age_days: float = 0, status: int = 200) -> FetchResult:
    fetched_at = datetime.now(UTC) - timedelta(days=age_days)
    return FetchResult.from_answer(email, status, raw, fetched_at)


def synthetic_raw(email: str) -> bytes:
    return json.dumps(synthetic_answer(email)[1], ensure_ascii=False).encode()


async def test_round_trip_is_byte_for_byte(archive: RawArchive) -> None:
    raw = example_answer_bytes()
    stored = await archive.put(result(DEMO_EMAIL, raw), ["lead-1"])
    assert stored.size == len(raw) and stored.lead_ids == ["lead-1"]
    answer, back = await archive.latest(lead_id="lead-1")
    assert back == raw
    assert answer == stored
    assert answer.fetched_at.tzinfo is not None
    by_email, again = await archive.latest(email=DEMO_EMAIL.upper())
    assert by_email.archive_id == stored.archive_id and again == raw
    reparsed = answer.to_result(back)
    assert reparsed.found and reparsed.response is not None
    assert reparsed.response.person is not None
    fetched, raw_by_id = await archive.get(stored.archive_id)
    assert fetched == stored and raw_by_id == raw


async def test_non_ascii_and_not_found_answers_round_trip(archive: RawArchive) -> None:
    raw = synthetic_raw("élodie.müller@example.com") + b"\n"
    await archive.put(result("élodie.müller@example.com", raw), ["lead-u"])
    missing = b'{"success":false,"msg":"No profile found"}'
    await archive.put(result("nobody@example.com", missing, status=404), ["lead-n"])
    assert (await archive.latest(lead_id="lead-u"))[1] == raw
    answer, back = await archive.latest(lead_id="lead-n")
    assert back == missing and answer.status_code == 404


async def test_history_is_newest_first(archive: RawArchive) -> None:
    email = "history@example.com"
    old = await archive.put(result(email, b'{"v": 1}', age_days=3), ["lead-h"])
    new = await archive.put(result(email, b'{"v": 2}', age_days=1), ["lead-h"])
    middle = await archive.put(result(email, b'{"v": 3}', age_days=2), ["lead-h"])
    history = await archive.history(lead_id="lead-h")
    assert [a.archive_id for a in history] == [new.archive_id, middle.archive_id, old.archive_id]
    assert (await archive.latest(lead_id="lead-h"))[1] == b'{"v": 2}'
    assert [a.archive_id for a in await archive.history(email=email)] == [
        a.archive_id for a in history
    ]


async def test_shared_email_serves_every_lead(archive: RawArchive) -> None:
    stored = await archive.put(result("shared@example.com", b"{}"), ["lead-a", "lead-b", "lead-a"])
    assert stored.lead_ids == ["lead-a", "lead-b"]
    await archive.link(stored.archive_id, ["lead-c", "lead-a"])
    answer, raw = await archive.latest(lead_id="lead-c")
    assert answer.archive_id == stored.archive_id and raw == b"{}"
    assert sorted(answer.lead_ids) == ["lead-a", "lead-b", "lead-c"]
    with pytest.raises(ArchiveNotFound):
        await archive.link("0123456789abcdef01234567", ["lead-x"])


async def test_latest_for_emails_is_the_freshness_cache(archive: RawArchive) -> None:
    await archive.put(result("fresh@example.com", b'{"n": "old"}', age_days=2), ["l1"])
    await archive.put(result("fresh@example.com", b'{"n": "new"}', age_days=1), ["l1"])
    await archive.put(result("stale@example.com", b'{"n": "stale"}', age_days=45), ["l2"])
    cutoff = datetime.now(UTC) - timedelta(days=30)
    found = await archive.latest_for_emails(
        ["Fresh@Example.com", "stale@example.com", "never@example.com"], cutoff
    )
    assert set(found) == {"fresh@example.com"}
    answer, raw = found["fresh@example.com"]
    assert raw == b'{"n": "new"}' and answer.email == "fresh@example.com"
    assert await archive.latest_for_emails([], cutoff) == {}


async def test_missing_answers_are_not_found(archive: RawArchive) -> None:
    with pytest.raises(ArchiveNotFound, match="lead nope"):
        await archive.latest(lead_id="nope")
    assert await archive.history(email="nope@example.com") == []
    with pytest.raises(ArchiveNotFound):
        await archive.get("not-an-id")
    with pytest.raises(InvalidInput):
        await archive.latest()


async def test_gridfs_indexes_and_corruption(database: MongoDatabase) -> None:
    archive = GridFSArchive(database)
    await archive.ensure_indexes()
    await archive.ensure_indexes()
    names = {index["name"] async for index in await database["linkedin_raw.files"].list_indexes()}
    assert {"lead_ids_fetched_at", "email_fetched_at"} <= names
    stored = await archive.put(result("c@example.com", b'{"ok": true}'), ["lead-c"])
    await database["linkedin_raw.chunks"].update_many({}, {"$set": {"data": b'{"ok": fals'}})
    with pytest.raises(ArchiveError, match=stored.archive_id):
        await archive.latest(lead_id="lead-c")


async def test_s3_keys_carry_no_email(database: MongoDatabase, s3_endpoint: str) -> None:
    client = s3_client(s3_endpoint)
    archive = S3Archive(database, client, "raw-keys", prefix="linkedin/")
    await archive.ensure_indexes()
    await archive.ensure_indexes()
    email = "Private.Person@example.com"
    await archive.put(result(email, b'{"a": 1}'), ["lead-p"])
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="raw-keys")["Contents"]]
    assert len(keys) == 1
    assert keys[0].startswith(f"linkedin/{email_hash(email)[:2]}/{email_hash(email)}/")
    assert "private" not in keys[0].lower() and "@" not in keys[0]
    stored = client.get_object(Bucket="raw-keys", Key=keys[0])["Body"].read()
    assert stored == b'{"a": 1}'
    await archive.aclose()


async def test_raw_archive_follows_settings(database: MongoDatabase, s3_endpoint: str) -> None:
    assert isinstance(raw_archive(Settings(), database), GridFSArchive)
    settings = Settings(  # type: ignore[call-arg]
        archive_backend="s3", s3_endpoint_url=s3_endpoint, s3_bucket="raw-built"
    )
    archive = raw_archive(settings, database)
    assert isinstance(archive, S3Archive)
    await archive.ensure_indexes()
    await archive.put(result("b@example.com", b"[]"), ["lead-b"])
    assert (await archive.latest(lead_id="lead-b"))[1] == b"[]"
    await archive.aclose()


async def test_a_page_is_archived_in_order_and_linked_in_bulk(archive: RawArchive) -> None:
    emails = [f"bulk{i}@example.com" for i in range(5)]
    stored = await archive.put_many(
        [(result(email, synthetic_raw(email)), [f"lead-{i}"]) for i, email in enumerate(emails)]
    )
    assert [s.email for s in stored] == emails
    assert await archive.put_many([]) == []
    await archive.link_many({stored[0].archive_id: ["lead-x"], stored[1].archive_id: ["lead-y"]})
    await archive.link_many({})
    answer, raw = await archive.latest(lead_id="lead-x")
    assert answer.archive_id == stored[0].archive_id and raw == synthetic_raw(emails[0])
    assert answer.lead_ids == ["lead-0", "lead-x"]
    with pytest.raises(ArchiveNotFound):
        await archive.link_many({"0123456789abcdef01234567": ["lead-z"]})


async def test_bulk_gridfs_files_open_with_any_gridfs_reader(database: MongoDatabase) -> None:
    archive = GridFSArchive(database)
    await archive.ensure_indexes()
    big = json.dumps({"success": True, "blob": "é" * 300_000}, ensure_ascii=False).encode()
    small, empty = synthetic_raw("s@example.com"), b""
    stored = await archive.put_many(
        [
            (result("big@example.com", big), ["b"]),
            (result("s@example.com", small), ["s"]),
            (result("e@example.com", empty, status=404), ["e"]),
        ]
    )
    bucket = AsyncGridFSBucket(database, bucket_name="linkedin_raw")
    for entry, raw in zip(stored, (big, small, empty), strict=True):
        stream = await bucket.open_download_stream(ObjectId(entry.archive_id))
        assert await stream.read() == raw
        assert stream.metadata is not None and stream.metadata["sha256"] == entry.sha256
    assert len(big) > 2 * 255 * 1024  # three chunks, the last one partial
    assert await database["linkedin_raw.chunks"].count_documents({}) == 3 + 1
    names = {index["name"] async for index in await database["linkedin_raw.chunks"].list_indexes()}
    assert "files_id_1_n_1" in names


async def test_get_many_reads_more_answers_than_one_lookup_holds(archive: RawArchive) -> None:
    # More ids than one $in list carries (IN_CHUNK), and an answer spread over three chunks.
    emails = [f"many{i}@example.com" for i in range(IN_CHUNK * 2 + 7)]
    raws = {email: synthetic_raw(email) for email in emails}
    raws[emails[-1]] = json.dumps({"success": True, "blob": "x" * 600_000}).encode()
    stored = await archive.put_many([(result(e, raws[e]), [e]) for e in emails])
    found = await archive.get_many([s.archive_id for s in stored] + ["0123456789abcdef01234567"])
    assert len(found) == len(emails)
    for entry in stored:
        answer, raw = found[entry.archive_id]
        assert answer.email == entry.email and raw == raws[entry.email]
    fresh = await archive.latest_for_emails(emails, datetime.now(UTC) - timedelta(days=1))
    assert {email: raw for email, (_, raw) in fresh.items()} == raws
    missing = "0123456789abcdef01234567"
    bulk = await archive.raw_many([s.archive_id for s in stored] + [missing])
    assert bulk == {s.archive_id: raws[s.email] for s in stored} | {missing: b""}

    # In order: batches of ascending ids, one id the walk has passed, one never stored.
    ids = [s.archive_id for s in stored]
    walk = archive.raw_in_order()
    got = await walk.take(ids[:40]) | await walk.take([*ids[50:90], ids[45]])
    got |= await walk.take([ids[42], *ids[90:], missing]) | await walk.take([])
    taken = [*ids[:40], *ids[50:90], ids[45], ids[42], *ids[90:]]
    assert got == {key: bulk[key] for key in taken} | {missing: b""}
