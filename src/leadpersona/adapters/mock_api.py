"""The mock enrichment API: ``GET /get_linkedin_data?email=`` in Scrapin.io format.

Two modes:

- ``fixture``: the provided answer (``data/linkedin_example.json``) for every email, byte for
  byte (the assignment's literal mock).
- ``synthetic`` (default): a deterministic answer per email (a hash of the normalised email and
  ``seed``), realistic and varied, from :func:`synthetic_answer`. The provided answer is served,
  byte for byte, for :data:`~leadpersona.domain.samples.DEMO_EMAIL`.

Shares of synthetic answers (each drawn independently per email; the unit tests check them
over 4,000 emails):

==============================  =====
answer                          share
==============================  =====
404 ``{"success": false}``       4 %
200 ``success: false``           4 %
200, ``person: null``            6 % of the rest
200, ``company: null``           8 % of the rest (never together with ``person: null``)
200, person and company         the rest (about 81 %)
==============================  =====

Inside a person: 0-3 schools (10 % none, 35 % one, 35 % two, 20 % three), each with a field of
study drawn from the packaged mapping CSV (about 45 % from labelled rows, 45 % unlabelled, 10 %
from a short list of non-English strings absent from the CSV); 15 % of schools give only a
``degreeName``, 30 % are undated, 15 % have only a start year. 1-5 positions and 0-12 skills.

Inside a company: 70 % give ``employeeCount`` (a third of those exactly one of the boundaries
49, 50, 1000 or 1001, the rest spread over all three company types), 10 % give
``employeeCount: 0`` with an ``employeeCountRange``, 12 % only an ``employeeCountRange``, 8 %
no size at all.

Profiles (``MockConfig.profile``, ``synthetic_answer(..., profile=)``): the above is the
``standard`` profile (the default: the demo and the tests). The ``rich`` profile keeps the
shares of answers but fills people in the way a warehouse of real answers looks: 3-9 positions
(about 6), 1-6 schools (about 3.6), 6-17 skills (about 11.5), so about 5 positions, 3 schools
and 10 skills per email asked overall. Positions name companies of one pool shared by every
answer of a seed (12,000 companies with a LinkedIn id and page; a few are much more frequent
than the rest) by their ``/company/<id>/`` URL (15 % without the trailing slash, 10 % by their
``/company/<universal name>`` page instead, 5 % by name only), or a company known only by its
name (12 %, from a pool of 3,000, a fifth of them spelt with other case or spacing). The
current position is at the answer's ``company``, which is that pool company (its headcount
drifts: 15 % of answers give another). A quarter of position dates give only a year, 3 % of
positions are undated. Skills come from a shared vocabulary of about 150, 10 % of them spelt
with other case or spacing.

Options for tests and benchmarks (:class:`MockConfig`): a required API key (401 without,
403 with a wrong one), a rate limit (429 with ``Retry-After`` beyond it; a token bucket holding
one second of requests), latency, and rates of injected 5xx, timeouts (the answer is held back
for ``hang_s``) and truncated JSON. Faults are drawn from a hash of the email, the number of
requests already made for it and ``seed``: deterministic whatever the order of requests, and a
retry of the same email draws again.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import itertools
import json
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any, Literal

from fastapi import FastAPI, Query, Request, Response
from pydantic import BaseModel, Field

from leadpersona.adapters.field_map_csv import packaged_csv_bytes
from leadpersona.adapters.local_server import serve_in_thread
from leadpersona.adapters.mock_sales_api import SalesMockConfig, SalesMockState, sales_router
from leadpersona.domain.samples import DEMO_EMAIL

__all__ = [
    "EXAMPLE_FILE",
    "MockConfig",
    "MockState",
    "Profile",
    "create_app",
    "example_answer_bytes",
    "serve_in_thread",
    "synthetic_answer",
]

EXAMPLE_FILE = "linkedin_example.json"
API_KEY_HEADER = "X-API-Key"
INITIAL_CREDITS = 10_000

# Shares documented in the module docstring.
SHARE_404 = 0.04
SHARE_UNSUCCESSFUL = 0.04
SHARE_PERSON_NULL = 0.06
SHARE_COMPANY_NULL = 0.08

BOUNDARY_SIZES = (49, 50, 1000, 1001)
SIZE_RANGES = (
    (1, 10),
    (11, 50),
    (51, 200),
    (201, 500),
    (501, 1000),
    (1001, 5000),
    (5001, 10000),
    (10001, None),
)


#: How full the synthetic people are (see the module docstring).
Profile = Literal["standard", "rich"]


class MockConfig(BaseModel):
    """How the mock behaves."""

    mode: Literal["synthetic", "fixture"] = "synthetic"
    profile: Profile = Field(
        default="standard", description="synthetic people: standard, or rich (see the module)"
    )
    api_key: str | None = Field(default=None, description="required X-API-Key, if set")
    rate_limit: float | None = Field(
        default=None, gt=0, description="requests per second; beyond it 429 + Retry-After"
    )
    retry_after_s: float | None = Field(
        default=None, ge=0, description="Retry-After to send; default: seconds until a token"
    )
    latency_s: float = Field(default=0.0, ge=0)
    error_rate: float = Field(default=0.0, ge=0, le=1, description="share of 5xx answers")
    timeout_rate: float = Field(default=0.0, ge=0, le=1, description="share held for hang_s")
    truncated_rate: float = Field(default=0.0, ge=0, le=1, description="share of cut JSON")
    hang_s: float = Field(default=30.0, ge=0, description="how long a 'timeout' is held back")
    seed: int = 0


@dataclass
class MockState:
    """What the mock has seen: counters tests and benchmarks read."""

    config: MockConfig
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    #: (monotonic time, email) of every request as it arrives.
    arrivals: list[tuple[float, str]] = field(default_factory=list)
    #: (monotonic time, email, status) of every answer as it is sent.
    log: list[tuple[float, str, int]] = field(default_factory=list)
    credits_left: int = INITIAL_CREDITS
    _tokens: float = 0.0
    _refilled_at: float = 0.0

    def __post_init__(self) -> None:
        self._tokens = self._capacity()
        self._refilled_at = time.monotonic()

    def _capacity(self) -> float:
        rate = self.config.rate_limit
        return max(1.0, rate) if rate is not None else 0.0

    def take_token(self) -> float | None:
        """None if the request may go on, else the seconds until a token is available."""
        rate = self.config.rate_limit
        if rate is None:
            return None
        now = time.monotonic()
        self._tokens = min(self._capacity(), self._tokens + (now - self._refilled_at) * rate)
        self._refilled_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / rate

    def tokens_left(self) -> int | None:
        return int(self._tokens) if self.config.rate_limit is not None else None


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from ``parts``."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _normalise(email: str) -> str:
    return email.strip().lower()


@cache
def example_answer_bytes() -> bytes:
    """The provided answer, byte for byte."""
    return files("leadpersona.data").joinpath(EXAMPLE_FILE).read_bytes()


@cache
def _fields_of_study() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(labelled, unlabelled) fields of study of the packaged CSV."""
    labelled: list[str] = []
    unlabelled: list[str] = []
    reader = csv.reader(io.StringIO(packaged_csv_bytes().decode("utf-8-sig")))
    next(reader, None)
    for row in reader:
        if len(row) < 3 or not row[2].strip():
            continue
        (labelled if len(row) > 3 and row[3].strip() else unlabelled).append(row[2])
    return tuple(labelled), tuple(unlabelled)


