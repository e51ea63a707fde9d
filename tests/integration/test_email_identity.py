"""One email identity: init and enrich on leads that share an email in any letter case."""

from __future__ import annotations

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.bootstrap import mongo_repositories, run_enrichment
from leadpersona.config import Settings
from leadpersona.services.setup import initialise
from tests.integration.test_enrichment_pipeline import leads, mock_client


async def test_init_reports_shared_emails_and_enrich_serves_each_lead(
    settings_env: Settings, database: MongoDatabase
) -> None:
    rows = leads(6)
    rows[1]["email"] = rows[0]["email"].upper()
    rows[2]["email"] = f"  {rows[0]['email'].title()} "
    rows[4]["email"] = rows[3]["email"]
    await database["leads"].insert_many(rows)

    repositories = mongo_repositories(database)
    report = await initialise(settings_env, repositories, database=database.name)
    shared = report.shared_emails
    assert (shared.emails, shared.leads) == (2, 5)
    assert shared.examples[0]["lead_ids"] == ["p00000", "p00001", "p00002"]
    assert await initialise(settings_env, repositories, database=database.name) == report

    async with mock_client() as client:
        summary = await run_enrichment(settings_env, database, client=client, batch_size=4)
    assert summary.processed == 6
    assert summary.api_calls == 3  # one per person, whatever the spelling or the page
    personas = {p["_id"]: p async for p in database["personas"].find()}
    assert set(personas) == {row["_id"] for row in rows}
    assert personas["p00000"]["archive_id"] == personas["p00002"]["archive_id"]
    assert personas["p00000"]["features"] == personas["p00001"]["features"]
