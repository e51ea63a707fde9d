"""The raw-answer archive: every API answer, byte for byte, with its metadata.

Two implementations behind :class:`RawArchive`, chosen by ``LEADPERSONA_ARCHIVE_BACKEND``
(see docs/decisions/raw-archive.md):

- :class:`GridFSArchive` (default): one GridFS file per answer in the product's MongoDB
  (bucket ``linkedin_raw``); the metadata lives in the file document's ``metadata``.
- :class:`S3Archive`: the bytes in S3 (boto3, blocking calls run in threads) under keys made of
  a hash of the email, never the email itself; the metadata in a MongoDB index collection
  (``linkedin_raw_s3``) whose documents have the same ``metadata`` shape as GridFS files, so
  both are queried by the same code.

Both index ``metadata.lead_ids`` and ``metadata.email`` with ``metadata.fetched_at``, so that
"latest for a lead", "all versions for an email" and the freshness lookup of a batch
(:meth:`RawArchive.latest_for_emails`, one query) never scan.
"""

from __future__ import annotations

import asyncio
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from bson import Binary, ObjectId
from bson.errors import InvalidId
from pydantic import BaseModel
from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from leadpersona import __version__
from leadpersona.adapters.enrichment_client import FetchResult
from leadpersona.adapters.mongo.connection import Lookahead, MongoDatabase, find_in
from leadpersona.domain.email import normalize_email
from leadpersona.errors import ArchiveError, ArchiveNotFound, InvalidInput

__all__ = [
    "DEFAULT_GRIDFS_BUCKET",
    "DEFAULT_S3_INDEX",
    "AnswersInOrder",
    "ArchivedAnswer",
    "GridFSArchive",
    "RawArchive",
    "S3Archive",
    "email_hash",
]

DEFAULT_GRIDFS_BUCKET = "linkedin_raw"
DEFAULT_S3_INDEX = "linkedin_raw_s3"
CONTENT_TYPE = "application/json"
_LATEST = [("metadata.fetched_at", DESCENDING), ("_id", DESCENDING)]
#: GridFS's default chunk size (255 KiB): an answer is nearly always one chunk.
_CHUNK_SIZE = 255 * 1024


def email_hash(email: str) -> str:
    """The SHA-256 of the normalised email: how object keys name a person."""
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()


class ArchivedAnswer(BaseModel):
    """The metadata of one archived answer."""

    archive_id: str
    email: str
    lead_ids: list[str]
    fetched_at: datetime
    status_code: int
    sha256: str
    size: int
    client_version: str

    def to_result(self, raw: bytes) -> FetchResult:
        """The answer as the client would have returned it (for a reused answer)."""
        return FetchResult.from_answer(self.email, self.status_code, raw, self.fetched_at)


