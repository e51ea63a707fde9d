"""Beanie documents: the storage models. Domain models live in ``leadpersona.domain``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from leadpersona.adapters.mongo.persona_documents import (
    EnrichmentStateDocument,
    PersonaDocument,
    RunDocument,
)
from leadpersona.domain.models import Lead

__all__ = [
    "DOCUMENT_MODELS",
    "ImportDocument",
    "LeadDocument",
    "QuarantineDocument",
    "QuarantineReasonModel",
]


class LeadDocument(Document):
    """A lead (collection ``leads``), possibly written by another system.

    Unknown fields written by other systems are kept on read and left untouched on write.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(alias="_id")  # type: ignore[assignment]
    status: int = 0
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    photo_url: str | None = None

    class Settings:
        name = "leads"
        use_revision = False
        indexes = [IndexModel([("email", ASCENDING)], name="email")]

    def to_domain(self) -> Lead:
        """The domain view of this document."""
        return Lead(
            id=self.id,
            status=self.status,
            first_name=self.first_name,
            last_name=self.last_name,
            email=self.email,
            photo_url=self.photo_url,
        )


class ImportDocument(Document):
    """One lead file import (collection ``imports``), keyed by the file's SHA-256.

    ``status`` is ``running`` until the last batch is written, then ``complete``; the counters
    and ``rows_done`` are saved after every batch so that an interrupted import resumes.
    """

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(alias="_id")  # type: ignore[assignment]
    file: str
    status: str = "running"
    delimiter: str
    columns: list[str]
    extra_columns: list[str] = Field(default_factory=list)
    records: int = 0
    rows_done: int = 0
    read: int = 0
    blank_rows: int = 0
    inserted: int = 0
    duplicates_in_file: int = 0
    duplicates_existing: int = 0
    quarantined: int = 0
    by_reason: dict[str, int] = Field(default_factory=dict)
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    runs: int = 1

    class Settings:
        name = "imports"
        use_revision = False
        indexes = [IndexModel([("started_at", DESCENDING)], name="started_at")]


class QuarantineReasonModel(BaseModel):
    """One reason a row was rejected."""

    code: str
    field: str | None = None
    message: str


class QuarantineDocument(Document):
    """A rejected row of a lead file (collection ``quarantine``), with every reason.

    ``_id`` is ``<import id>:<row>``, so re-running an interrupted import writes it once.
    """

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(alias="_id")  # type: ignore[assignment]
    import_id: str
    file: str
    row: int
    line: int
    raw: dict[str, Any]
    reasons: list[QuarantineReasonModel]
    quarantined_at: datetime

    class Settings:
        name = "quarantine"
        use_revision = False
        indexes = [
            IndexModel([("import_id", ASCENDING), ("row", ASCENDING)], name="import_row"),
            IndexModel([("quarantined_at", DESCENDING), ("row", ASCENDING)], name="recent"),
        ]


#: Every document class ``init_beanie`` is given; extended as features are added.
DOCUMENT_MODELS: list[type[Document]] = [
    LeadDocument,
    ImportDocument,
    QuarantineDocument,
    PersonaDocument,
    EnrichmentStateDocument,
    RunDocument,
    ImportDocument,
    QuarantineDocument,
]
