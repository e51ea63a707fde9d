"""Synthetic answers of the mock API: deterministic, varied, in Scrapin format."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from leadpersona.adapters.mock_api import (
    FOREIGN_FIELDS,
    _fields_of_study,
    example_answer_bytes,
    synthetic_answer,
)
from leadpersona.domain.profile import LinkedInResponse

EMAILS = [f"lead{i}@example.com" for i in range(4000)]


def answers() -> list[tuple[int, dict[str, Any]]]:
    return [synthetic_answer(email) for email in EMAILS]


def test_deterministic_per_email_and_seed() -> None:
    assert synthetic_answer("a@example.com") == synthetic_answer(" A@Example.com ")
    assert synthetic_answer("a@example.com", seed=1) != synthetic_answer("a@example.com")
    assert synthetic_answer("a@example.com") != synthetic_answer("b@example.com")


def test_documented_shares() -> None:
    shares: Counter[str] = Counter()
    for status, body in answers():
        if status == 404:
            shares["404"] += 1
        elif not body["success"]:
            shares["unsuccessful"] += 1
        elif body["person"] is None:
            shares["person_null"] += 1
            assert body["company"] is not None
        elif body["company"] is None:
            shares["company_null"] += 1
    total = len(EMAILS)
    assert 0.03 <= shares["404"] / total <= 0.05
    assert 0.03 <= shares["unsuccessful"] / total <= 0.05
    found = total - shares["404"] - shares["unsuccessful"]
    assert 0.04 <= shares["person_null"] / found <= 0.08
    assert 0.06 <= shares["company_null"] / found <= 0.10


def test_every_answer_parses_and_is_json() -> None:
    for status, body in answers():
        parsed = LinkedInResponse.model_validate(json.loads(json.dumps(body)))
        assert parsed.success is body["success"]
        assert status in (200, 404)


def company_type(company: dict[str, Any]) -> str | None:
    count = company.get("employeeCount") or 0
    if count <= 0:
        count = (company.get("employeeCountRange") or {}).get("start") or 0
    if count <= 0:
        return None
    return "Startup" if count < 50 else "Mid Market" if count <= 1000 else "Multi National"


def test_company_sizes_cover_types_boundaries_and_ranges() -> None:
    types: Counter[str | None] = Counter()
    counts: Counter[int] = Counter()
    shapes: Counter[str] = Counter()
    for _, body in answers():
        company = body.get("company")
        if not company:
            continue
        types[company_type(company)] += 1
        counts[company.get("employeeCount", -1)] += 1
        if "employeeCountRange" in company:
            shapes["zero+range" if company.get("employeeCount") == 0 else "range only"] += 1
    assert {"Startup", "Mid Market", "Multi National", None} <= set(types)
    assert min(types[t] for t in ("Startup", "Mid Market", "Multi National")) > 300
    assert all(counts[n] > 50 for n in (49, 50, 1000, 1001))
    assert shapes["zero+range"] > 100 and shapes["range only"] > 100


def test_schools_and_fields_of_study() -> None:
    labelled, unlabelled = map(set, _fields_of_study())
    school_counts: Counter[int] = Counter()
    sources: Counter[str] = Counter()
    dated = undated = degree_only = 0
    for _, body in answers():
        person = body.get("person")
        if not person:
            continue
        history = person["schools"]["educationHistory"]
        school_counts[len(history)] += 1
        for entry in history:
            text = entry.get("fieldOfStudy")
            if text is None:
                degree_only += 1
                text = entry["degreeName"]
            if "startEndDate" in entry:
                dated += 1
            else:
                undated += 1
            source = "labelled" if text in labelled else "unlabelled" if text in unlabelled else ""
            sources[source or ("foreign" if text in FOREIGN_FIELDS else "other")] += 1
    assert set(school_counts) == {0, 1, 2, 3}
    assert sources["labelled"] > 500 and sources["unlabelled"] > 500 and sources["foreign"] > 100
    assert sources["other"] == 0
    assert dated > 1000 and undated > 500 and degree_only > 200


def test_provided_answer_is_the_packaged_file() -> None:
    body = json.loads(example_answer_bytes())
    assert body["person"]["firstName"] == "Julien"
