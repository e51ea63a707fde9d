"""The enrichment API's answer (Scrapin.io format), parsed tolerantly.

Only what the product reads is typed; unknown fields are ignored, and every section may be
missing or ``null``. The raw bytes are archived separately, exactly as received.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "Company",
    "EducationEntry",
    "EmployeeCountRange",
    "LinkedInResponse",
    "Person",
    "Position",
    "YearMonth",
]


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class YearMonth(_Tolerant):
    year: int | None = None
    month: int | None = None
    day: int | None = None


class StartEndDate(_Tolerant):
    start: YearMonth | None = None
    end: YearMonth | None = None


class EducationEntry(_Tolerant):
    school_name: str | None = Field(default=None, alias="schoolName")
    degree_name: str | None = Field(default=None, alias="degreeName")
    field_of_study: str | None = Field(default=None, alias="fieldOfStudy")
    start_end_date: StartEndDate | None = Field(default=None, alias="startEndDate")


class Schools(_Tolerant):
    educations_count: int | None = Field(default=None, alias="educationsCount")
    education_history: list[EducationEntry] = Field(default_factory=list, alias="educationHistory")


class Position(_Tolerant):
    title: str | None = None
    company_name: str | None = Field(default=None, alias="companyName")
    company_location: str | None = Field(default=None, alias="companyLocation")
    linkedin_url: str | None = Field(default=None, alias="linkedInUrl")
    start_end_date: StartEndDate | None = Field(default=None, alias="startEndDate")


class Positions(_Tolerant):
    positions_count: int | None = Field(default=None, alias="positionsCount")
    position_history: list[Position] = Field(default_factory=list, alias="positionHistory")


def _skill_names(value: Any) -> list[str]:
    # Scrapin sends skills as strings; some variants send {"name": ...} objects.
    if not isinstance(value, list):
        return []
    names = []
    for item in value:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
    return names


class Person(_Tolerant):
    public_identifier: str | None = Field(default=None, alias="publicIdentifier")
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    headline: str | None = None
    location: str | None = None
    photo_url: str | None = Field(default=None, alias="photoUrl")
    positions: Positions | None = None
    schools: Schools | None = None
    skills: Annotated[list[str], BeforeValidator(_skill_names)] = Field(default_factory=list)


class EmployeeCountRange(_Tolerant):
    start: int | None = None
    end: int | None = None


class Company(_Tolerant):
    name: str | None = None
    linkedin_id: str | None = Field(default=None, alias="linkedinId")
    industry: str | None = None
    employee_count: int | None = Field(default=None, alias="employeeCount")
    employee_count_range: EmployeeCountRange | None = Field(
        default=None, alias="employeeCountRange"
    )
    website_url: str | None = Field(default=None, alias="websiteUrl")


class LinkedInResponse(_Tolerant):
    """One answer of ``GET /get_linkedin_data``."""

    success: bool = False
    credits_left: int | None = None
    rate_limit_left: int | None = None
    person: Person | None = None
    company: Company | None = None
