"""The ledger of lead file imports in MongoDB (collection ``imports``, ``_id`` = file SHA-256)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.repositories import (
    IMPORT_COUNTERS,
    ImportLedger,
    ImportProgress,
    LoggedImport,
    NewImport,
)

__all__ = ["IMPORTS", "MongoImportLedger"]

IMPORTS = "imports"


def _logged(document: dict[str, Any]) -> LoggedImport:
    return LoggedImport(
        sha256=str(document["_id"]),
        status=str(document.get("status") or "unknown"),
        finished_at=document.get("finished_at"),
        file=str(document.get("file") or ""),
        started_at=document.get("started_at"),
        counters={name: int(document.get(name) or 0) for name in IMPORT_COUNTERS},
    )


class MongoImportLedger(ImportLedger):
    """``imports``: one document per file, its counters at the top level."""

    def __init__(self, database: MongoDatabase) -> None:
        self.collection = database[IMPORTS]

    async def find(self, sha256: str) -> LoggedImport | None:
        document = await self.collection.find_one({"_id": sha256})
        return None if document is None else _logged(document)

    async def recent(self, limit: int) -> list[LoggedImport]:
        cursor = self.collection.find({}, sort=[("started_at", DESCENDING)], limit=limit)
        return [_logged(document) async for document in cursor]

    async def start_or_resume(self, new: NewImport) -> ImportProgress | None:
        document: dict[str, Any] = {
            "_id": new.sha256,
            "file": new.file,
            "status": "running",
            "delimiter": new.delimiter,
            "columns": new.columns,
            "extra_columns": new.extra_columns,
            "records": new.records,
            "rows_done": 0,
            **new.counters,
            "by_reason": {},
            "started_at": new.started_at,
            "updated_at": new.started_at,
            "finished_at": None,
            "runs": 1,
        }
        try:
            await self.collection.insert_one(document)
            return None
        except DuplicateKeyError:
            pass
        previous = await self.collection.find_one_and_update(
            {"_id": new.sha256},
            {"$inc": {"runs": 1}, "$set": {"updated_at": datetime.now(UTC)}},
        )
        if previous is None:  # removed meanwhile: start afresh
            return await self.start_or_resume(new)
        return ImportProgress(
            counters={name: int(previous.get(name, 0)) for name in new.counters},
            by_reason=dict(previous.get("by_reason", {})),
            rows_done=int(previous.get("rows_done", 0)),
        )

    async def checkpoint(self, sha256: str, *, counters: dict[str, Any], rows_done: int) -> None:
        await self.collection.update_one(
            {"_id": sha256},
            {"$set": {**counters, "rows_done": rows_done, "updated_at": datetime.now(UTC)}},
        )

    async def complete(self, sha256: str, *, at: datetime) -> None:
        await self.collection.update_one(
            {"_id": sha256},
            {"$set": {"status": "complete", "finished_at": at, "updated_at": at}},
        )
