"""The lead import service on in-memory repositories (files are real, on disk)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from leadpersona.adapters.repositories import LeadContact
from leadpersona.services.lead_import import import_lead_file, lead_id_for_row
from tests.fakes import (
    InMemoryImportLedger,
    InMemoryLeadRepository,
    InMemoryQuarantineRepository,
    InMemoryRunRepository,
    in_memory_repositories,
)

HEADER = ["first_name", "last_name", "email", "photo_url", "status"]
ROWS = [
    ["Ada", "Lovelace", "ada@Example.COM", "", "1"],  # 1
    ["Bob", "", "bob@example.com", "", ""],  # 2
    ["", "", " ADA@example.com", "", ""],  # 3 duplicate of row 1
    ["Bad", "", "not-an-email", "", "x"],  # 4 two reasons
    ["Old", "", "old@example.com", "", "0"],  # 5 an existing lead's email
    ["", "", "", "", ""],  # 6 blank
]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode())
    return path


class Stores:
    def __init__(self) -> None:
        self.repositories = in_memory_repositories([LeadContact("old-1", "Old@example.com")])
        assert isinstance(self.repositories.leads, InMemoryLeadRepository)
        assert isinstance(self.repositories.imports, InMemoryImportLedger)
        assert isinstance(self.repositories.quarantine, InMemoryQuarantineRepository)
        assert isinstance(self.repositories.runs, InMemoryRunRepository)
        self.leads = self.repositories.leads
        self.imports = self.repositories.imports
        self.quarantine = self.repositories.quarantine
        self.runs = self.repositories.runs


@pytest.fixture
def stores() -> Stores:
    return Stores()


async def test_an_import_adds_valid_leads_and_quarantines_the_rest(
    stores: Stores, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "leads.csv", ROWS)
    report = await import_lead_file(stores.repositories, path, batch_size=2)

    assert (report.read, report.blank_rows, report.inserted, report.quarantined) == (5, 1, 2, 3)
    assert (report.duplicates_in_file, report.duplicates_existing) == (1, 1)
    assert report.by_reason == {
        "duplicate_existing": 1,
        "duplicate_in_file": 1,
        "email_invalid": 1,
        "status_not_integer": 1,
    }
    ada = stores.leads.imported[lead_id_for_row(report.sha256, 1)]
    assert (ada.fields["email"], ada.fields["status"], ada.row) == ("ada@example.com", 1, 1)
    assert sorted(stores.leads.email_keys) == [
        "ada@example.com",
        "bob@example.com",
        "old@example.com",
    ]
    assert stores.leads.email_keys["old@example.com"] == "old-1"  # registered before importing
    assert stores.leads.bulk_writes == 1  # rows 1-2 in one write; later batches add nothing
    records = {r.row: r for r in stores.quarantine.records.values()}
    assert sorted(records) == [3, 4, 5]
    assert records[3].reasons[0].message == "ADA@example.com already in row 1"
    assert [r.code for r in records[4].reasons] == ["email_invalid", "status_not_integer"]
    (run,) = stores.runs.runs.values()
    assert (run.kind, run.status, run.counts["inserted"]) == ("import", "completed", 2)
    assert stores.imports.imports[report.sha256]["status"] == "complete"


async def test_a_file_is_imported_once(stores: Stores, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "leads.csv", ROWS)
    await import_lead_file(stores.repositories, path)
    renamed = write_csv(tmp_path / "again.csv", ROWS)

    again = await import_lead_file(stores.repositories, renamed)

    assert again.already_imported
    assert again.inserted == 0
    assert len(stores.runs.runs) == 1


async def test_a_dry_run_forecasts_and_writes_nothing(stores: Stores, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "leads.csv", ROWS)
    await stores.leads.register_email_keys()  # as setup does: a dry run only reads the keys

    forecast = await import_lead_file(stores.repositories, path, dry_run=True, batch_size=2)

    assert (forecast.inserted, forecast.quarantined, forecast.dry_run) == (2, 3, True)
    assert stores.leads.imported == {}
    assert stores.quarantine.records == {}
    assert stores.imports.imports == {}
    assert stores.runs.runs == {}
    real = await import_lead_file(stores.repositories, path, batch_size=2)
    assert (real.inserted, real.quarantined) == (forecast.inserted, forecast.quarantined)


class Interrupted(Exception):
    pass


def stop_at(rows: int) -> Callable[[int, int], None]:
    def progress(done: int, _total: int) -> None:
        if done >= rows:
            raise Interrupted

    return progress


async def test_an_interrupted_import_resumes_after_its_checkpoint(
    stores: Stores, tmp_path: Path
) -> None:
    rows = [[f"N{i}", "", f"u{i % 7}@example.com", "", str(i % 3)] for i in range(30)]
    path = write_csv(tmp_path / "big.csv", rows)
    reference = await import_lead_file(Stores().repositories, path, batch_size=4)

    with pytest.raises(Interrupted):
        await import_lead_file(stores.repositories, path, batch_size=4, on_progress=stop_at(8))
    assert stores.imports.imports[reference.sha256]["rows_done"] == 8
    assert [r.status for r in stores.runs.runs.values()] == ["failed"]

    resumed = await import_lead_file(stores.repositories, path, batch_size=5)

    assert resumed.resumed_from_row == 8
    assert (resumed.read, resumed.inserted, resumed.quarantined) == (30, 7, 23)
    assert (resumed.read, resumed.inserted) == (reference.read, reference.inserted)
    assert len(stores.leads.imported) == 7
    assert stores.imports.imports[reference.sha256]["runs"] == 2