class RawArchive(Protocol):
    """Where raw API answers are kept."""

    async def ensure_indexes(self) -> None:
        """Create what queries rely on (idempotent)."""
        ...

    async def put(self, result: FetchResult, lead_ids: Sequence[str]) -> ArchivedAnswer:
        """Store one answer for these leads."""
        ...

    async def put_many(
        self, items: Sequence[tuple[FetchResult, Sequence[str]]]
    ) -> list[ArchivedAnswer]:
        """Store a page of answers, in order, in a number of round trips that does not grow
        with the page (GridFS: one insert of chunks, one of files)."""
        ...

    async def link(self, archive_id: str, lead_ids: Sequence[str]) -> None:
        """Add leads to an archived answer (a reused answer now serves them too)."""
        ...

    async def link_many(self, links: Mapping[str, Sequence[str]]) -> None:
        """:meth:`link` for many answers (archive id → new lead ids) in one round trip."""
        ...

    async def get(self, archive_id: str) -> tuple[ArchivedAnswer, bytes]:
        """One archived answer by its id; ArchiveNotFound if none."""
        ...

    async def get_many(self, archive_ids: Sequence[str]) -> dict[str, tuple[ArchivedAnswer, bytes]]:
        """The archived answers of these ids that exist, by id (one query for the metadata)."""
        ...

    async def raw_many(self, archive_ids: Sequence[str]) -> dict[str, bytes]:
        """The bytes of these answers, by id, for bulk readers that parse them anyway: an id
        with nothing stored maps to ``b""``, and the bytes are not checked against their
        SHA-256 (:meth:`get_many` does both)."""
        ...

    def raw_in_order(self) -> AnswersInOrder:
        """:meth:`raw_many` for batches whose ids mostly ascend across calls (answers are
        archived in the order leads are enriched): served by one walk of the stored answers
        where the store allows it, by lookups for the ids the walk has passed."""
        ...

    async def latest(
        self, *, lead_id: str | None = None, email: str | None = None
    ) -> tuple[ArchivedAnswer, bytes]:
        """The newest answer for a lead or an email; ArchiveNotFound if none."""
        ...

    async def history(
        self, *, lead_id: str | None = None, email: str | None = None
    ) -> list[ArchivedAnswer]:
        """Every answer for a lead or an email, newest first."""
        ...

    async def latest_for_emails(
        self, emails: Sequence[str], newer_than: datetime
    ) -> dict[str, tuple[ArchivedAnswer, bytes]]:
        """Per normalised email, its newest answer fetched after ``newer_than`` (one query)."""
        ...


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _millis(value: datetime) -> datetime:
    # BSON dates keep milliseconds: store what will be read back.
    value = _utc(value)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _metadata(result: FetchResult, lead_ids: Sequence[str]) -> dict[str, Any]:
    email = normalize_email(result.email)
    return {
        "email": email,
        "email_sha256": email_hash(email),
        "lead_ids": list(dict.fromkeys(lead_ids)),
        "fetched_at": _millis(result.fetched_at),
        "status_code": result.status_code,
        "sha256": hashlib.sha256(result.raw).hexdigest(),
        "size": len(result.raw),
        "client_version": __version__,
        "content_type": CONTENT_TYPE,
    }


def _recency(document: Mapping[str, Any]) -> tuple[datetime, Any]:
    """How new an archived answer is: the order of ``_LATEST``, reversed."""
    return _utc(document["metadata"]["fetched_at"]), document["_id"]


def _answer(document: Mapping[str, Any]) -> ArchivedAnswer:
    meta = document["metadata"]
    return ArchivedAnswer(
        archive_id=str(document["_id"]),
        email=meta["email"],
        lead_ids=list(meta.get("lead_ids", [])),
        fetched_at=_utc(meta["fetched_at"]),
        status_code=meta["status_code"],
        sha256=meta["sha256"],
        size=meta["size"],
        client_version=meta.get("client_version", ""),
    )


def _selector(lead_id: str | None, email: str | None) -> dict[str, Any]:
    if (lead_id is None) == (email is None):
        raise InvalidInput("give exactly one of a lead id or an email")
    if lead_id is not None:
        return {"metadata.lead_ids": lead_id}
    return {"metadata.email": normalize_email(email or "")}


def _describe(lead_id: str | None) -> str:
    return f"lead {lead_id}" if lead_id is not None else "this email"


def _object_id(archive_id: str) -> ObjectId:
    try:
        return ObjectId(archive_id)
    except (InvalidId, TypeError):
        raise ArchiveNotFound(f"no archived answer {archive_id}") from None


def _checked(answer: ArchivedAnswer, raw: bytes) -> bytes:
    if len(raw) != answer.size or hashlib.sha256(raw).hexdigest() != answer.sha256:
        raise ArchiveError(f"archived answer {answer.archive_id} is corrupt (hash mismatch)")
    return raw


#: Chunks per round trip of the walk in id order.
_WALK_BATCH = 500


class AnswersInOrder:
    """Archived answers handed out a batch at a time (see :meth:`RawArchive.raw_in_order`);
    this one looks every batch up."""

    def __init__(self, archive: RawArchive) -> None:
        self._archive = archive

    async def take(self, archive_ids: Sequence[str]) -> dict[str, bytes]:
        """As :meth:`RawArchive.raw_many`."""
        return await self._archive.raw_many(archive_ids)