FOREIGN_FIELDS = (
    "Informatique",
    "Diplôme d'ingénieur, Génie logiciel",
    "Betriebswirtschaftslehre",
    "Wirtschaftsinformatik",
    "Administración y Dirección de Empresas",
    "Ingeniería Industrial",
    "Economia e Commercio",
    "Marketing e Comunicação",
    "経営学",
    "计算机科学与技术",
    "Психология",
)
FIRST_NAMES = (
    "Alice", "Bruno", "Chloé", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Inès", "Jonas",
    "Karin", "Léa", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Søren", "Tariq",
    "Uma", "Víctor", "Wen", "Yusuf", "Zoë",
)  # fmt: skip
LAST_NAMES = (
    "Andersen", "Bianchi", "Çelik", "Dubois", "Eriksson", "Fernández", "García", "Haddad",
    "Ivanova", "Jansen", "Kowalski", "Lefèvre", "Müller", "Nakamura", "O'Brien", "Popescu",
    "Rossi", "Schmidt", "Tanaka", "Urbanek", "Van Dijk", "Wójcik", "Yilmaz", "Zhang",
)  # fmt: skip
LOCATIONS = (
    "Paris, Île-de-France, France", "Lyon, Auvergne-Rhône-Alpes, France", "Berlin, Germany",
    "London, England, United Kingdom", "Madrid, Community of Madrid, Spain",
    "Milan, Lombardy, Italy", "Amsterdam, North Holland, Netherlands", "New York, United States",
    "São Paulo, Brazil", "Tokyo, Japan", "Warsaw, Masovian District, Poland",
)  # fmt: skip
TITLES = (
    "Software Engineer", "Data Scientist", "Head of Sales", "Marketing Manager", "CFO",
    "Chief Executive Officer", "HR Business Partner", "Product Manager", "Account Executive",
    "Directeur commercial", "Ingénieur d'études", "Responsable marketing", "Consultant",
    "Operations Analyst", "Research Scientist", "Customer Success Manager",
)  # fmt: skip
INDUSTRIES = (
    "Technology, Information and Internet", "Software Development", "Financial Services",
    "Retail", "Hospital & Health Care", "Management Consulting", "Higher Education",
    "Manufacturing", "Telecommunications", "Staffing and Recruiting", "Automotive",
)  # fmt: skip
COMPANY_WORDS = (
    "Nova", "Atlas", "Blue", "Quantum", "Orbit", "Pixel", "Green", "Vertex", "Lumen", "Delta",
    "Helix", "North", "Cobalt", "Summit", "Iris", "Solaris",
)  # fmt: skip
COMPANY_SUFFIXES = ("Labs", "Group", "Systems", "Analytics", "SAS", "GmbH", "Partners", "AI")
SCHOOLS = (
    "HEC Paris", "ESSEC Business School", "Université Paris-Saclay", "ESILV", "TU München",
    "Universidad Complutense de Madrid", "Politecnico di Milano", "University of Oxford",
    "London School of Economics", "Stanford University", "University of Tokyo",
    "Uniwersytet Warszawski", "Open University",
)  # fmt: skip
DEGREES = (
    "Bachelor of Science - BS", "Master of Science - MS", "Master's degree", "Bachelor's degree",
    "MBA", "Licence", "Doctor of Philosophy - PhD", "Diplôme d'ingénieur",
)  # fmt: skip
SKILLS = (
    "Python", "SQL", "Leadership", "Project Management", "Negotiation", "Salesforce",
    "Machine Learning", "Excel", "Public Speaking", "Marketing numérique", "Gestion de projet",
    "Java", "Recruiting", "Financial Analysis", "Docker", "Customer Service", "Scrum",
)  # fmt: skip


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def _date(rng: random.Random, year: int, month: bool) -> dict[str, int]:
    value = {"year": year}
    if month:
        value = {"month": rng.randint(1, 12), "year": year}
    return value


