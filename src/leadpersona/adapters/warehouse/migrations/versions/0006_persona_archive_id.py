"""Warehouse: personas.archive_id, the archived API answer a lead's positions, educations and
skills were mapped from (an incremental sync leaves them be while the answer stays the same).

Revision ID: 0006_persona_archive_id
Revises: 0005_sync_resume_token
Create Date: 2026-12-04 08:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_persona_archive_id"
down_revision = "0005_sync_resume_token"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("personas") as table:
        table.add_column(sa.Column("archive_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("personas") as table:
        table.drop_column("archive_id")
