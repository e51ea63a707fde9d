"""Domain models shared by every layer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Lead"]


class Lead(BaseModel):
    """A lead as stored in the ``leads`` collection (shape fixed by SPEC section 3)."""

    model_config = ConfigDict(frozen=True)

    id: str
    status: int = 0
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    photo_url: str | None = None
