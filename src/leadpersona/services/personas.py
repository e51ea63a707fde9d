"""Persona use cases: get, update, find, count, stats (shared by the CLI and the HTTP API)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from leadpersona.adapters.repositories import Repositories
from leadpersona.domain.persona import (
    FeatureValue,
    Persona,
    PersonaQuery,
    validate_feature,
    validate_features,
)
from leadpersona.domain.persona_stats import summarise
from leadpersona.errors import InvalidFeature, InvalidInput

__all__ = ["MAX_PAGE", "PersonaService", "parse_assignment"]

MAX_PAGE = 10_000


def parse_assignment(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` from the command line; VALUE is read as a JSON scalar when it is one
    (``5``, ``true``, ``"5"``), otherwise as text."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise InvalidInput(f"expected NAME=VALUE, got {text!r}")
    value: Any = raw
    try:
        parsed = json.loads(raw)
    except ValueError:
        pass
    else:
        if isinstance(parsed, str | int | float | bool):
            value = parsed
    return name.strip(), value


class PersonaService:
    """Everything a user does with personas, through the repositories."""

    def __init__(self, repositories: Repositories) -> None:
        self.repositories = repositories
        self.store = repositories.personas

    async def get(self, lead_id: str) -> Persona:
        return await self.store.get(lead_id)

    async def update(self, lead_id: str, changes: Mapping[str, Any]) -> Persona:
        """Validated partial update by hand (None removes); recorded as an override."""
        if not changes:
            raise InvalidInput("nothing to update: give at least one feature")
        return await self.store.update(lead_id, validate_features(changes))

    @staticmethod
    def query(
        *,
        academic_field: str | None = None,
        company_type: str | None = None,
        features: Mapping[str, Any] | None = None,
    ) -> PersonaQuery:
        """A validated query: values are normalised exactly as stored."""
        wanted: dict[str, Any] = dict(features or {})
        for name, value in (("academic_field", academic_field), ("company_type", company_type)):
            if value is not None:
                if name in wanted and wanted[name] != value:
                    raise InvalidInput(f"{name} given twice with different values")
                wanted[name] = value
        values: dict[str, FeatureValue] = {}
        for name, value in wanted.items():
            if value is None:
                raise InvalidFeature(f"feature {name!r} needs a value")
            values[name] = validate_feature(name, value)
        return PersonaQuery(features=values)

    async def find(
        self, query: PersonaQuery, *, after: str | None = None, limit: int = 1000
    ) -> tuple[list[str], str | None]:
        """One page of lead ids and the cursor of the next page (None at the end)."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
        ids = await self.store.find_ids(query, after=after, limit=limit + 1)
        if len(ids) > limit:
            return ids[:limit], ids[limit - 1]
        return ids, None

    def stream(self, query: PersonaQuery) -> AsyncIterator[str]:
        return self.store.iter_ids(query)

    async def count(self, query: PersonaQuery) -> int:
        return await self.store.count(query)

    async def stats(self) -> dict[str, Any]:
        """Counts by academic field x company type, coverage, unknown rates, inferred share."""
        return summarise(
            await self.store.group_counts(),
            await self.repositories.enrichment_states.state_counts(),
            await self.repositories.leads.count(),
        )
