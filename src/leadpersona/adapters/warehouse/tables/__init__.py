"""Warehouse tables, one module per group; importing this package registers them all."""

from leadpersona.adapters.warehouse.tables.base import Base
from leadpersona.adapters.warehouse.tables.leads import Lead, Persona
from leadpersona.adapters.warehouse.tables.linkedin import (
    Company,
    Education,
    Position,
    Skill,
    lead_skills,
)
from leadpersona.adapters.warehouse.tables.sync import SyncState

__all__ = [
    "Base",
    "Company",
    "Education",
    "Lead",
    "Persona",
    "Position",
    "Skill",
    "SyncState",
    "lead_skills",
]
