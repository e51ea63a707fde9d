"""``leads`` and ``personas``: one row per MongoDB lead, one per persona."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leadpersona.adapters.warehouse.tables.base import Base

if TYPE_CHECKING:
    from leadpersona.adapters.warehouse.tables.linkedin import Education, Position, Skill

__all__ = ["Lead", "Persona"]


class Lead(Base):
    """A lead as MongoDB holds it (email as written; ``email_key`` is the normalised form)."""

    __tablename__ = "leads"

    lead_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str | None] = mapped_column(Text)
    email_key: Mapped[str | None] = mapped_column(String(320), index=True)
    first_name: Mapped[str | None] = mapped_column(Text)
    last_name: Mapped[str | None] = mapped_column(Text)
    status: Mapped[int] = mapped_column(BigInteger, default=0)
    photo_url: Mapped[str | None] = mapped_column(Text)

    persona: Mapped[Persona | None] = relationship(
        back_populates="lead", uselist=False, cascade="all, delete-orphan", passive_deletes=True
    )
    positions: Mapped[list[Position]] = relationship(
        back_populates="lead",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Position.ordinal",
    )
    educations: Mapped[list[Education]] = relationship(
        back_populates="lead",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Education.ordinal",
    )
    skills: Mapped[list[Skill]] = relationship(
        secondary="lead_skills", back_populates="leads", passive_deletes=True
    )


class Persona(Base):
    """A lead's persona: the two segmentation features as columns, every feature as JSON."""

    __tablename__ = "personas"

    lead_id: Mapped[str] = mapped_column(
        ForeignKey("leads.lead_id", ondelete="CASCADE"), primary_key=True
    )
    academic_field: Mapped[str | None] = mapped_column(String(200), index=True)
    company_type: Mapped[str | None] = mapped_column(String(32), index=True)
    status: Mapped[str | None] = mapped_column(String(32))
    features: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime | None]
    #: The archived API answer the lead's positions, educations and skills come from.
    archive_id: Mapped[str | None] = mapped_column(String(64))

    lead: Mapped[Lead] = relationship(back_populates="persona")
