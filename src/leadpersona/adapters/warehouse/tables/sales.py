"""The sales star schema (SPEC section 7) and the sales load's own bookkeeping.

Star: ``dim_date``, ``dim_product``, ``dim_customer`` (type 2 on the persona), ``fact_sales``
(one row per order line; range-partitioned by month on PostgreSQL, partitions made by the load);
``sales_monthly``, completed lines summed per customer row, month and currency, kept by the load
for the revenue report, with ``sales_monthly_stale``, the months whose rows wait for the load's
closing rebuild.
Bookkeeping: ``sales_checkpoints`` (each source's resume state, committed with the rows it
covers), ``sales_loads`` (counts and quality per load and source), ``sales_quarantine`` (the
rejected records with every reason).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leadpersona.adapters.warehouse.tables.base import Base
from leadpersona.adapters.warehouse.tables.leads import Lead

__all__ = [
    "BEGINNING_OF_TIME",
    "DimCustomer",
    "DimDate",
    "DimProduct",
    "FactSale",
    "SalesCheckpoint",
    "SalesKey",
    "SalesLoad",
    "SalesMonthly",
    "SalesMonthlyStale",
    "SalesQuarantine",
]

#: ``valid_from`` of a customer's first row: the beginning of time.
BEGINNING_OF_TIME = date(1, 1, 1)


class DimDate(Base):
    """One row per calendar day a sale fell on; ``date_id`` is ``YYYYMMDD``."""

    __tablename__ = "dim_date"

    date_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    date: Mapped[date] = mapped_column(Date, unique=True)
    year: Mapped[int] = mapped_column(SmallInteger)
    quarter: Mapped[int] = mapped_column(SmallInteger)
    month: Mapped[int] = mapped_column(SmallInteger)
    day: Mapped[int] = mapped_column(SmallInteger)
    #: ISO weekday: 1 Monday ... 7 Sunday.
    weekday: Mapped[int] = mapped_column(SmallInteger)
    is_weekend: Mapped[bool] = mapped_column(Boolean)


class DimProduct(Base):
    """One row per SKU; name and category as last seen."""

    __tablename__ = "dim_product"

    product_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(200), index=True)


class DimCustomer(Base):
    """A customer (normalised email) with the persona it had from ``valid_from`` up to (not
    including) ``valid_to``; the current row has no ``valid_to``."""

    __tablename__ = "dim_customer"
    __table_args__ = (
        UniqueConstraint("email", "valid_from"),
        Index("ix_dim_customer_email_is_current", "email", "is_current"),
        Index("ix_dim_customer_persona", "academic_field", "company_type"),
    )

    customer_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320))
    lead_id: Mapped[str | None] = mapped_column(
        ForeignKey("leads.lead_id", ondelete="SET NULL"), index=True
    )
    academic_field: Mapped[str | None] = mapped_column(String(200))
    company_type: Mapped[str | None] = mapped_column(String(32))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    is_current: Mapped[bool] = mapped_column(Boolean)

    lead: Mapped[Lead | None] = relationship()


class FactSale(Base):
    """One order line. On PostgreSQL partitioned by ``date_id`` ranges, one partition a month
    (``fact_sales_yYYYYmMM``), so the key includes ``date_id``; (order_id, line_no) is unique
    by the load's rule (a later record replaces the earlier one), and the key's index serves
    lookups by it.

    The dimension keys are not declared as foreign keys: the load writes a batch's dimension
    rows before its facts in the same transaction, and PostgreSQL's per-row foreign-key checks
    took about 40 % of the load's time (``docs/decisions/sales.md``). The relationships below
    still navigate them.
    """

    __tablename__ = "fact_sales"
    __table_args__ = ({"postgresql_partition_by": "RANGE (date_id)"},)

    order_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    date_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, index=True)
    product_key: Mapped[int] = mapped_column(Integer, index=True)
    customer_key: Mapped[int] = mapped_column(Integer, index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    discount: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))

    date: Mapped[DimDate] = relationship(
        primaryjoin="foreign(FactSale.date_id) == DimDate.date_id", viewonly=True
    )
    product: Mapped[DimProduct] = relationship(
        primaryjoin="foreign(FactSale.product_key) == DimProduct.product_key", viewonly=True
    )
    customer: Mapped[DimCustomer] = relationship(
        primaryjoin="foreign(FactSale.customer_key) == DimCustomer.customer_key", viewonly=True
    )


class SalesKey(Base):
    """Where each sale is: (order_id, line_no) → the ``date_id`` of its ``fact_sales`` row.

    PostgreSQL has no unique index across partitions; this table is that index. It enforces
    one row per order line; a load copies a batch's keys into it first, and only when its
    primary key refuses them (some line is stored already) does the batch take the slower,
    staged path. Probing the partitioned ``fact_sales`` itself meant a scan of every stored
    line per batch.
    """

    __tablename__ = "sales_keys"

    order_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    date_id: Mapped[int] = mapped_column(Integer)


class SalesMonthly(Base):
    """Completed order lines summed per customer row, month (``YYYYMM``) and currency.

    A batch records the months it changed (those of its lines and of the lines it superseded)
    in ``sales_monthly_stale``, in its own transaction; the load rebuilds the rows of those
    months once at its end (and at its start, finishing a load that was killed), and the rows
    of the customer rows a type 2 change moved sales between. Outside the stale months it
    always equals aggregating ``fact_sales``; the reports take the stale months from the lines.
    ``orders`` counts the distinct orders of that customer row, month and currency. The
    revenue report joins it to ``dim_customer`` (the row valid at each sale's date) instead of
    reading every line.
    """

    __tablename__ = "sales_monthly"

    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    customer_key: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=False, index=True
    )
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    revenue: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    orders: Mapped[int] = mapped_column(Integer)
    lines: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(BigInteger)


class SalesMonthlyStale(Base):
    """A month (``YYYYMM``) whose ``sales_monthly`` rows may not match ``fact_sales``: committed
    with the batch that changed its lines, removed when the month's rows are rebuilt."""

    __tablename__ = "sales_monthly_stale"

    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class SalesCheckpoint(Base):
    """Where a source resumes: an API date range's next cursor, a file's ledger entry (by
    content hash), the shop database's keyset."""

    __tablename__ = "sales_checkpoints"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), index=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]


