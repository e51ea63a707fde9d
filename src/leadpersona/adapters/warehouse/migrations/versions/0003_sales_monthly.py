"""Sales: sales_monthly, completed lines summed per customer row, month and currency (kept by
the load; filled here from the sales already stored).

Revision ID: 0003_sales_monthly
Revises: 0002_sales_star
Create Date: 2026-12-04 05:25:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_sales_monthly"
down_revision = "0002_sales_star"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sales_monthly",
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("customer_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("month", "customer_key", "currency", name=op.f("pk_sales_monthly")),
    )
    with op.batch_alter_table("sales_monthly", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sales_monthly_customer_key"), ["customer_key"], unique=False
        )
    op.execute(
        "INSERT INTO sales_monthly (month, customer_key, currency, revenue, orders, lines, "
        "quantity) SELECT date_id / 100, customer_key, currency, sum(amount), "
        "count(DISTINCT order_id), count(*), sum(quantity) FROM fact_sales "
        "WHERE status = 'completed' GROUP BY date_id / 100, customer_key, currency"
    )


def downgrade() -> None:
    with op.batch_alter_table("sales_monthly", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_monthly_customer_key"))

    op.drop_table("sales_monthly")
