"""``sync_state``: the watermarks of warehouse syncs, committed with the rows they cover."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from leadpersona.adapters.warehouse.tables.base import Base

__all__ = ["SyncState"]


class SyncState(Base):
    """How far one source has been synced (``updated_at`` of the last row committed)."""

    __tablename__ = "sync_state"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    watermark: Mapped[datetime | None]
    #: The id of the last row at ``watermark``: rows sharing a timestamp are never skipped.
    watermark_id: Mapped[str | None] = mapped_column(String(64))
    synced_at: Mapped[datetime | None]
    #: Where the source's change log is read from next (a MongoDB change stream's resume
    #: token, as extended JSON): the ``leads`` row says which leads changed since.
    resume_token: Mapped[str | None] = mapped_column(Text)
