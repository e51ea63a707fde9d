"""``leadpersona init``: collections, indexes and the working copy of the mapping CSV."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from leadpersona.adapters.field_map_csv import ensure_working_copy
from leadpersona.adapters.repositories import CollectionInfo, Repositories, SharedEmails
from leadpersona.config import Settings

__all__ = ["CollectionInfo", "InitReport", "initialise"]


class InitReport(BaseModel):
    """What ``init`` left in place."""

    database: str
    collections: list[CollectionInfo]
    shared_emails: SharedEmails
    mapping_csv: Path


async def initialise(
    settings: Settings, repositories: Repositories, *, database: str
) -> InitReport:
    """Create every collection and index (idempotent) and the mapping CSV's working copy.

    Indexes are created when the database is opened; this adds the collections that have no
    document yet, so that a fresh database (named ``database``) looks complete, and gives every
    lead's email key an owner (``LeadRepository.register_email_keys``): leads that share an
    email are reported, not refused.
    """
    await repositories.setup.create_missing()
    shared = await repositories.leads.register_email_keys()
    collections = await repositories.setup.describe()
    csv_path = ensure_working_copy(settings.mapping_csv_path)
    return InitReport(
        database=database,
        collections=collections,
        mapping_csv=csv_path,
        shared_emails=shared,
    )
