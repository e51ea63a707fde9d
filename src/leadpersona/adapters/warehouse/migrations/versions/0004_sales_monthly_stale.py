"""Sales: sales_monthly_stale, the months whose sales_monthly rows the load rebuilds at its end
(a batch records the months it changed instead of rebuilding them).

Revision ID: 0004_sales_monthly_stale
Revises: 0003_sales_monthly
Create Date: 2026-12-04 06:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_sales_monthly_stale"
down_revision = "0003_sales_monthly"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sales_monthly_stale",
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_sales_monthly_stale")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Known empty: else planned as 2,550 rows until analysed (see finish_stale).
        op.execute("ANALYZE sales_monthly_stale")


def downgrade() -> None:
    op.drop_table("sales_monthly_stale")
