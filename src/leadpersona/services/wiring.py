"""What ``bootstrap`` hands to a use case that needs more than the repositories."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date

from leadpersona.adapters.archive import RawArchive
from leadpersona.adapters.enrichment_client import EnrichmentClient
from leadpersona.adapters.repositories import Repositories
from leadpersona.mapping import FieldMapStore
from leadpersona.sales.records import SalesSource

__all__ = ["SalesSources", "SourceFactory", "SourceWindow", "Wired"]


@dataclass(frozen=True)
class Wired:
    """Connected adapters: the repositories, the raw archive, the field-of-study mapping and
    an open enrichment API client."""

    repositories: Repositories
    archive: RawArchive
    field_maps: FieldMapStore
    client: EnrichmentClient


@dataclass(frozen=True)
class SourceWindow:
    """What a sales load opens a source for: the API's day range, and the stack that closes
    what the source opened (clients, engines) when the load is done."""

    start_date: date
    end_date: date
    stack: AsyncExitStack


#: Opens one sales source for a load (``bootstrap.sales_sources`` builds them from settings).
SourceFactory = Callable[[SourceWindow], Awaitable[SalesSource]]
#: The sources a load reads, by name (``SOURCE_NAMES``), in the order they are loaded.
SalesSources = Mapping[str, SourceFactory]
