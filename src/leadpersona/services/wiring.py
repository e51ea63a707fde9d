"""What ``bootstrap`` hands to a use case that needs more than the repositories."""

from __future__ import annotations

from dataclasses import dataclass

from leadpersona.adapters.archive import RawArchive
from leadpersona.adapters.enrichment_client import EnrichmentClient
from leadpersona.adapters.repositories import Repositories
from leadpersona.mapping import FieldMapStore

__all__ = ["Wired"]


@dataclass(frozen=True)
class Wired:
    """Connected adapters: the repositories, the raw archive, the field-of-study mapping and
    an open enrichment API client."""

    repositories: Repositories
    archive: RawArchive
    field_maps: FieldMapStore
    client: EnrichmentClient
