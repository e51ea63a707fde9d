"""Database commands per lead must not grow with the number of leads (command monitoring)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pymongo import AsyncMongoClient, monitoring

from leadpersona.adapters.mongo.connection import connect
from leadpersona.bootstrap import run_enrichment
from leadpersona.config import Settings
from tests.integration.test_enrichment_pipeline import leads, mock_client


class _Commands(monitoring.CommandListener):
    def __init__(self, database: str) -> None:
        self.database = database
        self.counts: Counter[str] = Counter()
        self.active = True

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.active and event.database_name == self.database:
            self.counts[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def _commands_for(settings: Settings, mongo_uri: str, count: int) -> Counter[str]:
    name = f"{settings.mongodb_db}_{count}"
    raw: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    await raw[name]["leads"].insert_many(leads(count))
    await raw.close()
    listener = _Commands(name)
    monitoring.register(listener)
    try:
        async with connect(mongo_uri, name) as database:
            async with mock_client() as client:
                summary = await run_enrichment(settings, database, client=client, batch_size=20)
            assert summary.processed == count
            listener.active = False
            await database.client.drop_database(name)
    finally:
        listener.active = False
    return listener.counts


async def test_commands_per_lead_do_not_grow_with_leads(
    settings_env: Settings, mongo_uri: str
) -> None:
    small = await _commands_for(settings_env, mongo_uri, 40)
    large = await _commands_for(settings_env, mongo_uri, 200)
    per_lead_small = sum(small.values()) / 40
    per_lead_large = sum(large.values()) / 200
    assert per_lead_large <= per_lead_small, (small, large)
    # A constant number of commands per page of 20 leads, none per lead: writing each answer
    # on its own (a GridFS upload is at least two inserts) would be two or more per lead.
    assert per_lead_large < 1.0, large
    extra_pages = (200 - 40) // 20
    for command, n in large.items():
        assert n - small[command] <= 5 * extra_pages, (command, small, large)
