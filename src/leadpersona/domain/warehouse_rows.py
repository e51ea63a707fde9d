"""From MongoDB documents to warehouse rows. Pure: no I/O.

One lead gives one ``leads`` row, at most one ``personas`` row, and the child rows of its
latest archived API answer. Companies are keyed by their LinkedIn id or URL, else by their
normalised name; skills by their normalised name (the first spelling seen is kept). Their ids
are digests of those keys, so every sync names a company or a skill the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from leadpersona.domain.email import normalize_email
from leadpersona.domain.profile import LinkedInResponse, YearMonth
from leadpersona.domain.segmentation import CompanyTypeRules, company_type, employee_count

__all__ = [
    "LeadRows",
    "answer_id",
    "company_key",
    "lead_rows",
    "merge_company",
    "skill_key",
    "stable_id",
]


def stable_id(kind: str, key: str) -> str:
    """A 32-character id derived from a deduplication key."""
    return hashlib.blake2b(f"{kind}:{key}".encode(), digest_size=16).hexdigest()


def _norm(text: str | None) -> str:
    # Whitespace runs collapsed: str.split and the regular expression \s agree on whitespace.
    return " ".join(text.split()).casefold() if text else ""


def company_key(
    *, linkedin_id: str | None = None, url: str | None = None, name: str | None = None
) -> str | None:
    """How a company is recognised: LinkedIn id, else URL, else normalised name."""
    if linkedin_id and linkedin_id.strip():
        return f"id:{linkedin_id.strip()}"
    if url and url.strip():
        return f"url:{url.strip().rstrip('/').casefold()}"
    if _norm(name):
        return f"name:{_norm(name)}"
    return None


def merge_company(kept: Mapping[str, Any], other: Mapping[str, Any]) -> dict[str, Any]:
    """One ``companies`` row from two rows of the same company, whichever came first: the
    larger employee count with its company type, and the smallest of each known text.
    The warehouse writer applies the same rule in SQL to rows already stored."""
    merged = dict(kept)
    counts = (kept.get("employee_count"), other.get("employee_count"))
    known = [count for count in counts if count is not None]
    merged["employee_count"] = max(known) if known else None
    first, second = (other, kept) if _rank(counts[1]) > _rank(counts[0]) else (kept, other)
    kind = first.get("company_type")
    merged["company_type"] = kind if kind is not None else second.get("company_type")
    for name in ("name", "linkedin_url", "industry"):
        texts = [value for value in (kept.get(name), other.get(name)) if value is not None]
        merged[name] = min(texts) if texts else None
    return merged


def _rank(count: int | None) -> int:
    return -1 if count is None else count


def skill_key(name: str) -> str:
    """How a skill is recognised: its name, whitespace collapsed, case folded."""
    return _norm(name)


#: Ids and spellings kept for the names seen most recently (answers repeat the same skills and
#: companies): the digests are the largest part of mapping an answer.
_KNOWN = 1 << 16


@lru_cache(maxsize=_KNOWN)
def _company_id(key: str) -> str:
    return stable_id("company", key)


@lru_cache(maxsize=_KNOWN)
def _skill(name: str) -> tuple[str, str] | None:
    """A skill name's id and the spelling kept for it (None: no name)."""
    key = skill_key(name)
    return (stable_id("skill", key), " ".join(name.split())) if key else None


def _date(value: YearMonth | None) -> date | None:
    if value is None or value.year is None:
        return None
    try:
        return date(value.year, value.month or 1, value.day or 1)
    except (ValueError, OverflowError):  # (OverflowError: a number beyond any calendar's)
        return date(value.year, 1, 1) if 1 <= value.year <= 9999 else None


@dataclass
class LeadRows:
    """Every warehouse row one lead contributes."""

    lead: dict[str, Any]
    persona: dict[str, Any] | None = None
    companies: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    skills: list[dict[str, Any]] = field(default_factory=list)
    lead_skills: list[dict[str, Any]] = field(default_factory=list)
    educations: list[dict[str, Any]] = field(default_factory=list)