class _ChunksInOrder(AnswersInOrder):
    """One cursor over the GridFS chunks in ``(files_id, n)`` order, merged with batches of
    ascending archive ids: the chunks of the ids asked for are kept, the others passed over;
    an id the cursor has already passed is looked up."""

    def __init__(self, archive: RawArchive, chunks: AsyncCollection[dict[str, Any]]) -> None:
        super().__init__(archive)
        index = [("files_id", ASCENDING), ("n", ASCENDING)]
        # Sorted on files_id alone, the walk of the (files_id, n) index is the order: sorted on
        # both, the embedded server sorted every chunk again (0.7 to 1.1 s of its CPU against
        # 0.4 s at 20,000 answers). A file's chunks are put in order of n below. A bounded
        # batch per round trip: by default a getMore brings up to 16 MB of chunks.
        self._chunks = Lookahead(
            aiter(
                chunks.find({}).sort([("files_id", ASCENDING)]).hint(index).batch_size(_WALK_BATCH)
            )
        )
        self._passed: ObjectId | None = None

    async def take(self, archive_ids: Sequence[str]) -> dict[str, bytes]:
        keys = {key: _object_id(key) for key in archive_ids}
        if not keys:
            return {}
        behind = [key for key, oid in keys.items() if self._passed and oid <= self._passed]
        wanted = {oid for key, oid in keys.items() if key not in behind}
        parts: dict[ObjectId, list[tuple[int, bytes]]] = {}
        last = max(wanted) if wanted else None
        try:
            while last is not None and (chunk := await self._chunks.peek()) is not None:
                file_id = chunk["files_id"]
                if not isinstance(file_id, ObjectId) or file_id > last:
                    break
                if file_id in wanted:
                    parts.setdefault(file_id, []).append((chunk["n"], bytes(chunk["data"])))
                self._passed = file_id
                self._chunks.take()
        except PyMongoError as exc:
            raise ArchiveError(f"cannot read archived answers: {exc}") from exc
        found = {
            key: b"".join(data for _, data in sorted(parts.get(keys[key], [])))
            for key in keys
            if key not in behind
        }
        return found | (await self._archive.raw_many(behind) if behind else {})