class SalesLoad(Base):
    """Counts and quality of one load of one source (read = loaded + quarantined + duplicates)."""

    __tablename__ = "sales_loads"

    load_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    read: Mapped[int] = mapped_column(BigInteger, default=0)
    loaded: Mapped[int] = mapped_column(BigInteger, default=0)
    inserted: Mapped[int] = mapped_column(BigInteger, default=0)
    updated: Mapped[int] = mapped_column(BigInteger, default=0)
    quarantined: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Required cells that were not empty, and how many there were.
    cells_present: Mapped[int] = mapped_column(BigInteger, default=0)
    cells_required: Mapped[int] = mapped_column(BigInteger, default=0)
    files_failed: Mapped[int] = mapped_column(Integer, default=0)
    #: The newest order date this source has in ``fact_sales`` once the load ended.
    newest_order_date: Mapped[date | None] = mapped_column(Date)
    error: Mapped[str | None] = mapped_column(Text)


class SalesQuarantine(Base):
    """A rejected sales record: where it was read, what it held, every reason."""

    __tablename__ = "sales_quarantine"
    __table_args__ = (Index("ix_sales_quarantine_source_location", "source", "location"),)

    #: Stable per source record (source, location, record number, values): written once.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    load_id: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(Text)
    row: Mapped[int] = mapped_column(BigInteger)
    line: Mapped[int | None] = mapped_column(BigInteger)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    quarantined_at: Mapped[datetime] = mapped_column(index=True)
