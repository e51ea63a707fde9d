"""What LinkedIn told us: companies, positions, skills / lead_skills, educations.

Company and skill ids are derived from their deduplication keys (a company's LinkedIn id or
URL, else its normalised name; a skill's normalised name), so any sync, full or incremental,
gives a company or a skill the same id.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Column, Date, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leadpersona.adapters.warehouse.tables.base import Base

if TYPE_CHECKING:
    from leadpersona.adapters.warehouse.tables.leads import Lead

__all__ = ["Company", "Education", "Position", "Skill", "lead_skills"]

lead_skills = Table(
    "lead_skills",
    Base.metadata,
    Column(
        "lead_id",
        ForeignKey("leads.lead_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "skill_id",
        ForeignKey("skills.skill_id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Company(Base):
    """One company, however many leads or positions name it."""

    __tablename__ = "companies"

    company_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(Text, index=True)
    linkedin_url: Mapped[str | None] = mapped_column(Text)
    employee_count: Mapped[int | None] = mapped_column(Integer)
    industry: Mapped[str | None] = mapped_column(Text)
    company_type: Mapped[str | None] = mapped_column(String(32), index=True)

    positions: Mapped[list[Position]] = relationship(back_populates="company")


class Position(Base):
    """One ``positionHistory`` entry of a lead, in the answer's order."""

    __tablename__ = "positions"

    lead_id: Mapped[str] = mapped_column(
        ForeignKey("leads.lead_id", ondelete="CASCADE"), primary_key=True
    )
    ordinal: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str | None] = mapped_column(
        ForeignKey("companies.company_id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str | None] = mapped_column(Text)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)

    lead: Mapped[Lead] = relationship(back_populates="positions")
    company: Mapped[Company | None] = relationship(back_populates="positions")


class Skill(Base):
    """One distinct skill (first spelling seen)."""

    __tablename__ = "skills"

    skill_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)

    leads: Mapped[list[Lead]] = relationship(
        secondary=lead_skills, back_populates="skills", passive_deletes=True
    )


class Education(Base):
    """One ``educationHistory`` entry of a lead, in the answer's order."""

    __tablename__ = "educations"

    lead_id: Mapped[str] = mapped_column(
        ForeignKey("leads.lead_id", ondelete="CASCADE"), primary_key=True
    )
    ordinal: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_name: Mapped[str | None] = mapped_column(Text)
    degree_name: Mapped[str | None] = mapped_column(Text)
    field_of_study: Mapped[str | None] = mapped_column(Text)
    start_year: Mapped[int | None] = mapped_column(Integer)
    end_year: Mapped[int | None] = mapped_column(Integer)

    lead: Mapped[Lead] = relationship(back_populates="educations")
