"""The lead and quarantine listings on in-memory repositories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadpersona.adapters.repositories import ImportedLead, LeadContact
from leadpersona.domain.runs import QuarantineReason, QuarantineRecord
from leadpersona.errors import InvalidInput
from leadpersona.services.lead_queries import list_leads, list_quarantine
from tests.fakes import InMemoryLeadRepository, InMemoryQuarantineRepository

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def rejected(batch: str, row: int, codes: list[str], *, minutes_ago: int) -> QuarantineRecord:
    return QuarantineRecord(
        id=f"{batch}:{row}",
        source="leads",
        batch_id=batch,
        location=f"{batch}.csv",
        row=row,
        line=row + 1,
        raw={"email": f"row{row}"},
        reasons=[QuarantineReason(code=code, message=f"{code} on row {row}") for code in codes],
        quarantined_at=NOW - timedelta(minutes=minutes_ago),
    )


@pytest.fixture
async def quarantine() -> InMemoryQuarantineRepository:
    repository = InMemoryQuarantineRepository()
    await repository.add(
        [
            rejected("a", 4, ["email_invalid", "status_not_integer"], minutes_ago=10),
            rejected("a", 2, ["email_invalid"], minutes_ago=10),
            rejected("b", 7, ["duplicate_in_file"], minutes_ago=1),
        ]
    )
    return repository


async def test_the_quarantine_lists_newest_first_with_reason_totals(
    quarantine: InMemoryQuarantineRepository,
) -> None:
    listing = await list_quarantine(quarantine, limit=2)

    assert listing.count == 3
    assert listing.by_reason == {
        "duplicate_in_file": 1,
        "email_invalid": 2,
        "status_not_integer": 1,
    }
    assert [(e.import_id, e.row) for e in listing.entries] == [("b", 7), ("a", 2)]
    assert (listing.entries[0].file, listing.entries[0].line) == ("b.csv", 8)


async def test_the_quarantine_of_one_import(quarantine: InMemoryQuarantineRepository) -> None:
    listing = await list_quarantine(quarantine, import_id="a")

    assert (listing.count, [e.row for e in listing.entries]) == (2, [2, 4])
    assert listing.by_reason == {"email_invalid": 2, "status_not_integer": 1}
    assert (await list_quarantine(quarantine, limit=0)).entries == []


async def test_leads_are_counted_and_the_first_listed_by_id() -> None:
    leads = InMemoryLeadRepository([LeadContact("c", "c@example.com"), LeadContact("a", None)])
    await leads.add_imported(
        [ImportedLead("b", {"email": "b@example.com", "status": 2, "first_name": "B"}, "f", 1)]
    )

    listing = await list_leads(leads, limit=2)

    assert listing.count == 3
    assert [(lead.id, lead.email, lead.status) for lead in listing.leads] == [
        ("a", None, 0),
        ("b", "b@example.com", 2),
    ]
    assert (await list_leads(leads, limit=0)).leads == []


@pytest.mark.parametrize("limit", [-1, 10_001])
async def test_a_limit_out_of_range_is_refused(limit: int) -> None:
    with pytest.raises(InvalidInput, match="limit must be between 0 and 10000"):
        await list_leads(InMemoryLeadRepository(), limit=limit)
    with pytest.raises(InvalidInput):
        await list_quarantine(InMemoryQuarantineRepository(), limit=limit)