def _field_of_study(rng: random.Random) -> str:
    labelled, unlabelled = _fields_of_study()
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(labelled)
    if roll < 0.90:
        return rng.choice(unlabelled)
    return rng.choice(FOREIGN_FIELDS)


def _schools(rng: random.Random, count: int | None = None) -> dict[str, Any]:
    if count is None:
        count = rng.choices((0, 1, 2, 3), weights=(10, 35, 35, 20))[0]
    history: list[dict[str, Any]] = []
    year = rng.randint(2008, 2024)
    for _ in range(count):
        entry: dict[str, Any] = {}
        dating = rng.random()
        if dating >= 0.30:
            dates: dict[str, Any] = {"start": _date(rng, year - rng.randint(1, 5), False)}
            if dating >= 0.45:
                dates["end"] = _date(rng, year, False)
            entry["startEndDate"] = dates
        field_of_study = _field_of_study(rng)
        degree = rng.choice(DEGREES)
        entry["schoolName"] = rng.choice(SCHOOLS)
        if rng.random() < 0.15:
            entry["degreeName"] = field_of_study
        else:
            entry["degreeName"] = degree
            entry["fieldOfStudy"] = field_of_study
        entry["schoolLogo"] = None
        entry["linkedInUrl"] = None
        history.append(entry)
        year -= rng.randint(1, 6)
    return {"educationsCount": count, "educationHistory": history}


def _company_name(rng: random.Random) -> str:
    return f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIXES)}"


