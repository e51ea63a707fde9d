"""``leads seed`` and ``init`` on in-memory repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadpersona.adapters.repositories import LeadContact
from leadpersona.config import Settings
from leadpersona.domain.samples import DEMO_EMAIL
from leadpersona.errors import InvalidInput
from leadpersona.services.seed import seed_leads, synthetic_lead
from leadpersona.services.setup import initialise
from tests.fakes import InMemoryLeadRepository, in_memory_repositories


async def test_seeding_adds_only_the_missing_leads() -> None:
    leads = InMemoryLeadRepository()
    first = await seed_leads(leads, 30)
    assert (first.inserted, first.existing) == (30, 0)
    again = await seed_leads(leads, 45)
    assert (again.inserted, again.existing) == (15, 30)
    assert await leads.count() == 45
    [demo] = [lead for lead in await leads.first_by_id(45) if lead.email == DEMO_EMAIL]
    assert (demo.id, demo.first_name) == (synthetic_lead(0)["_id"], synthetic_lead(0)["first_name"])


async def test_a_stored_lead_with_the_demo_email_is_the_demo_lead() -> None:
    leads = InMemoryLeadRepository([LeadContact("d" * 32, DEMO_EMAIL.upper())])
    report = await seed_leads(leads, 5)
    assert (report.inserted, report.existing) == (4, 1)
    assert [c.email for c in leads.leads.values()].count(DEMO_EMAIL) == 0  # not added twice


async def test_the_count_is_checked() -> None:
    with pytest.raises(InvalidInput, match="count must be between 1 and"):
        await seed_leads(InMemoryLeadRepository(), 0)


async def test_init_creates_collections_and_reports_shared_emails(tmp_path: Path) -> None:
    repositories = in_memory_repositories(
        [LeadContact("a", "ann@example.com"), LeadContact("b", "ANN@example.com")]
    )
    settings = Settings(_env_file=None, data_dir=tmp_path)

    report = await initialise(settings, repositories, database="crm")

    assert report.database == "crm"
    assert [c.name for c in report.collections] == sorted(c.name for c in report.collections)
    assert (report.shared_emails.emails, report.shared_emails.leads) == (1, 2)
    assert report.mapping_csv.is_file()
    assert await initialise(settings, repositories, database="crm") == report
