"""The ledger of lead file imports in MongoDB (collection ``imports``, ``_id`` = file SHA-256)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.repositories import (
    ImportLedger,
    ImportProgress,
    LoggedImport,
    NewImport,
)

__all__ = ["IMPORTS", "MongoImportLedger"]

IMPORTS = "imports"


class MongoImportLedger(ImportLedger):
    """``imports``: one document per file, its counters at the top level."""

    def __init__(self, database: MongoDatabase) -> None:
        self.collection = database[IMPORTS]

    async def find(self, sha256: str) -> LoggedImport | None:
        document = await self.collection.find_one({"_id": sha256})
        if document is None:
            return None
        return LoggedImport(sha256, str(document.get("status")), document.get("finished_at"))

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