def _positions(rng: random.Random, current_company: str | None) -> dict[str, Any]:
    count = rng.randint(1, 5)
    history = []
    year = rng.randint(2015, 2025)
    for index in range(count):
        company = current_company if index == 0 and current_company else _company_name(rng)
        dates: dict[str, Any] = {"start": _date(rng, year, True)}
        if index > 0:
            dates["end"] = _date(rng, year + rng.randint(1, 4), True)
        history.append(
            {
                "startEndDate": dates,
                "title": rng.choice(TITLES),
                "companyName": company,
                "companyLocation": rng.choice(LOCATIONS),
                "linkedInUrl": f"https://www.linkedin.com/company/{rng.randint(1000, 99999999)}/",
            }
        )
        year -= rng.randint(1, 5)
    return {"positionsCount": count, "positionHistory": history}


def _company_size(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.70:
        if rng.random() < 1 / 3:
            count = rng.choice(BOUNDARY_SIZES)
        else:
            kind = rng.randrange(3)
            count = (rng.randint(1, 48), rng.randint(51, 999), rng.randint(1002, 250_000))[kind]
        return {"employeeCount": count}
    start, end = rng.choice(SIZE_RANGES)
    size_range = {"start": start} if end is None else {"start": start, "end": end}
    if roll < 0.80:
        return {"employeeCount": 0, "employeeCountRange": size_range}
    if roll < 0.92:
        return {"employeeCountRange": size_range}
    return {}


def _company(rng: random.Random, name: str) -> dict[str, Any]:
    slug = _slug(name)
    company: dict[str, Any] = {
        "websiteUrl": f"https://{slug}.example",
        "name": name,
        "industry": rng.choice(INDUSTRIES),
        **_company_size(rng),
        "headquarter": {"city": rng.choice(LOCATIONS).split(",")[0]},
        "universalName": slug,
        "linkedinUrl": f"https://www.linkedin.com/company/{slug}/",
        "linkedinId": str(rng.randint(10_000, 99_999_999)),
    }
    return company


# The rich profile.

RICH_POOL_COMPANIES = 12_000
RICH_NAME_ONLY_COMPANIES = 3_000
COMPANY_STEMS = (
    "Nova", "Atlas", "Blue", "Quantum", "Orbit", "Pixel", "Green", "Vertex", "Lumen", "Delta",
    "Helix", "North", "Cobalt", "Summit", "Iris", "Solaris", "Arbor", "Beacon", "Cedar", "Crest",
    "Ember", "Falcon", "Granite", "Harbor", "Indigo", "Juniper", "Keystone", "Lynx", "Maple",
    "Meridian", "Nimbus", "Onyx", "Pioneer", "Quartz", "Redwood", "Sierra", "Tidal", "Umbra",
    "Vela", "Zenith",
)  # fmt: skip
LOCAL_WORDS = (
    "Conseil", "Consulting", "& Associés", "& Partners", "Boulangerie", "Immobilier", "Avocats",
    "Expertise", "Transports", "Bau GmbH", "Architectes", "Formation", "Studio", "Medical",
)  # fmt: skip
SKILL_VOCABULARY = (
    *SKILLS,
    "JavaScript", "TypeScript", "React", "Node.js", "Go", "Rust", "C++", "C#", "Kotlin", "Swift",
    "AWS", "Microsoft Azure", "Google Cloud Platform", "Kubernetes", "Terraform", "Linux",
    "PostgreSQL", "MongoDB", "Data Analysis", "Data Visualization", "Tableau", "Power BI",
    "Deep Learning", "Natural Language Processing", "Computer Vision", "Statistics", "R",
    "Pandas", "Spark", "Airflow", "ETL", "Data Engineering", "Business Intelligence",
    "Strategy", "Business Development", "Sales Management", "Account Management",
    "Key Account Management", "Lead Generation", "Cold Calling", "B2B", "SaaS", "CRM",
    "HubSpot", "Digital Marketing", "Content Marketing", "SEO", "SEM", "Google Ads",
    "Social Media Marketing", "Brand Management", "Copywriting", "Market Research",
    "Product Management", "Product Marketing", "User Experience (UX)", "UI Design", "Figma",
    "Agile Methodologies", "Kanban", "Jira", "Team Management", "Team Leadership", "Coaching",
    "Mentoring", "Change Management", "Stakeholder Management", "Risk Management",
    "Budgeting", "Forecasting", "Accounting", "Corporate Finance", "Financial Modeling",
    "Mergers & Acquisitions", "Private Equity", "Venture Capital", "Fundraising",
    "Investor Relations", "Auditing", "Tax", "Compliance", "Contract Negotiation",
    "Procurement", "Supply Chain Management", "Logistics", "Operations Management",
    "Lean Six Sigma", "Process Improvement", "Quality Assurance", "Software Testing",
    "DevOps", "Continuous Integration", "Git", "REST APIs", "Microservices",
    "Cloud Computing", "Cybersecurity", "Network Security", "IT Service Management",
    "Human Resources", "Talent Acquisition", "Employer Branding", "Onboarding",
    "Employee Relations", "Payroll", "Training", "E-commerce", "Retail", "Merchandising",
    "Event Planning", "Public Relations", "Communication", "Writing", "Research",
    "Teaching", "Healthcare", "Biotechnology", "Pharmaceutics", "Clinical Research",
    "Management", "Consulting", "Entrepreneurship", "Start-ups", "Innovation",
    "Design Thinking", "Problem Solving", "Analytical Skills", "Microsoft Office",
    "PowerPoint", "Word", "English", "Français", "Deutsch", "Español", "Relation client",
    "Développement commercial", "Management d'équipe", "Stratégie marketing",
    "Comptabilité", "Ressources humaines", "Vertrieb", "Projektmanagement",
)  # fmt: skip


@dataclass(frozen=True)
class _PoolCompany:
    name: str
    linkedin_id: str
    universal_name: str
    industry: str
    size: dict[str, Any]


@dataclass(frozen=True)
class _Pool:
    companies: tuple[_PoolCompany, ...]
    #: Cumulative popularity of ``companies`` (a few are far more frequent than the rest).
    weights: tuple[float, ...]
    name_only: tuple[str, ...]


def _variant(rng: random.Random, text: str) -> str:
    """``text`` spelt another way: other case, or other spacing."""
    roll = rng.randrange(4)
    if roll == 0:
        return text.lower()
    if roll == 1:
        return text.upper()
    if roll == 2:
        return text.replace(" ", "  ", 1) if " " in text else f" {text}"
    return f"{text} "


@cache
def _pool(seed: int) -> _Pool:
    """The companies every rich answer of ``seed`` draws from."""
    rng = random.Random(f"companies\x1f{seed}")
    stems = len(COMPANY_STEMS)
    names = []
    for index in range(RICH_POOL_COMPANIES):
        first = COMPANY_STEMS[index % stems]
        second = COMPANY_STEMS[(index // stems) % stems]
        suffix = COMPANY_SUFFIXES[(index // stems**2) % len(COMPANY_SUFFIXES)]
        names.append(f"{first} {suffix}" if first == second else f"{first} {second} {suffix}")
    rng.shuffle(names)
    ids = rng.sample(range(1_000, 99_999_999), RICH_POOL_COMPANIES)
    companies = tuple(
        _PoolCompany(
            name=name,
            linkedin_id=str(linkedin_id),
            universal_name=_slug(name),
            industry=rng.choice(INDUSTRIES),
            size=_company_size(rng),
        )
        for name, linkedin_id in zip(names, ids, strict=True)
    )
    weights = tuple(itertools.accumulate(1 / (rank + 20) for rank in range(len(companies))))
    name_only = []
    for _ in range(RICH_NAME_ONLY_COMPANIES):
        name = f"{rng.choice(LAST_NAMES)} {rng.choice(LOCAL_WORDS)}"
        name_only.append(_variant(rng, name) if rng.random() < 0.2 else name)
    return _Pool(companies, weights, tuple(name_only))


def _pool_company(rng: random.Random, pool: _Pool) -> _PoolCompany:
    return rng.choices(pool.companies, cum_weights=pool.weights)[0]


def _rich_date(rng: random.Random, year: int) -> dict[str, int]:
    return _date(rng, year, rng.random() >= 0.25)


def _rich_positions(rng: random.Random, pool: _Pool, current: _PoolCompany) -> dict[str, Any]:
    count = rng.randint(3, 9)
    history = []
    year = rng.randint(2016, 2025)
    for index in range(count):
        position: dict[str, Any] = {}
        if rng.random() >= 0.03:
            dates: dict[str, Any] = {"start": _rich_date(rng, year)}
            if index > 0:
                dates["end"] = _rich_date(rng, min(2025, year + rng.randint(0, 4)))
            position["startEndDate"] = dates
        position["title"] = rng.choice(TITLES)
        roll = rng.random()
        if index > 0 and roll < 0.12:
            position["companyName"] = rng.choice(pool.name_only)
        else:
            company = current if index == 0 else _pool_company(rng, pool)
            position["companyName"] = company.name
            link = rng.random()
            if link < 0.10:
                url = f"https://www.linkedin.com/company/{company.universal_name}"
            elif link < 0.25:
                url = f"https://www.linkedin.com/company/{company.linkedin_id}"
            elif link < 0.95 or index == 0:
                url = f"https://www.linkedin.com/company/{company.linkedin_id}/"
            else:
                url = None
            if url is not None:
                position["linkedInUrl"] = url
        position["companyLocation"] = rng.choice(LOCATIONS)
        history.append(position)
        year -= rng.randint(1, 4)
    return {"positionsCount": count, "positionHistory": history}


def _rich_company(rng: random.Random, company: _PoolCompany) -> dict[str, Any]:
    size = company.size if rng.random() >= 0.15 else _company_size(rng)
    return {
        "websiteUrl": f"https://{company.universal_name}.example",
        "name": company.name,
        "industry": company.industry,
        **size,
        "headquarter": {"city": rng.choice(LOCATIONS).split(",")[0]},
        "universalName": company.universal_name,
        "linkedinUrl": f"https://www.linkedin.com/company/{company.universal_name}/",
        "linkedinId": company.linkedin_id,
    }


def _rich_skills(rng: random.Random) -> list[str]:
    skills = rng.sample(SKILL_VOCABULARY, rng.randint(6, 17))
    return [_variant(rng, skill) if rng.random() < 0.10 else skill for skill in skills]


def _rich_answer(rng: random.Random, seed: int, body: dict[str, Any]) -> dict[str, Any]:
    pool = _pool(seed)
    shape = rng.random()
    has_person = shape >= SHARE_PERSON_NULL
    has_company = shape < SHARE_PERSON_NULL or shape >= SHARE_PERSON_NULL + SHARE_COMPANY_NULL
    current = _pool_company(rng, pool)
    if has_person:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        positions = _rich_positions(rng, pool, current)
        title = positions["positionHistory"][0]["title"]
        schools = _schools(rng, rng.choices((1, 2, 3, 4, 5, 6), weights=(5, 15, 30, 25, 15, 10))[0])
        body["person"] = {
            "publicIdentifier": f"{_slug(first)}-{_slug(last)}-{rng.randint(100, 999_999)}",
            "firstName": first,
            "lastName": last,
            "headline": f"{title} @ {current.name}",
            "location": rng.choice(LOCATIONS),
            "photoUrl": None,
            "followerCount": rng.randint(0, 20_000),
            "connectionCount": rng.randint(0, 500),
            "positions": positions,
            "schools": schools,
            "skills": _rich_skills(rng),
            "languages": rng.sample(["English", "Français", "Deutsch", "Español"], 2),
        }
    else:
        body["person"] = None
    body["company"] = _rich_company(rng, current) if has_company else None
    return body


def synthetic_answer(
    email: str, seed: int = 0, *, profile: Profile = "standard"
) -> tuple[int, dict[str, Any]]:
    """The synthetic answer for ``email``: (HTTP status, JSON body); deterministic per email
    (and ``seed`` and ``profile``).

    ``credits_left`` and ``rate_limit_left`` are placeholders the server fills in.
    """
    key = _normalise(email)
    rng = random.Random(hashlib.sha256(f"{seed}\x1f{key}".encode()).digest())
    roll = rng.random()
    if roll < SHARE_404:
        return 404, {"success": False, "msg": "No profile found for this email"}
    body: dict[str, Any] = {"success": True, "credits_left": 0, "rate_limit_left": 0}
    if roll < SHARE_404 + SHARE_UNSUCCESSFUL:
        return 200, {**body, "success": False, "msg": "Profile not found"}
    if profile == "rich":
        return 200, _rich_answer(rng, seed, body)
    shape = rng.random()
    has_person = shape >= SHARE_PERSON_NULL
    has_company = shape < SHARE_PERSON_NULL or shape >= SHARE_PERSON_NULL + SHARE_COMPANY_NULL
    company_name = _company_name(rng) if has_company else None
    if has_person:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        skills = rng.sample(SKILLS, rng.randint(0, 12))
        positions = _positions(rng, company_name)
        title = positions["positionHistory"][0]["title"]
        body["person"] = {
            "publicIdentifier": f"{_slug(first)}-{_slug(last)}-{rng.randint(100, 999_999)}",
            "firstName": first,
            "lastName": last,
            "headline": f"{title} @ {company_name or _company_name(rng)}",
            "location": rng.choice(LOCATIONS),
            "photoUrl": None,
            "followerCount": rng.randint(0, 20_000),
            "connectionCount": rng.randint(0, 500),
            "positions": positions,
            "schools": _schools(rng),
            "skills": skills,
            "languages": rng.sample(["English", "Français", "Deutsch", "Español"], 2),
        }
    else:
        body["person"] = None
    body["company"] = _company(rng, company_name) if company_name is not None else None
    return 200, body


def _retry_after_header(seconds: float) -> str:
    # Retry-After is whole seconds in HTTP; a configured fraction is sent as given.
    return str(max(1, math.ceil(seconds)))


def create_app(
    config: MockConfig | None = None, *, sales: SalesMockConfig | None = None
) -> FastAPI:
    """The mock enrichment API, and the mock sales API beside it (``GET /sales``).

    The enrichment mock's :class:`MockState` is ``app.state.mock``; the sales mock's
    (:mod:`leadpersona.adapters.mock_sales_api`, configured by ``sales``) ``app.state.sales``.
    """
    config = config or MockConfig()
    state = MockState(config)
    app = FastAPI(
        title="leadpersona mock enrichment API",
        description="Scrapin.io-format answers for testing (see leadpersona.adapters.mock_api)"
        " and synthetic sales (leadpersona.adapters.mock_sales_api).",
    )
    app.state.mock = state
    sales_state = SalesMockState(sales or SalesMockConfig())
    app.state.sales = sales_state
    app.include_router(sales_router(sales_state.config, sales_state))

    def answer(email: str, status: int, content: bytes, **headers: str) -> Response:
        state.by_status[status] += 1
        state.log.append((time.monotonic(), email, status))
        return Response(content, status_code=status, media_type="application/json", headers=headers)

    def error(email: str, status: int, message: str, **headers: str) -> Response:
        body = json.dumps({"success": False, "msg": message}).encode()
        return answer(email, status, body, **headers)

    @app.get("/get_linkedin_data")
    async def get_linkedin_data(request: Request, email: str = Query(...)) -> Response:
        key = _normalise(email)
        state.requests += 1
        state.arrivals.append((time.monotonic(), key))
        if config.api_key is not None:
            sent = request.headers.get(API_KEY_HEADER)
            if not sent:
                return error(key, 401, "missing API key")
            if sent != config.api_key:
                return error(key, 403, "invalid API key")
        wait = state.take_token()
        if wait is not None:
            retry_after = config.retry_after_s
            header = _retry_after_header(wait) if retry_after is None else f"{retry_after:g}"
            return error(key, 429, "rate limit exceeded", **{"Retry-After": header})
        attempt = state.attempts[key]
        state.attempts[key] += 1
        if config.latency_s:
            await asyncio.sleep(config.latency_s)
        roll = _unit(config.seed, key, attempt, "fault")
        if roll < config.timeout_rate:
            state.faults["timeout"] += 1
            await asyncio.sleep(config.hang_s)
        elif roll < config.timeout_rate + config.error_rate:
            state.faults["5xx"] += 1
            status = 503 if attempt % 2 else 500
            return error(key, status, "upstream failure")
        if config.mode == "fixture" or key == DEMO_EMAIL:
            status, content = 200, example_answer_bytes()
        else:
            status, body = synthetic_answer(key, config.seed, profile=config.profile)
            if status == 200 and "credits_left" in body:
                if body["success"]:
                    state.credits_left = max(0, state.credits_left - 1)
                body["credits_left"] = state.credits_left
                body["rate_limit_left"] = state.tokens_left()
            content = json.dumps(body, ensure_ascii=False).encode()
        if roll >= 1 - config.truncated_rate:
            state.faults["truncated"] += 1
            content = content[: len(content) // 2]
        return answer(key, status, content)

    return app
