"""Warehouse sync: sync_state.resume_token, where the next sync reads MongoDB's change stream of
leads from (the leads added and deleted since the last sync, instead of walking every lead id).

Revision ID: 0005_sync_resume_token
Revises: 0004_sales_monthly_stale
Create Date: 2026-12-04 08:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_sync_resume_token"
down_revision = "0004_sales_monthly_stale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_state") as table:
        table.add_column(sa.Column("resume_token", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_state") as table:
        table.drop_column("resume_token")
