"""The persona statistics document (``GET /personas/stats``, ``personas stats``, the dashboard):
pure arithmetic on grouped counts, which the repositories compute where the data is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["PersonaGroup", "summarise"]


@dataclass(frozen=True)
class PersonaGroup:
    """How many personas share an academic field, a company type, a status and the source of
    their academic field (None: unknown)."""

    academic_field: str | None
    company_type: str | None
    status: str | None
    academic_source: str | None
    count: int


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summarise(
    groups: Sequence[PersonaGroup], states: Mapping[str, int], total_leads: int
) -> dict[str, Any]:
    """Counts by academic field x company type, coverage, unknown rates and the inferred share,
    from the persona groups, the enrichment states counted by state, and the number of leads."""
    personas = sum(group.count for group in groups)
    no_data = sum(group.count for group in groups if group.status == "no_data")
    enriched = personas - no_data
    matrix: dict[tuple[str | None, str | None], int] = {}
    academic_known = company_known = inferred = 0
    for group in groups:
        if group.status == "no_data":
            continue
        academic, company, n = group.academic_field, group.company_type, group.count
        matrix[(academic, company)] = matrix.get((academic, company), 0) + n
        academic_known += n if academic is not None else 0
        company_known += n if company is not None else 0
        inferred += n if academic is not None and group.academic_source == "inferred" else 0
    return {
        "total_leads": total_leads,
        "personas": personas,
        "enriched": enriched,
        "no_data": no_data,
        "coverage": _rate(personas, total_leads),
        "enrichment_states": dict(sorted(states.items())),
        "academic_field": {
            "known": academic_known,
            "unknown": enriched - academic_known,
            "unknown_rate": _rate(enriched - academic_known, enriched),
            "inferred": inferred,
            "inferred_share": _rate(inferred, academic_known),
        },
        "company_type": {
            "known": company_known,
            "unknown": enriched - company_known,
            "unknown_rate": _rate(enriched - company_known, enriched),
        },
        "matrix": [
            {"academic_field": a, "company_type": c, "count": n}
            for (a, c), n in sorted(
                matrix.items(), key=lambda item: (-item[1], str(item[0][0]), str(item[0][1]))
            )
        ],
    }