def answer_id(persona: Mapping[str, Any]) -> str | None:
    """The id of the archived API answer a persona document was computed from, if any."""
    value = persona.get("archive_id")
    return str(value) if value else None


def lead_rows(
    lead: Mapping[str, Any],
    persona: Mapping[str, Any] | None,
    answer: LinkedInResponse | None,
    rules: CompanyTypeRules | None = None,
) -> LeadRows:
    """The rows of one lead (its MongoDB document, its persona, its latest API answer)."""
    lead_id = str(lead["_id"])
    email = lead.get("email") if isinstance(lead.get("email"), str) else None
    status = lead.get("status")
    rows = LeadRows(
        lead={
            "lead_id": lead_id,
            "email": email,
            "email_key": normalize_email(email) if email else None,
            "first_name": lead.get("first_name"),
            "last_name": lead.get("last_name"),
            "status": status if isinstance(status, int) and not isinstance(status, bool) else 0,
            "photo_url": lead.get("photo_url"),
        }
    )
    if persona is not None:
        features = dict(persona.get("features") or {})
        rows.persona = {
            "lead_id": lead_id,
            "academic_field": features.get("academic_field"),
            "company_type": features.get("company_type"),
            "status": persona.get("status"),
            "features": features,
            "updated_at": persona.get("updated_at"),
            "archive_id": answer_id(persona),
        }
    if answer is None or not answer.success or answer.person is None:
        return rows
    companies: dict[str, dict[str, Any]] = {}
    current = answer.company
    current_key = None
    if current is not None:
        current_key = company_key(linkedin_id=current.linkedin_id, name=current.name)
        if current_key is not None:
            count = employee_count(current)
            companies[current_key] = {
                "company_id": _company_id(current_key),
                "name": current.name,
                "linkedin_url": None,
                "employee_count": count,
                "industry": current.industry,
                "company_type": company_type(count, rules),
            }
    person = answer.person
    history = person.positions.position_history if person.positions else []
    current_name = _norm(current.name) if current is not None and current_key is not None else ""
    for ordinal, position in enumerate(history):
        key = company_key(url=position.linkedin_url, name=position.company_name)
        if (
            current_key is not None
            and current_name
            and _norm(position.company_name) == current_name
        ):
            key = current_key  # the answer's company, known by more than its name
            if position.linkedin_url and not companies[key]["linkedin_url"]:
                companies[key]["linkedin_url"] = position.linkedin_url
        if key is not None and key not in companies:
            companies[key] = {
                "company_id": _company_id(key),
                "name": position.company_name,
                "linkedin_url": position.linkedin_url,
                "employee_count": None,
                "industry": None,
                "company_type": None,
            }
        dates = position.start_end_date
        end = _date(dates.end) if dates else None
        start = _date(dates.start) if dates else None
        rows.positions.append(
            {
                "lead_id": lead_id,
                "ordinal": ordinal,
                "company_id": companies[key]["company_id"] if key is not None else None,
                "title": position.title,
                "start_date": start,
                "end_date": end,
                "is_current": start is not None and end is None,
            }
        )
    referenced = {row["company_id"] for row in rows.positions}
    rows.companies = [c for c in companies.values() if c["company_id"] in referenced]
    seen: set[str] = set()
    for name in person.skills:
        skill = _skill(name)
        if skill is None or skill[0] in seen:
            continue
        skill_id, spelling = skill
        seen.add(skill_id)
        rows.skills.append({"skill_id": skill_id, "name": spelling})
        rows.lead_skills.append({"lead_id": lead_id, "skill_id": skill_id})
    schools = person.schools.education_history if person.schools else []
    for ordinal, education in enumerate(schools):
        dates = education.start_end_date
        rows.educations.append(
            {
                "lead_id": lead_id,
                "ordinal": ordinal,
                "school_name": education.school_name,
                "degree_name": education.degree_name,
                "field_of_study": education.field_of_study,
                "start_year": dates.start.year if dates and dates.start else None,
                "end_year": dates.end.year if dates and dates.end else None,
            }
        )
    return rows
