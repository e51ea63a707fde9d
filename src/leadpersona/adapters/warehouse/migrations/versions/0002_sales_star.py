"""Sales: dim_date, dim_product, dim_customer, fact_sales (partitioned by month on PostgreSQL),
sales_keys, sales_checkpoints, sales_loads, sales_quarantine.

Revision ID: 0002_sales_star
Revises: 0001_warehouse
Create Date: 2026-12-04 01:54:08.358912
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_sales_star"
down_revision = "0001_warehouse"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dim_date",
        sa.Column("date_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("quarter", sa.SmallInteger(), nullable=False),
        sa.Column("month", sa.SmallInteger(), nullable=False),
        sa.Column("day", sa.SmallInteger(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("is_weekend", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("date_id", name=op.f("pk_dim_date")),
        sa.UniqueConstraint("date", name=op.f("uq_dim_date_date")),
    )
    op.create_table(
        "dim_product",
        sa.Column("product_key", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("product_key", name=op.f("pk_dim_product")),
        sa.UniqueConstraint("sku", name=op.f("uq_dim_product_sku")),
    )
    with op.batch_alter_table("dim_product", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dim_product_category"), ["category"], unique=False)

    op.create_table(
        "sales_checkpoints",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sales_checkpoints")),
    )
    with op.batch_alter_table("sales_checkpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sales_checkpoints_source"), ["source"], unique=False)

    op.create_table(
        "sales_keys",
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("line_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("date_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "line_no", name=op.f("pk_sales_keys")),
    )
    op.create_table(
        "sales_loads",
        sa.Column("load_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("read", sa.BigInteger(), nullable=False),
        sa.Column("loaded", sa.BigInteger(), nullable=False),
        sa.Column("inserted", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.Column("quarantined", sa.BigInteger(), nullable=False),
        sa.Column("duplicates", sa.BigInteger(), nullable=False),
        sa.Column("cells_present", sa.BigInteger(), nullable=False),
        sa.Column("cells_required", sa.BigInteger(), nullable=False),
        sa.Column("files_failed", sa.Integer(), nullable=False),
        sa.Column("newest_order_date", sa.Date(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("load_id", "source", name=op.f("pk_sales_loads")),
    )
    with op.batch_alter_table("sales_loads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sales_loads_started_at"), ["started_at"], unique=False)

    op.create_table(
        "sales_quarantine",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("load_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("row", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.BigInteger(), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_quarantine")),
    )
    with op.batch_alter_table("sales_quarantine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sales_quarantine_load_id"), ["load_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sales_quarantine_quarantined_at"), ["quarantined_at"], unique=False
        )
        batch_op.create_index(
            "ix_sales_quarantine_source_location", ["source", "location"], unique=False
        )

    op.create_table(
        "dim_customer",
        sa.Column("customer_key", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("lead_id", sa.String(length=64), nullable=True),
        sa.Column("academic_field", sa.String(length=200), nullable=True),
        sa.Column("company_type", sa.String(length=32), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.lead_id"],
            name=op.f("fk_dim_customer_lead_id_leads"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("customer_key", name=op.f("pk_dim_customer")),
        sa.UniqueConstraint("email", "valid_from", name=op.f("uq_dim_customer_email_valid_from")),
    )
    with op.batch_alter_table("dim_customer", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dim_customer_email_is_current", ["email", "is_current"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_dim_customer_lead_id"), ["lead_id"], unique=False)
        batch_op.create_index(
            "ix_dim_customer_persona", ["academic_field", "company_type"], unique=False
        )

    op.create_table(
        "fact_sales",
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("line_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("date_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("product_key", sa.Integer(), nullable=False),
        sa.Column("customer_key", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("discount", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "line_no", "date_id", name=op.f("pk_fact_sales")),
        postgresql_partition_by="RANGE (date_id)",
    )
    with op.batch_alter_table("fact_sales", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fact_sales_customer_key"), ["customer_key"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_fact_sales_date_id"), ["date_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_fact_sales_product_key"), ["product_key"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("fact_sales", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fact_sales_product_key"))
        batch_op.drop_index(batch_op.f("ix_fact_sales_date_id"))
        batch_op.drop_index(batch_op.f("ix_fact_sales_customer_key"))

    # On PostgreSQL the monthly partitions the loads made go with their parent.
    op.drop_table("fact_sales")
    with op.batch_alter_table("dim_customer", schema=None) as batch_op:
        batch_op.drop_index("ix_dim_customer_persona")
        batch_op.drop_index(batch_op.f("ix_dim_customer_lead_id"))
        batch_op.drop_index("ix_dim_customer_email_is_current")

    op.drop_table("dim_customer")
    with op.batch_alter_table("sales_quarantine", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_quarantine_source_location")
        batch_op.drop_index(batch_op.f("ix_sales_quarantine_quarantined_at"))
        batch_op.drop_index(batch_op.f("ix_sales_quarantine_load_id"))

    op.drop_table("sales_quarantine")
    with op.batch_alter_table("sales_loads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_loads_started_at"))

    op.drop_table("sales_loads")
    op.drop_table("sales_keys")
    with op.batch_alter_table("sales_checkpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_checkpoints_source"))

    op.drop_table("sales_checkpoints")
    with op.batch_alter_table("dim_product", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dim_product_category"))

    op.drop_table("dim_product")
    op.drop_table("dim_date")
