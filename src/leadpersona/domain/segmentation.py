"""Persona rules (SPEC section 3): which education counts, and the company type.

Pure functions over the parsed API answer; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from leadpersona.domain.profile import Company, EducationEntry, Person

__all__ = [
    "COMPANY_TYPES",
    "RULES_VERSION",
    "CompanyType",
    "CompanyTypeRules",
    "choose_education",
    "company_type",
    "employee_count",
    "field_of_study_of",
    "person_field_of_study",
]

CompanyType = Literal["Startup", "Mid Market", "Multi National Company"]
COMPANY_TYPES: Final[tuple[CompanyType, ...]] = ("Startup", "Mid Market", "Multi National Company")

#: Bumped whenever a rule below changes meaning; recorded on every persona.
RULES_VERSION: Final = "2026.11-1"


class CompanyTypeRules(BaseModel):
    """Boundaries: ``n < startup_below`` is a Startup, ``n > multinational_above`` a
    Multi National Company, anything in between (both ends included) Mid Market."""

    model_config = ConfigDict(frozen=True)

    startup_below: int = Field(default=50, ge=1)
    multinational_above: int = Field(default=1000, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> CompanyTypeRules:
        if self.startup_below > self.multinational_above:
            raise ValueError("startup_below must not exceed multinational_above")
        return self

    @property
    def version(self) -> str:
        """The rule version including the boundaries in force."""
        return f"{RULES_VERSION}/{self.startup_below}-{self.multinational_above}"


def field_of_study_of(entry: EducationEntry) -> str | None:
    """The entry's field of study, else its degree name; None when both are blank."""
    for text in (entry.field_of_study, entry.degree_name):
        if text is not None and text.strip():
            return text.strip()
    return None


def _year(entry: EducationEntry) -> int | None:
    dates = entry.start_end_date
    if dates is None:
        return None
    for point in (dates.end, dates.start):
        if point is not None and point.year is not None:
            return point.year
    return None


def choose_education(entries: Sequence[EducationEntry]) -> EducationEntry | None:
    """The most recent entry that names a field of study.

    Greatest year of ``end``, else of ``start``; undated entries rank after dated ones; ties
    keep list order (the API lists newest first).
    """
    best: EducationEntry | None = None
    best_rank: tuple[int, int] | None = None
    for entry in entries:
        if field_of_study_of(entry) is None:
            continue
        year = _year(entry)
        rank = (1, year) if year is not None else (0, 0)
        if best_rank is None or rank > best_rank:
            best, best_rank = entry, rank
    return best


def person_field_of_study(person: Person | None) -> str | None:
    """The field of study a persona is built from, or None."""
    if person is None or person.schools is None:
        return None
    entry = choose_education(person.schools.education_history)
    return field_of_study_of(entry) if entry is not None else None


def employee_count(company: Company | None) -> int | None:
    """``employeeCount`` when > 0, else ``employeeCountRange.start`` (0 allowed: "0-1")."""
    if company is None:
        return None
    if company.employee_count is not None and company.employee_count > 0:
        return company.employee_count
    count_range = company.employee_count_range
    if count_range is not None and count_range.start is not None and count_range.start >= 0:
        return count_range.start
    return None


def company_type(count: int | None, rules: CompanyTypeRules | None = None) -> CompanyType | None:
    """The company type for ``count`` employees, or None when unknown."""
    if count is None:
        return None
    rules = rules or CompanyTypeRules()
    if count < rules.startup_below:
        return "Startup"
    if count > rules.multinational_above:
        return "Multi National Company"
    return "Mid Market"
