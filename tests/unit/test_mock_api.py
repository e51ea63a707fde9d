"""Synthetic answers of the mock API: deterministic, varied, in Scrapin format."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import pytest

from leadpersona.adapters.mock_api import (
    FOREIGN_FIELDS,
    MockConfig,
    Profile,
    _fields_of_study,
    create_app,
    example_answer_bytes,
    synthetic_answer,
)
from leadpersona.domain.profile import LinkedInResponse
from leadpersona.domain.warehouse_rows import company_key, skill_key

EMAILS = [f"lead{i}@example.com" for i in range(4000)]


def answers(profile: Profile = "standard") -> list[tuple[int, dict[str, Any]]]:
    return [synthetic_answer(email, profile=profile) for email in EMAILS]


@pytest.mark.parametrize("profile", ["standard", "rich"])
def test_deterministic_per_email_and_seed(profile: Profile) -> None:
    def answer(email: str, seed: int = 0) -> tuple[int, dict[str, Any]]:
        return synthetic_answer(email, seed, profile=profile)

    assert answer("a@example.com") == answer(" A@Example.com ")
    assert answer("a@example.com", seed=1) != answer("a@example.com")
    assert answer("a@example.com") != answer("b@example.com")


def test_standard_profile_is_the_default_and_differs_from_rich() -> None:
    found = [email for email in EMAILS[:50] if synthetic_answer(email)[1].get("person")]
    for email in found:
        assert synthetic_answer(email) == synthetic_answer(email, profile="standard")
        assert synthetic_answer(email) != synthetic_answer(email, profile="rich")
    assert MockConfig().profile == "standard"


@pytest.mark.parametrize("profile", ["standard", "rich"])
def test_documented_shares(profile: Profile) -> None:
    shares: Counter[str] = Counter()
    for status, body in answers(profile):
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


@pytest.mark.parametrize("profile", ["standard", "rich"])
def test_every_answer_parses_and_is_json(profile: Profile) -> None:
    for status, body in answers(profile):
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


def test_rich_profile_counts_per_email() -> None:
    positions = schools = skills = 0
    for _, body in answers("rich"):
        person = body.get("person")
        if not person:
            continue
        positions += len(person["positions"]["positionHistory"])
        schools += len(person["schools"]["educationHistory"])
        skills += len({skill_key(name) for name in person["skills"]})
    total = len(EMAILS)
    assert 4.7 <= positions / total <= 5.7
    assert 2.7 <= schools / total <= 3.5
    assert 9.3 <= skills / total <= 10.7


def test_rich_profile_shares_companies_and_spells_names_differently() -> None:
    mentions: Counter[str | None] = Counter()
    skill_spellings: dict[str, set[str]] = {}
    name_only = year_only = undated = current_at_company = 0
    for _, body in answers("rich"):
        person, company = body.get("person"), body.get("company")
        if not person:
            continue
        history = person["positions"]["positionHistory"]
        for position in history:
            url = position.get("linkedInUrl")
            mentions[company_key(url=url, name=position["companyName"])] += 1
            name_only += url is None
            start = (position.get("startEndDate") or {}).get("start")
            if start is None:
                undated += 1
            elif "month" not in start:
                year_only += 1
        if company:
            current = history[0]
            assert current["companyName"] == company["name"]
            current_at_company += (
                current["linkedInUrl"]
                .rstrip("/")
                .endswith((f"/{company['linkedinId']}", f"/{company['universalName']}"))
            )
        for name in person["skills"]:
            skill_spellings.setdefault(skill_key(name), set()).add(name)
    total = sum(mentions.values())
    # Companies recur across answers: far fewer companies than mentions, some very frequent.
    assert len(mentions) < total / 1.5
    assert mentions.most_common(1)[0][1] > 50
    assert sum(1 for key in mentions if key and key.startswith("name:")) > 500
    assert 0.12 <= name_only / total <= 0.22
    assert 0.18 <= year_only / total <= 0.30 and 0.01 <= undated / total <= 0.05
    assert current_at_company > 2500
    # A shared vocabulary, some skills spelt several ways (case, spacing).
    assert 100 <= len(skill_spellings) <= 200
    assert sum(1 for spellings in skill_spellings.values() if len(spellings) > 1) > 50


async def test_the_app_serves_the_configured_profile() -> None:
    email = next(e for e in EMAILS if synthetic_answer(e, profile="rich")[1].get("person"))
    transport = httpx.ASGITransport(app=create_app(MockConfig(profile="rich")))
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
        answer = (await client.get("/get_linkedin_data", params={"email": email})).json()
    assert answer["person"] == synthetic_answer(email, profile="rich")[1]["person"]
