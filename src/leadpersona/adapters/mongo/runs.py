"""The run ledger and the lead quarantine in MongoDB (collections ``runs`` and ``quarantine``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReplaceOne
from pymongo.errors import PyMongoError

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.repositories import (
    NO_REASON,
    QuarantineRepository,
    RunRepository,
    RunTally,
)
from leadpersona.domain.runs import QuarantineRecord, RunKind, RunRecord, RunStatus

__all__ = ["ENRICH_RUNS", "MongoQuarantineRepository", "MongoRunRepository"]

RUNS = "runs"
QUARANTINE = "quarantine"

#: The filter for enrichment runs (runs recorded before the ledger had kinds were all enrich).
ENRICH_RUNS: dict[str, Any] = {"$or": [{"kind": "enrich"}, {"kind": {"$exists": False}}]}


def _to_record(document: dict[str, Any]) -> RunRecord:
    data = dict(document)
    data["id"] = data.pop("_id")
    # Runs recorded before the ledger had kinds were all enrichment runs.
    data.setdefault("kind", "enrich")
    details = dict(data.get("details") or {})
    for legacy in ("refresh", "limit", "settings"):
        if legacy in data:
            details.setdefault(legacy, data.pop(legacy))
    data["details"] = details
    return RunRecord.model_validate(data)


class MongoRunRepository(RunRepository):
    """``runs``: one document per run; ``details`` keys are also kept at the top level."""

    def __init__(self, database: MongoDatabase) -> None:
        self.collection = database[RUNS]

    async def start(self, run: RunRecord) -> None:
        document = run.model_dump(exclude={"id"})
        document["_id"] = run.id
        # Top-level copies of the parameters, as runs were stored before the ledger.
        for key, value in run.details.items():
            document.setdefault(key, value)
        await self.collection.insert_one(document)

    async def checkpoint(
        self, run_id: str, *, counts: dict[str, Any], errors: list[dict[str, str]]
    ) -> None:
        await self.collection.update_one(
            {"_id": run_id}, {"$set": {"counts": counts, "errors": errors}}
        )

    async def finish(
        self,
        run_id: str,
        *,
        status: RunStatus,
        finished_at: datetime,
        counts: dict[str, Any],
        errors: list[dict[str, str]],
        error: str | None,
    ) -> None:
        await self.collection.update_one(
            {"_id": run_id},
            {
                "$set": {
                    "status": status,
                    "finished_at": finished_at,
                    "counts": counts,
                    "errors": errors,
                    "error": error,
                }
            },
        )

    async def get(self, run_id: str) -> RunRecord | None:
        document = await self.collection.find_one({"_id": run_id})
        return None if document is None else _to_record(document)

    async def recent(self, limit: int, *, kind: RunKind | None = None) -> list[RunRecord]:
        query: dict[str, Any] = {}
        if kind == "enrich":
            query = ENRICH_RUNS
        elif kind is not None:
            query = {"kind": kind}
        cursor = self.collection.find(query, sort=[("started_at", DESCENDING)], limit=limit)
        return [_to_record(document) async for document in cursor]

    async def children(self, parent_id: str) -> list[RunRecord]:
        cursor = self.collection.find({"parent_id": parent_id}, sort=[("started_at", 1)])
        return [_to_record(document) async for document in cursor]

    async def add_alert(self, run_id: str, alert: dict[str, Any]) -> None:
        await self.collection.update_one({"_id": run_id}, {"$push": {"alerts": alert}})

    async def tally(self) -> RunTally:
        tally = RunTally()
        kind = {"$ifNull": ["$kind", "enrich"]}
        runs: list[dict[str, Any]] = [
            {"$group": {"_id": {"kind": kind, "status": "$status"}, "n": {"$sum": 1}}}
        ]
        async for row in await self.collection.aggregate(runs):
            key = (str(row["_id"]["kind"]), str(row["_id"]["status"]))
            tally.runs[key] = tally.runs.get(key, 0) + int(row["n"])
        alerts: list[dict[str, Any]] = [
            {"$match": {"alerts.0": {"$exists": True}}},
            {"$unwind": "$alerts"},
            {"$group": {"_id": "$alerts.kind", "n": {"$sum": 1}}},
        ]
        async for row in await self.collection.aggregate(alerts):
            tally.alerts[str(row["_id"])] = int(row["n"])
        return tally

    def stops_run(self, exc: BaseException) -> bool:
        return isinstance(exc, PyMongoError)


class MongoQuarantineRepository(QuarantineRepository):
    """``quarantine``: lead rows keep their historical field names (``import_id``, ``file``)."""

    def __init__(self, database: MongoDatabase) -> None:
        self.collection = database[QUARANTINE]

    async def add(self, records: Sequence[QuarantineRecord]) -> None:
        if not records:
            return
        operations = []
        for record in records:
            document = record.model_dump(exclude={"id", "batch_id", "location"})
            document.update(_id=record.id, import_id=record.batch_id, file=record.location)
            operations.append(ReplaceOne({"_id": record.id}, document, upsert=True))
        await self.collection.bulk_write(operations, ordered=False)

    @staticmethod
    def _query(batch_id: str | None) -> dict[str, Any]:
        return {} if batch_id is None else {"import_id": batch_id}

    async def count(self, *, batch_id: str | None = None) -> int:
        return await self.collection.count_documents(self._query(batch_id))

    async def reason_counts(self, *, batch_id: str | None = None) -> dict[str, int]:
        pipeline: list[dict[str, Any]] = [
            {"$match": self._query(batch_id)},
            {"$unwind": "$reasons"},
            {"$group": {"_id": "$reasons.code", "n": {"$sum": 1}}},
        ]
        counts: dict[str, int] = {}
        async for group in await self.collection.aggregate(pipeline):
            code = NO_REASON if group["_id"] is None else str(group["_id"])
            counts[code] = counts.get(code, 0) + int(group["n"])
        return counts

    async def newest(self, limit: int, *, batch_id: str | None = None) -> list[QuarantineRecord]:
        if limit <= 0:
            return []
        cursor = (
            self.collection.find(self._query(batch_id))
            .sort([("quarantined_at", DESCENDING), ("row", ASCENDING)])
            .limit(limit)
        )
        records = []
        async for document in cursor:
            data = dict(document)
            data["id"] = str(data.pop("_id"))
            data["batch_id"] = data.pop("import_id", "")
            data["location"] = data.pop("file", "")
            data.setdefault("source", "leads")
            records.append(QuarantineRecord.model_validate(data))
        return records
