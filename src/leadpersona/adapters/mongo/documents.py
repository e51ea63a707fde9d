"""Beanie documents: the storage models. Domain models live in ``leadpersona.domain``."""

from __future__ import annotations

from beanie import Document
from pydantic import ConfigDict, Field
from pymongo import ASCENDING, IndexModel

from leadpersona.adapters.mongo.persona_documents import (
    EnrichmentStateDocument,
    PersonaDocument,
    RunDocument,
)
from leadpersona.domain.models import Lead

__all__ = ["DOCUMENT_MODELS", "LeadDocument"]


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


#: Every document class ``init_beanie`` is given; extended as features are added.
DOCUMENT_MODELS: list[type[Document]] = [
    LeadDocument,
    PersonaDocument,
    EnrichmentStateDocument,
    RunDocument,
]
