"""Data the dashboard tests share: leads, personas, enrichment states, runs, quarantine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.adapters.mongo.persona_store import PersonaStore
from leadpersona.domain.persona import FeatureProvenance, Persona

__all__ = ["EXPECTED", "RUNS", "seed_dashboard"]

#: (lead id, academic field, company type, academic field source); None source: no data.
PERSONAS: list[tuple[str, str | None, str | None, str | None]] = [
    ("lead-a", "engineering", "Startup", "mapping"),
    ("lead-b", "engineering", "Startup", "mapping"),
    ("lead-c", "business", "Mid Market", "inferred"),
    ("lead-d", None, "Multi National Company", None),
    ("lead-e", None, None, "no_data"),
]
#: One lead is never enriched: coverage 5/6.
LEADS = [persona[0] for persona in PERSONAS] + ["lead-f"]
#: Runs stored (the dashboard shows the last 10).
RUNS = 12

EXPECTED: dict[str, Any] = {
    "total_leads": 6,
    "personas": 5,
    "enriched": 4,
    "no_data": 1,
    "coverage": round(5 / 6, 4),
    "academic_known": 3,
    "inferred": 1,
    "matrix": [
        {"academic_field": "engineering", "company_type": "Startup", "count": 2},
        {"academic_field": "business", "company_type": "Mid Market", "count": 1},
        {"academic_field": None, "company_type": "Multi National Company", "count": 1},
    ],
    "quarantine_total": 3,
    "by_reason": {"invalid_email": 2, "missing_field": 1, "unspecified": 1},
}


def _persona(
    lead_id: str, academic: str | None, company: str | None, source: str | None, now: datetime
) -> Persona:
    if source == "no_data":
        return Persona(lead_id=lead_id, status="no_data", computed_at=now)
    features: dict[str, str | int | float | bool] = {}
    provenance: dict[str, FeatureProvenance] = {}
    if academic is not None:
        features["academic_field"] = academic
        provenance["academic_field"] = FeatureProvenance(
            source="inferred" if source == "inferred" else "mapping",
            confidence=0.8 if source == "inferred" else 1.0,
            field_of_study=f"{academic} studies",
        )
    if company is not None:
        features["company_type"] = company
        provenance["company_type"] = FeatureProvenance(source="rule", employee_count=120)
    return Persona(
        lead_id=lead_id,
        features=features,
        provenance=provenance,
        field_of_study=f"{academic} studies" if academic else None,
        computed_at=now,
    )


async def seed_dashboard(database: MongoDatabase) -> datetime:
    """Write the fixture data; return the time the newest run started."""
    now = datetime.now(UTC).replace(microsecond=0)
    await database["leads"].insert_many(
        [
            {"_id": lead, "status": 0, "email": f"{lead}@example.com", "first_name": lead}
            for lead in LEADS
        ]
    )
    await PersonaStore(database).save_computed([_persona(*row, now) for row in PERSONAS])
    states = ["enriched"] * 4 + ["no_data", "failed"]
    await database["enrichment"].insert_many(
        [{"_id": lead, "state": state} for lead, state in zip(LEADS, states, strict=True)]
    )
    runs = []
    for age in range(RUNS):
        started = now - timedelta(minutes=10 * age)
        run: dict[str, Any] = {
            "_id": f"run-{age:02d}",
            "started_at": started,
            "finished_at": started + timedelta(seconds=42),
            "status": "completed",
            "refresh": False,
            "limit": None,
            "counts": {"processed": 6, "enriched": 4, "no_data": 1, "failed": 1, "api_calls": 6},
            "settings": {},
            "errors": [{"lead_id": "lead-f", "error": "HTTP 503 after 5 attempts"}],
            "error": None,
        }
        runs.append(run)
    runs[1].update(status="aborted", error="the enrichment API refused the key (401)", errors=[])
    runs[1]["counts"] = {"processed": 0}
    await database["runs"].insert_many(runs)
    await database["quarantine"].insert_many(
        [
            {
                "_id": "imp1:2",
                "import_id": "imp1",
                "file": "leads.csv",
                "row": 2,
                "line": 3,
                "raw": {"email": "not-an-email"},
                "reasons": [
                    {"code": "invalid_email", "field": "email", "message": "no @"},
                    {"code": "missing_field", "field": "last_name", "message": "required"},
                ],
                "quarantined_at": now,
            },
            {
                "_id": "imp1:5",
                "import_id": "imp1",
                "file": "leads.csv",
                "row": 5,
                "line": 6,
                "raw": {"email": "x@"},
                "reasons": [{"code": "invalid_email", "field": "email", "message": "no domain"}],
                "quarantined_at": now,
            },
            {
                "_id": "imp1:9",
                "import_id": "imp1",
                "file": "leads.csv",
                "row": 9,
                "line": 10,
                "raw": {},
                "reasons": [{"message": "written by an older version, without a code"}],
                "quarantined_at": now,
            },
        ]
    )
    await database["imports"].insert_one(
        {
            "_id": "imp1",
            "file": "leads.csv",
            "status": "complete",
            "read": 10,
            "inserted": 6,
            "duplicates_in_file": 1,
            "duplicates_existing": 0,
            "quarantined": 3,
            "started_at": now,
            "finished_at": now,
        }
    )
    return now
