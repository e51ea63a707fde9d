"""The dashboard's MongoDB side (stats, enrichment runs, quarantine, imports, ledger) on
in-memory repositories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadpersona.adapters.field_map_csv import ensure_working_copy
from leadpersona.adapters.repositories import LeadContact, NewImport
from leadpersona.config import Settings
from leadpersona.domain.runs import QuarantineReason, QuarantineRecord, RunRecord
from leadpersona.errors import WarehouseError
from leadpersona.mapping import FieldMapStore
from leadpersona.services.dashboard import RUN_ERRORS_SHOWN, collect_dashboard
from tests.fakes import in_memory_repositories

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def rejected(row: int, codes: list[str]) -> QuarantineRecord:
    return QuarantineRecord(
        id=f"f:{row}",
        source="leads",
        batch_id="f",
        location="leads.csv",
        row=row,
        raw={},
        reasons=[QuarantineReason(code=code, message=code) for code in codes],
        quarantined_at=T0,
    )


async def test_the_dashboard_reads_everything_through_the_repositories(tmp_path: str) -> None:
    repositories = in_memory_repositories([LeadContact("l1"), LeadContact("l2")])
    errors = [{"lead_id": f"l{i}", "error": "boom"} for i in range(RUN_ERRORS_SHOWN + 5)]
    await repositories.runs.start(
        RunRecord(
            id="old",
            kind="enrich",
            status="completed",
            started_at=T0,
            finished_at=T0 + timedelta(seconds=90),
            counts={"failed": 40},
            errors=errors,
            details={"refresh": True, "limit": 7},
        )
    )
    await repositories.runs.start(
        RunRecord(id="sync", kind="warehouse_sync", started_at=T0 + timedelta(hours=1))
    )
    await repositories.quarantine.add(
        [rejected(1, ["email_invalid", "status_not_integer"]), rejected(2, ["email_invalid"])]
    )
    await repositories.imports.start_or_resume(
        NewImport(
            sha256="f",
            file="leads.csv",
            delimiter=",",
            columns=["email"],
            extra_columns=[],
            records=3,
            counters={"read": 3, "inserted": 1, "duplicates_in_file": 0},
            started_at=T0,
        )
    )
    await repositories.imports.checkpoint(
        "f",
        counters={"read": 3, "inserted": 1, "duplicates_in_file": 1, "quarantined": 2},
        rows_done=3,
    )
    settings = Settings(_env_file=None, data_dir=tmp_path)

    field_maps = FieldMapStore(ensure_working_copy(settings.mapping_csv_path), encoder=None)
    data = await collect_dashboard(
        repositories,
        field_maps,
        database="demo",
        warehouse=WarehouseError("no warehouse in this test"),
    )

    assert data.database == "demo"
    assert data.stats["total_leads"] == 2
    [run] = data.runs  # enrichment runs only
    assert (run.id, run.refresh, run.limit, run.duration_seconds) == ("old", True, 7, 90.0)
    assert (run.failures, len(run.errors)) == (40, RUN_ERRORS_SHOWN)
    assert [entry.id for entry in data.ledger] == ["sync", "old"]
    assert data.quarantine.total == 2
    assert list(data.quarantine.by_reason.items()) == [
        ("email_invalid", 2),
        ("status_not_integer", 1),
    ]
    [logged] = data.quarantine.imports
    assert (logged.file, logged.read, logged.duplicates, logged.quarantined) == (
        "leads.csv",
        3,
        1,
        2,
    )
