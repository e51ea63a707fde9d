"""Beanie documents of the persona side: personas, per-lead enrichment state, runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from leadpersona.domain.persona import Persona, PersonaFields

__all__ = [
    "FEATURE_INDEX_NAME",
    "EnrichmentState",
    "EnrichmentStateDocument",
    "PersonaDocument",
    "RunDocument",
]

#: The one index every persona query by feature uses (named so queries can hint it).
FEATURE_INDEX_NAME = "feature_index_id"

EnrichmentState = Literal["pending", "enriched", "no_data", "failed"]


class PersonaDocument(Document, PersonaFields):
    """Collection ``personas``: ``_id`` is the lead id (one persona per lead).

    ``feature_index`` holds ``name=<canonical JSON value>`` for every feature: one multikey
    index serves equality on any feature, including features added after the data was written.
    """

    id: str = Field(alias="_id")  # type: ignore[assignment]
    feature_index: list[str] = Field(default_factory=list)
    revision: str | None = Field(default=None, description="changes on every write")

    class Settings:
        name = "personas"
        use_revision = False
        indexes = [
            IndexModel([("feature_index", ASCENDING), ("_id", ASCENDING)], name=FEATURE_INDEX_NAME),
            # The warehouse sync reads personas changed since its watermark in this order.
            IndexModel([("updated_at", ASCENDING), ("_id", ASCENDING)], name="updated_id"),
        ]

    def to_domain(self) -> Persona:
        """The domain view."""
        data = self.model_dump(exclude={"id", "feature_index", "revision", "revision_id"})
        return Persona(lead_id=self.id, **data)


class EnrichmentStateDocument(Document):
    """Collection ``enrichment``: where each lead stands, so that re-runs retry only failures."""

    id: str = Field(alias="_id")  # type: ignore[assignment]
    state: EnrichmentState = "pending"
    attempts: int = 0
    last_error: str | None = None
    email: str | None = None
    run_id: str | None = None
    updated_at: datetime | None = None

    class Settings:
        name = "enrichment"
        use_revision = False
        indexes = [IndexModel([("state", ASCENDING), ("_id", ASCENDING)], name="state_id")]


class RunDocument(Document):
    """Collection ``runs``: the run ledger, one document per run of any kind.

    The shape is ``domain.runs.RunRecord``; ``adapters.mongo.runs.MongoRunRepository`` writes
    it, also copying ``details`` to the top level (``refresh``, ``limit``, ``settings``).
    """

    id: str = Field(alias="_id")  # type: ignore[assignment]
    kind: str = "enrich"
    parent_id: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    status: Literal["running", "completed", "failed", "aborted"] = "running"
    details: dict[str, Any] = Field(default_factory=dict)
    refresh: bool = False
    limit: int | None = None
    counts: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    errors: list[dict[str, str]] = Field(default_factory=list)
    error: str | None = None

    class Settings:
        name = "runs"
        use_revision = False
        indexes = [
            IndexModel([("started_at", DESCENDING)], name="started_at"),
            IndexModel([("parent_id", ASCENDING), ("started_at", ASCENDING)], name="parent"),
        ]