class _IndexedArchive(ABC):
    """Metadata queries shared by both archives; subclasses store and read the bytes."""

    def __init__(self, index: AsyncCollection[dict[str, Any]]) -> None:
        self._index = index

    @abstractmethod
    async def put(self, result: FetchResult, lead_ids: Sequence[str]) -> ArchivedAnswer:
        """Store one answer for these leads."""

    @abstractmethod
    async def _read(self, documents: Sequence[Mapping[str, Any]]) -> dict[Any, bytes]:
        """The bytes of each document, by its ``_id``."""

    async def put_many(
        self, items: Sequence[tuple[FetchResult, Sequence[str]]]
    ) -> list[ArchivedAnswer]:
        """One :meth:`put` per answer, concurrently (GridFS overrides this with two inserts)."""
        return list(await asyncio.gather(*(self.put(result, ids) for result, ids in items)))

    async def link_many(self, links: Mapping[str, Sequence[str]]) -> None:
        if not links:
            return
        operations = [
            UpdateOne(
                {"_id": _object_id(archive_id)},
                {"$addToSet": {"metadata.lead_ids": {"$each": list(lead_ids)}}},
            )
            for archive_id, lead_ids in links.items()
        ]
        try:
            outcome = await self._index.bulk_write(operations, ordered=False)
        except PyMongoError as exc:
            raise ArchiveError(f"cannot update the archive: {exc}") from exc
        if outcome.matched_count != len(operations):
            raise ArchiveNotFound("an archived answer to link is missing")

    async def ensure_indexes(self) -> None:
        try:
            await self._index.create_indexes(
                [
                    IndexModel(
                        [("metadata.lead_ids", ASCENDING), ("metadata.fetched_at", DESCENDING)],
                        name="lead_ids_fetched_at",
                    ),
                    IndexModel(
                        [("metadata.email", ASCENDING), ("metadata.fetched_at", DESCENDING)],
                        name="email_fetched_at",
                    ),
                ]
            )
        except PyMongoError as exc:
            raise ArchiveError(f"cannot create the archive's indexes: {exc}") from exc

    async def _find(self, query: Mapping[str, Any], limit: int = 0) -> list[dict[str, Any]]:
        try:
            cursor = self._index.find(query).sort(_LATEST)
            if limit:
                cursor = cursor.limit(limit)
            return await cursor.to_list()
        except PyMongoError as exc:
            raise ArchiveError(f"cannot query the archive: {exc}") from exc

    async def get(self, archive_id: str) -> tuple[ArchivedAnswer, bytes]:
        documents = await self._find({"_id": _object_id(archive_id)}, limit=1)
        if not documents:
            raise ArchiveNotFound(f"no archived answer {archive_id}")
        answer = _answer(documents[0])
        raw = (await self._read(documents))[documents[0]["_id"]]
        return answer, _checked(answer, raw)

    async def get_many(self, archive_ids: Sequence[str]) -> dict[str, tuple[ArchivedAnswer, bytes]]:
        ids = [_object_id(archive_id) for archive_id in sorted(set(archive_ids))]
        if not ids:
            return {}
        try:
            documents = await find_in(self._index, "_id", ids)
        except PyMongoError as exc:
            raise ArchiveError(f"cannot query the archive: {exc}") from exc
        raws = await self._read(documents)
        found: dict[str, tuple[ArchivedAnswer, bytes]] = {}
        for document in documents:
            answer = _answer(document)
            found[answer.archive_id] = (answer, _checked(answer, raws[document["_id"]]))
        return found

    async def raw_many(self, archive_ids: Sequence[str]) -> dict[str, bytes]:
        found = await self.get_many(archive_ids)
        return {key: found[key][1] if key in found else b"" for key in archive_ids}

    def raw_in_order(self) -> AnswersInOrder:
        return AnswersInOrder(self)

    async def link(self, archive_id: str, lead_ids: Sequence[str]) -> None:
        try:
            outcome = await self._index.update_one(
                {"_id": _object_id(archive_id)},
                {"$addToSet": {"metadata.lead_ids": {"$each": list(lead_ids)}}},
            )
        except PyMongoError as exc:
            raise ArchiveError(f"cannot update the archive: {exc}") from exc
        if outcome.matched_count == 0:
            raise ArchiveNotFound(f"no archived answer {archive_id}")

    async def latest(
        self, *, lead_id: str | None = None, email: str | None = None
    ) -> tuple[ArchivedAnswer, bytes]:
        documents = await self._find(_selector(lead_id, email), limit=1)
        if not documents:
            raise ArchiveNotFound(f"no archived API answer for {_describe(lead_id)}")
        answer = _answer(documents[0])
        raw = (await self._read(documents))[documents[0]["_id"]]
        return answer, _checked(answer, raw)

    async def history(
        self, *, lead_id: str | None = None, email: str | None = None
    ) -> list[ArchivedAnswer]:
        return [_answer(doc) for doc in await self._find(_selector(lead_id, email))]

    async def latest_for_emails(
        self, emails: Sequence[str], newer_than: datetime
    ) -> dict[str, tuple[ArchivedAnswer, bytes]]:
        keys = sorted({normalize_email(email) for email in emails})
        if not keys:
            return {}
        try:
            documents = await find_in(
                self._index,
                "metadata.email",
                keys,
                where={"metadata.fetched_at": {"$gt": _utc(newer_than)}},
            )
        except PyMongoError as exc:
            raise ArchiveError(f"cannot query the archive: {exc}") from exc
        newest: dict[str, Mapping[str, Any]] = {}
        for document in documents:
            email = document["metadata"]["email"]
            known = newest.get(email)
            if known is None or _recency(document) > _recency(known):
                newest[email] = document
        if not newest:
            return {}
        raws = await self._read(list(newest.values()))
        found: dict[str, tuple[ArchivedAnswer, bytes]] = {}
        for email, entry in newest.items():
            answer = _answer(entry)
            found[email] = (answer, _checked(answer, raws[entry["_id"]]))
        return found


