"""Persona rules of SPEC section 3: education choice and company type boundaries."""

from __future__ import annotations

from typing import Any

import pytest

from leadpersona.domain.persona import (
    FeatureProvenance,
    Persona,
    derive_features,
    feature_key,
    validate_feature,
    validate_features,
)
from leadpersona.domain.profile import Company, LinkedInResponse, Person
from leadpersona.domain.segmentation import (
    CompanyTypeRules,
    choose_education,
    company_type,
    employee_count,
    person_field_of_study,
)
from leadpersona.errors import InvalidFeature


def school(
    field: str | None = None,
    degree: str | None = None,
    start: int | None = None,
    end: int | None = None,
) -> dict[str, Any]:
    dates: dict[str, Any] = {}
    if start is not None:
        dates["start"] = {"year": start}
    if end is not None:
        dates["end"] = {"year": end}
    return {"fieldOfStudy": field, "degreeName": degree, "startEndDate": dates or None}


def person(*schools: dict[str, Any]) -> Person:
    return Person.model_validate({"schools": {"educationHistory": list(schools)}})


def test_most_recent_end_year_wins() -> None:
    chosen = person(school("Old", end=2010), school("New", end=2020), school("Mid", end=2015))
    assert person_field_of_study(chosen) == "New"


def test_start_year_is_used_when_there_is_no_end() -> None:
    chosen = person(school("Ended", end=2018), school("Started", start=2019))
    assert person_field_of_study(chosen) == "Started"


def test_undated_entries_rank_after_dated_ones() -> None:
    assert person_field_of_study(person(school("Undated"), school("Dated", end=1990))) == "Dated"


def test_ties_keep_list_order() -> None:
    assert person_field_of_study(person(school("First", end=2020), school("Second", end=2020))) == (
        "First"
    )
    assert person_field_of_study(person(school("A"), school("B"))) == "A"


def test_degree_name_when_field_of_study_is_blank_and_blank_entries_are_ignored() -> None:
    chosen = person(school("  ", "Master of Law", end=2021), school(None, None, end=2023))
    assert person_field_of_study(chosen) == "Master of Law"
    assert choose_education([]) is None
    assert person_field_of_study(None) is None
    assert person_field_of_study(Person()) is None


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, "Startup"),
        (49, "Startup"),
        (50, "Mid Market"),
        (1000, "Mid Market"),
        (1001, "Multi National Company"),
        (None, None),
    ],
)
def test_company_type_boundaries(count: int | None, expected: str | None) -> None:
    assert company_type(count) == expected


def test_boundaries_are_configurable() -> None:
    rules = CompanyTypeRules(startup_below=10, multinational_above=200)
    assert [company_type(n, rules) for n in (9, 10, 200, 201)] == [
        "Startup",
        "Mid Market",
        "Mid Market",
        "Multi National Company",
    ]
    with pytest.raises(ValueError, match="must not exceed"):
        CompanyTypeRules(startup_below=500, multinational_above=100)


def test_employee_count_falls_back_to_range_start() -> None:
    def company(data: dict[str, Any]) -> Company:
        return Company.model_validate(data)

    assert employee_count(company({"employeeCount": 120})) == 120
    assert employee_count(company({"employeeCount": 0, "employeeCountRange": {"start": 51}})) == 51
    assert employee_count(company({"employeeCountRange": {"start": 1001, "end": 5000}})) == 1001
    assert employee_count(company({"employeeCountRange": {"start": 0, "end": 1}})) == 0
    assert employee_count(company({"employeeCount": None})) is None
    assert employee_count(None) is None


class _Map:
    def __init__(self, table: dict[str, tuple[str | None, str | None, float | None]]) -> None:
        self.table = table

    def lookup(self, text: str) -> Any:
        from types import SimpleNamespace

        label, source, confidence = self.table.get(text, (None, None, None))
        return SimpleNamespace(academic_field=label, source=source, confidence=confidence)


def answer(data: dict[str, Any]) -> LinkedInResponse:
    return LinkedInResponse.model_validate(data)


def test_derive_features_marks_inferred_labels_and_the_rule() -> None:
    field_map = _Map({"Informatique": ("computer science", "inferred", 0.93)})
    features, provenance, field = derive_features(
        answer(
            {
                "success": True,
                "person": {"schools": {"educationHistory": [school("Informatique", end=2020)]}},
                "company": {"employeeCount": 50},
            }
        ),
        field_map,
        CompanyTypeRules(),
    )
    assert features == {"academic_field": "computer science", "company_type": "Mid Market"}
    assert provenance["academic_field"] == FeatureProvenance(
        source="inferred", confidence=0.93, field_of_study="Informatique"
    )
    assert provenance["company_type"].employee_count == 50
    assert field == "Informatique"


@pytest.mark.parametrize(
    "data",
    [
        {"success": True, "person": None, "company": None},
        {"success": False, "person": {"schools": {"educationHistory": [{"fieldOfStudy": "X"}]}}},
    ],
)
def test_no_person_no_company_or_no_success_gives_no_features(data: dict[str, Any]) -> None:
    features, provenance, _ = derive_features(answer(data), _Map({}), CompanyTypeRules())
    assert features == {}
    assert provenance == {}


def test_unmapped_field_of_study_gives_no_academic_field() -> None:
    data = {"success": True, "person": {"schools": {"educationHistory": [school("Basket")]}}}
    features, _, field = derive_features(answer(data), _Map({}), CompanyTypeRules())
    assert "academic_field" not in features
    assert field == "Basket"


def test_feature_validation() -> None:
    assert validate_feature("academic_field", "  Human   Resources ") == "human resources"
    assert validate_feature("company_type", "Startup") == "Startup"
    assert validate_feature("seniority", " senior  lead ") == "senior lead"
    assert validate_feature("score", 3) == 3
    assert validate_features({"a": None}) == {"a": None}
    for name, value in [
        ("company_type", "startup"),
        ("academic_field", ""),
        ("$set", "x"),
        ("Upper", "x"),
        ("score", float("nan")),
        ("nested", {"$ne": 1}),
        ("long", "x" * 201),
    ]:
        with pytest.raises(InvalidFeature):
            validate_feature(name, value)


def test_feature_keys_are_canonical() -> None:
    assert feature_key("company_type", "Startup") == 'company_type="Startup"'
    assert feature_key("score", 2.0) == feature_key("score", 2) == "score=2"
    assert feature_key("flag", True) == "flag=true"


def test_public_persona_always_has_the_core_features() -> None:
    document = Persona(lead_id="x", features={"company_type": "Startup"}).public()
    assert document["lead_id"] == "x"
    assert document["features"] == {"academic_field": None, "company_type": "Startup"}
