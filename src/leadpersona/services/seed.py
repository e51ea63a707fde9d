"""``leadpersona leads seed``: deterministic synthetic leads, the demo lead first.

Lead number ``i`` of seed ``s`` is always the same lead (id, names, email, photo), whatever
``count`` is: seeding is idempotent (same count: nothing added) and incremental (a larger count
adds the difference). Emails live under the ``example.*`` domains reserved for examples; the
built-in mock API answers any email, so every seeded lead can be enriched.
"""

from __future__ import annotations

import random
import unicodedata
from typing import Any

from pydantic import BaseModel

from leadpersona.adapters.repositories import LeadRepository
from leadpersona.domain.email import normalize_email
from leadpersona.domain.lead_rows import derived_uuid4_hex
from leadpersona.domain.models import Lead
from leadpersona.domain.samples import DEMO_EMAIL, DEMO_FIRST_NAME, DEMO_LAST_NAME
from leadpersona.errors import InvalidInput

__all__ = ["SeedReport", "seed_leads", "synthetic_lead"]

MAX_COUNT = 10_000_000
_CHUNK = 1000

_FIRST_NAMES = (
    "Amélie", "Aiko", "Amara", "Anders", "Ana", "Bianca", "Björn", "Camille", "Chen", "Chloé",
    "Daniel", "Deepa", "Élodie", "Emma", "Fatima", "Felipe", "Grace", "Hannah", "Hugo", "Ines",
    "Ivan", "Jakob", "Jonas", "Julia", "Karim", "Kenji", "Laura", "Léa", "Lucas", "Maria",
    "Mateo", "Mei", "Nadia", "Noah", "Olivia", "Omar", "Priya", "Rafael", "Sofia", "Thomas",
    "Yara", "Zoë",
)  # fmt: skip
_LAST_NAMES = (
    "Andersen", "Bauer", "Becker", "Bernard", "Costa", "Dubois", "Fischer", "García", "Hansen",
    "Ito", "Jensen", "Kowalski", "Kumar", "Lambert", "Larsen", "Martin", "Moreau", "Müller",
    "Nakamura", "Nguyen", "Novak", "O'Brien", "Okafor", "Petit", "Rossi", "Santos", "Schmidt",
    "Silva", "Smith", "Suzuki", "Tanaka", "Van Dijk", "Wagner", "Wang", "Weber", "Yilmaz",
)  # fmt: skip
_DOMAINS = (
    "example.com", "example.org", "example.net", "acme.example.com", "globex.example.org",
    "initech.example.net", "umbrella.example.com", "hooli.example.org",
)  # fmt: skip
_STATUSES = (0, 0, 0, 0, 1, 1, 2, 3)


class SeedReport(BaseModel):
    """What ``leads seed`` did."""

    requested: int
    inserted: int
    existing: int
    seed: int
    demo_email: str = DEMO_EMAIL


def _ascii_slug(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def synthetic_lead(index: int, *, seed: int = 0) -> dict[str, Any]:
    """Lead number ``index`` of ``seed`` as a ``leads`` document; index 0 is the demo lead."""
    lead_id = derived_uuid4_hex("lead-seed", seed, index)
    if index == 0:
        return {
            "_id": lead_id,
            "status": 0,
            "first_name": DEMO_FIRST_NAME,
            "last_name": DEMO_LAST_NAME,
            "email": DEMO_EMAIL,
            "photo_url": f"https://images.example.com/leads/{lead_id}.jpg",
        }
    rng = random.Random(f"leadpersona-seed:{seed}:{index}")
    first = rng.choice(_FIRST_NAMES)
    last = rng.choice(_LAST_NAMES)
    domain = rng.choice(_DOMAINS)
    # The index keeps every email unique; the mock API answers any email.
    email = f"{_ascii_slug(first)}.{_ascii_slug(last)}.{index}@{domain}"
    has_photo = rng.random() >= 0.25
    return {
        "_id": lead_id,
        "status": rng.choice(_STATUSES),
        "first_name": first,
        "last_name": last,
        "email": email,
        "photo_url": f"https://images.example.com/leads/{lead_id}.jpg" if has_photo else None,
    }


async def seed_leads(leads: LeadRepository, count: int, *, seed: int = 0) -> SeedReport:
    """Make sure synthetic leads ``0 .. count-1`` of ``seed`` exist; add the missing ones.

    A lead is "existing" when its id or its email is already stored (an imported lead with the
    demo email counts as the demo lead).
    """
    if not 1 <= count <= MAX_COUNT:
        raise InvalidInput(f"count must be between 1 and {MAX_COUNT}, not {count}")
    await leads.register_email_keys()
    inserted = 0
    for start in range(0, count, _CHUNK):
        documents = [synthetic_lead(i, seed=seed) for i in range(start, min(count, start + _CHUNK))]
        losers = set(
            await leads.claim_email_keys(
                [(normalize_email(d["email"]), d["_id"], d["email"]) for d in documents]
            )
        )
        inserted += await leads.add_new(
            [
                Lead(id=d["_id"], **{k: v for k, v in d.items() if k != "_id"})
                for i, d in enumerate(documents)
                if i not in losers
            ]
        )
    return SeedReport(requested=count, inserted=inserted, existing=count - inserted, seed=seed)