class GridFSArchive(_IndexedArchive):
    """Answers as GridFS files in the product's MongoDB."""

    def __init__(self, database: MongoDatabase, bucket: str = DEFAULT_GRIDFS_BUCKET) -> None:
        super().__init__(database[f"{bucket}.files"])
        self._chunks = database[f"{bucket}.chunks"]

    async def ensure_indexes(self) -> None:
        await super().ensure_indexes()
        # The indexes every GridFS driver expects (and would otherwise check before each
        # upload, with an unfiltered find_one on both collections: a scan per file on some
        # servers). Created once here, so bulk writes below never look for them.
        try:
            await self._index.create_index(
                [("filename", ASCENDING), ("uploadDate", ASCENDING)], name="filename_1_uploadDate_1"
            )
            await self._chunks.create_index(
                [("files_id", ASCENDING), ("n", ASCENDING)], name="files_id_1_n_1", unique=True
            )
        except PyMongoError as exc:
            raise ArchiveError(f"cannot create the archive's indexes: {exc}") from exc

    async def put(self, result: FetchResult, lead_ids: Sequence[str]) -> ArchivedAnswer:
        return (await self.put_many([(result, lead_ids)]))[0]

    async def put_many(
        self, items: Sequence[tuple[FetchResult, Sequence[str]]]
    ) -> list[ArchivedAnswer]:
        """Write standard GridFS files (any GridFS reader opens them) for a whole page.

        Chunks are inserted before their files documents: a failure in between leaves
        unreferenced chunks, never a file without its bytes (the order GridFS uploads use).
        """
        if not items:
            return []
        files: list[dict[str, Any]] = []
        chunks: list[dict[str, Any]] = []
        now = _millis(datetime.now(UTC))
        for result, lead_ids in items:
            metadata = _metadata(result, lead_ids)
            file_id = ObjectId()
            raw = result.raw
            for n, start in enumerate(range(0, len(raw), _CHUNK_SIZE)):
                piece = raw[start : start + _CHUNK_SIZE]
                chunks.append({"files_id": file_id, "n": n, "data": Binary(piece)})
            stamp = f"{metadata['fetched_at']:%Y%m%dT%H%M%S.%f}Z"
            files.append(
                {
                    "_id": file_id,
                    "length": len(raw),
                    "chunkSize": _CHUNK_SIZE,
                    "uploadDate": now,
                    "filename": f"{metadata['email_sha256']}/{stamp}.json",
                    "metadata": metadata,
                }
            )
        try:
            if chunks:
                await self._chunks.insert_many(chunks, ordered=False)
            await self._index.insert_many(files, ordered=False)
        except PyMongoError as exc:
            raise ArchiveError(f"cannot archive the API answers: {exc}") from exc
        return [_answer(document) for document in files]

    def raw_in_order(self) -> AnswersInOrder:
        return _ChunksInOrder(self, self._chunks)

    async def raw_many(self, archive_ids: Sequence[str]) -> dict[str, bytes]:
        # The chunks alone (the file documents hold only metadata).
        keys = {key: _object_id(key) for key in archive_ids}
        raws = await self._read([{"_id": oid} for oid in set(keys.values())])
        return {key: raws[oid] for key, oid in keys.items()}

    async def _read(self, documents: Sequence[Mapping[str, Any]]) -> dict[Any, bytes]:
        # All chunks of the batch in one query (an answer is far below one 255 kB chunk).
        ids = [doc["_id"] for doc in documents]
        parts: dict[Any, list[bytes]] = {file_id: [] for file_id in ids}
        try:
            found = await find_in(self._chunks, "files_id", ids)
        except PyMongoError as exc:
            raise ArchiveError(f"cannot read archived answers: {exc}") from exc
        found.sort(key=lambda chunk: chunk["n"])
        for chunk in found:
            parts[chunk["files_id"]].append(bytes(chunk["data"]))
        return {file_id: b"".join(chunks) for file_id, chunks in parts.items()}


