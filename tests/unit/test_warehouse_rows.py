"""From MongoDB documents to warehouse rows: the example answer and odd answers."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

from leadpersona.domain.profile import LinkedInResponse
from leadpersona.domain.warehouse_rows import (
    company_key,
    lead_rows,
    merge_company,
    skill_key,
    stable_id,
)

LEAD = {
    "_id": "0f3c",
    "email": "Ada@Example.COM",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "status": 2,
    "photo_url": None,
}


def example() -> dict[str, Any]:
    text = resources.files("leadpersona.data").joinpath("linkedin_example.json").read_text()
    answer: dict[str, Any] = json.loads(text)
    return answer


def answer_with(person: dict[str, Any] | None, company: dict[str, Any] | None = None) -> Any:
    return LinkedInResponse.model_validate({"success": True, "person": person, "company": company})


def test_the_example_answer() -> None:
    rows = lead_rows(LEAD, None, LinkedInResponse.model_validate(example()))

    assert rows.lead["email_key"] == "ada@example.com"
    assert rows.persona is None
    # Six positions at five companies: Safran twice, Visum matched to the answer's company.
    assert len(rows.positions) == 6
    assert [p["ordinal"] for p in rows.positions] == list(range(6))
    assert len(rows.companies) == 5
    visum = next(c for c in rows.companies if c["name"] == "Visum")
    assert visum["company_id"] == stable_id("company", "id:71234370")
    assert visum["employee_count"] == 8
    assert visum["company_type"] == "Startup"
    assert visum["linkedin_url"] == "https://www.linkedin.com/company/71234370/"
    assert rows.positions[0]["company_id"] == visum["company_id"]
    safran = [p for p in rows.positions if p["company_id"] == rows.positions[2]["company_id"]]
    assert len(safran) == 2
    # Two current positions (a start and no end), the rest ended.
    assert [p["is_current"] for p in rows.positions] == [True, True, False, False, False, False]
    assert rows.positions[2]["start_date"] == date(2019, 9, 1)
    assert rows.positions[2]["end_date"] == date(2020, 7, 1)
    # Every position's company is among the company rows.
    assert {p["company_id"] for p in rows.positions} == {c["company_id"] for c in rows.companies}
    assert len(rows.skills) == 20
    assert rows.skills[0]["name"] == "Reverse Contact"
    assert {s["skill_id"] for s in rows.skills} == {ls["skill_id"] for ls in rows.lead_skills}
    assert [(e["start_year"], e["end_year"]) for e in rows.educations] == [
        (2017, 2020),
        (None, None),
    ]


def test_a_persona_gives_one_persona_row() -> None:
    when = datetime(2026, 1, 2, tzinfo=UTC)
    persona = {
        "features": {"academic_field": "Computer Science", "company_type": "Startup"},
        "status": "computed",
        "updated_at": when,
    }
    rows = lead_rows(LEAD, persona, None)
    assert rows.persona is not None
    assert rows.persona["lead_id"] == "0f3c"
    assert rows.persona["academic_field"] == "Computer Science"
    assert rows.persona["company_type"] == "Startup"
    assert rows.persona["updated_at"] == when
    assert rows.positions == rows.companies == rows.skills == rows.educations == []


def test_person_null_or_a_failed_answer_gives_only_the_lead() -> None:
    for answer in (
        answer_with(None, {"name": "Visum", "linkedinId": "1"}),
        LinkedInResponse.model_validate({"success": False}),
        None,
    ):
        rows = lead_rows(LEAD, None, answer)
        assert rows.lead["lead_id"] == "0f3c"
        assert rows.companies == rows.positions == rows.skills == rows.lead_skills == []


def test_no_positions_keeps_skills_and_schools_and_no_orphan_company() -> None:
    rows = lead_rows(
        LEAD,
        None,
        answer_with(
            {"skills": ["SQL"], "schools": {"educationHistory": [{"schoolName": "ESILV"}]}},
            {"name": "Visum", "linkedinId": "71234370", "employeeCount": 8},
        ),
    )
    assert rows.positions == []
    assert rows.companies == []  # the answer's company is not kept without a position there
    assert [s["name"] for s in rows.skills] == ["SQL"]
    assert rows.educations[0]["school_name"] == "ESILV"


def test_duplicate_skills_with_other_case_or_spacing_keep_the_first_spelling() -> None:
    rows = lead_rows(
        LEAD,
        None,
        answer_with(
            {"skills": ["Machine  Learning", "machine learning", " MACHINE LEARNING", "SQL"]}
        ),
    )
    assert [s["name"] for s in rows.skills] == ["Machine Learning", "SQL"]
    assert len(rows.lead_skills) == 2
    assert len({(ls["lead_id"], ls["skill_id"]) for ls in rows.lead_skills}) == 2
    assert rows.skills[0]["skill_id"] == stable_id("skill", skill_key("MACHINE learning"))


def test_a_company_known_only_by_name_is_deduplicated_by_its_normalised_name() -> None:
    rows = lead_rows(
        LEAD,
        None,
        answer_with(
            {
                "positions": {
                    "positionHistory": [
                        {"title": "CTO", "companyName": "Acme  Corp "},
                        {"title": "Dev", "companyName": "ACME corp"},
                        {"title": "Intern"},
                    ]
                }
            }
        ),
    )
    assert len(rows.companies) == 1
    assert rows.companies[0]["company_id"] == stable_id("company", "name:acme corp")
    assert rows.companies[0]["name"] == "Acme  Corp "  # the first spelling seen
    assert rows.positions[0]["company_id"] == rows.positions[1]["company_id"]
    assert rows.positions[2]["company_id"] is None  # no name, no URL: no company


def test_dates_with_only_a_year_and_impossible_dates() -> None:
    rows = lead_rows(
        LEAD,
        None,
        answer_with(
            {
                "positions": {
                    "positionHistory": [
                        {"companyName": "A", "startEndDate": {"start": {"year": 2019}}},
                        {
                            "companyName": "B",
                            "startEndDate": {
                                "start": {"year": 2018, "month": 2, "day": 31},
                                "end": {"month": 3},
                            },
                        },
                        {"companyName": "C"},
                    ]
                },
                "schools": {"educationHistory": [{"startEndDate": {"end": {"year": 2021}}}]},
            }
        ),
    )
    first, second, third = rows.positions
    assert (first["start_date"], first["end_date"], first["is_current"]) == (
        date(2019, 1, 1),
        None,
        True,
    )
    assert second["start_date"] == date(2018, 1, 1)  # 31 February falls back to the year
    assert second["end_date"] is None  # a month without a year is no date
    assert (third["start_date"], third["is_current"]) == (None, False)
    assert (rows.educations[0]["start_year"], rows.educations[0]["end_year"]) == (None, 2021)


def test_numbers_beyond_any_date_give_no_date() -> None:
    rows = lead_rows(
        LEAD,
        None,
        answer_with(
            {
                "positions": {
                    "positionHistory": [
                        {"startEndDate": {"start": {"year": 10**20}}},
                        {"startEndDate": {"start": {"year": 2019, "month": 10**20}}},
                    ]
                }
            }
        ),
    )
    assert [p["start_date"] for p in rows.positions] == [None, date(2019, 1, 1)]


def test_unicode_whitespace_collapses_in_company_and_skill_keys() -> None:
    assert company_key(name="Big\u00a0\u2003Co\u3000") == "name:big co"
    assert skill_key("Machine\u2009\nLearning") == "machine learning"
    rows = lead_rows(LEAD, None, answer_with({"skills": ["Data\u00a0Science", "data science"]}))
    assert [s["name"] for s in rows.skills] == ["Data Science"]


def test_the_same_answer_gives_the_same_rows_every_time() -> None:
    answer = LinkedInResponse.model_validate(example())
    first = lead_rows(LEAD, None, answer)
    again = lead_rows({**LEAD, "_id": "other"}, None, answer)
    assert [s["skill_id"] for s in again.skills] == [s["skill_id"] for s in first.skills]
    assert again.companies == first.companies
    assert {ls["lead_id"] for ls in again.lead_skills} == {"other"}
    assert first.skills[0]["skill_id"] == stable_id("skill", skill_key(first.skills[0]["name"]))


def test_company_keys_prefer_id_then_url_then_name() -> None:
    assert company_key(linkedin_id=" 42 ", url="https://x", name="X") == "id:42"
    assert company_key(url="https://www.linkedin.com/company/X/", name="X") == (
        "url:https://www.linkedin.com/company/x"
    )
    assert company_key(name="  Big   Co ") == "name:big co"
    assert company_key(name="   ") is None
    assert stable_id("company", "id:42") == stable_id("company", "id:42")
    assert stable_id("company", "id:42") != stable_id("skill", "id:42")
    assert len(stable_id("skill", "sql")) == 32


def test_an_odd_lead_document() -> None:
    rows = lead_rows({"_id": 7, "email": None, "status": True}, None, None)
    assert rows.lead["lead_id"] == "7"
    assert rows.lead["email"] is None and rows.lead["email_key"] is None
    assert rows.lead["status"] == 0  # a boolean is not a status


def test_a_company_named_twice_merges_the_same_whichever_comes_first() -> None:
    base = {"company_id": "c1", "linkedin_url": None, "industry": None}
    small = {**base, "name": "Acme", "employee_count": 40, "company_type": "Startup"}
    large = {**base, "name": "ACME", "employee_count": 4000, "company_type": "Big"}
    unknown = {**base, "name": "acme", "employee_count": None, "company_type": None}
    unknown["industry"] = "Software"
    expected = {
        **base,
        "name": "ACME",
        "industry": "Software",
        "employee_count": 4000,
        "company_type": "Big",
    }
    for rows in itertools.permutations([small, large, unknown]):
        merged = merge_company(merge_company(rows[0], rows[1]), rows[2])
        assert merged == expected, rows
    # Only unknown counts: the type is kept from whichever row has one.
    assert merge_company(unknown, {**unknown, "company_type": "Startup"})["company_type"] == (
        "Startup"
    )
