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
from leadpersona.adapters.warehouse.tables.sales import (
    DimCustomer,
    DimDate,
    DimProduct,
    FactSale,
    SalesCheckpoint,
    SalesKey,
    SalesLoad,
    SalesMonthly,
    SalesMonthlyStale,
    SalesQuarantine,
)
from leadpersona.adapters.warehouse.tables.sync import SyncState

__all__ = [
    "Base",
    "Company",
    "DimCustomer",
    "DimDate",
    "DimProduct",
    "Education",
    "FactSale",
    "Lead",
    "Persona",
    "Position",
    "SalesCheckpoint",
    "SalesKey",
    "SalesLoad",
    "SalesMonthly",
    "SalesMonthlyStale",
    "SalesQuarantine",
    "Skill",
    "SyncState",
    "lead_skills",
]