class S3Archive(_IndexedArchive):
    """Answers as S3 objects; their metadata in a MongoDB index collection.

    Object keys: ``{prefix}{h[:2]}/{h}/{fetched_at}-{sha256[:16]}.json`` with ``h`` the SHA-256
    of the normalised email, so that no key carries personal data.
    """

    def __init__(
        self,
        database: MongoDatabase,
        s3_client: Any,
        bucket: str,
        *,
        prefix: str = "linkedin/",
        index_collection: str = DEFAULT_S3_INDEX,
        read_concurrency: int = 16,
    ) -> None:
        super().__init__(database[index_collection])
        self._s3 = s3_client
        self._bucket = bucket
        self._prefix = prefix
        self._reads = asyncio.Semaphore(read_concurrency)

    async def aclose(self) -> None:
        """Close the S3 client's connections."""
        await asyncio.to_thread(self._s3.close)

    def key_for(self, metadata: Mapping[str, Any]) -> str:
        """The object key of an answer."""
        digest = metadata["email_sha256"]
        stamp = f"{metadata['fetched_at']:%Y%m%dT%H%M%S.%f}Z"
        return f"{self._prefix}{digest[:2]}/{digest}/{stamp}-{metadata['sha256'][:16]}.json"

    async def ensure_indexes(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        await super().ensure_indexes()
        try:
            await asyncio.to_thread(self._s3.head_bucket, Bucket=self._bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise ArchiveError(f"S3 bucket {self._bucket}: {exc}") from exc
            try:
                await asyncio.to_thread(self._s3.create_bucket, Bucket=self._bucket)
            except (BotoCoreError, ClientError) as create_exc:
                raise ArchiveError(f"cannot create S3 bucket {self._bucket}: {create_exc}") from (
                    create_exc
                )
        except BotoCoreError as exc:
            raise ArchiveError(f"S3 bucket {self._bucket}: {exc}") from exc

    async def put(self, result: FetchResult, lead_ids: Sequence[str]) -> ArchivedAnswer:
        from botocore.exceptions import BotoCoreError, ClientError

        metadata = _metadata(result, lead_ids)
        key = self.key_for(metadata)
        try:
            await asyncio.to_thread(
                self._s3.put_object,
                Bucket=self._bucket,
                Key=key,
                Body=result.raw,
                ContentType=CONTENT_TYPE,
                Metadata={"sha256": metadata["sha256"], "status-code": str(result.status_code)},
            )
        except (BotoCoreError, ClientError) as exc:
            raise ArchiveError(f"cannot archive the API answer in S3: {exc}") from exc
        # The object is written before its index entry: a failure leaves an unreferenced
        # object, never an entry without bytes.
        document = {"_id": ObjectId(), "key": key, "metadata": metadata}
        try:
            await self._index.insert_one(document)
        except PyMongoError as exc:
            raise ArchiveError(f"cannot index the archived answer: {exc}") from exc
        return _answer(document)

    async def _get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        def get() -> bytes:
            answer = self._s3.get_object(Bucket=self._bucket, Key=key)
            body = answer["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()

        async with self._reads:
            try:
                return await asyncio.to_thread(get)
            except (BotoCoreError, ClientError) as exc:
                raise ArchiveError(f"cannot read archived answer {key}: {exc}") from exc

    async def _read(self, documents: Sequence[Mapping[str, Any]]) -> dict[Any, bytes]:
        raws = await asyncio.gather(*(self._get(doc["key"]) for doc in documents))
        return {doc["_id"]: raw for doc, raw in zip(documents, raws, strict=True)}
