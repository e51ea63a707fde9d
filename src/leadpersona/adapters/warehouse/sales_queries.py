"""Read queries over the sales star schema: revenue by persona, quality per load, quarantine.

Revenue counts ``completed`` lines only (refunded and cancelled lines stay in ``fact_sales`` and
are left out) and is never summed across currencies. Revenue by persona and month reads
``sales_monthly`` (completed lines already summed per customer row, month and currency, kept by
the load), and the lines of the months a load has changed but not yet rebuilt there
(``sales_monthly_stale``), so it is exact at every moment; groupings it cannot answer read
``fact_sales``, where months come from ``date_id``
(YYYYMMDD) without a join and a month filter is a ``date_id`` range, so PostgreSQL reads only
that month's partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    and_,
    cast,
    desc,
    distinct,
    func,
    literal,
    or_,
    select,
    union_all,
)

from leadpersona.adapters.warehouse.tables import (
    DimCustomer,
    DimProduct,
    FactSale,
    Lead,
    Persona,
    SalesLoad,
    SalesMonthly,
    SalesMonthlyStale,
    SalesQuarantine,
)
from leadpersona.errors import InvalidInput

__all__ = [
    "GROUPINGS",
    "conversion_by_persona",
    "load_quality",
    "month_range",
    "quarantined_sales",
    "revenue_by_persona",
    "revenue_query",
    "top_products",
]

FACT = FactSale.__table__
CUSTOMER = DimCustomer.__table__
PRODUCT = DimProduct.__table__
LOADS = SalesLoad.__table__
QUARANTINE = SalesQuarantine.__table__
LEADS = Lead.__table__
PERSONAS = Persona.__table__
MONTHLY = SalesMonthly.__table__
STALE = SalesMonthlyStale.__table__

#: What revenue can be grouped by (besides month and currency).
GROUPINGS = {
    "academic_field": CUSTOMER.c.academic_field,
    "company_type": CUSTOMER.c.company_type,
    "category": PRODUCT.c.category,
}


def month_range(month: str) -> tuple[int, int]:
    """``YYYY-MM`` as the ``date_id`` range [from, to)."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise InvalidInput(f"--month must look like YYYY-MM, not {month!r}") from None
    low = first.year * 10000 + first.month * 100
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return low, following.year * 10000 + following.month * 100


def _money(value: Any) -> str:
    return str(Decimal(str(value or 0)).quantize(Decimal("0.01")))


def revenue_query(
    by: Sequence[str],
    *,
    month: str | None = None,
    by_month: bool = True,
    from_facts: bool = False,
) -> Select[Any]:
    """The statement behind :func:`revenue_by_persona` (for plans and benchmarks).

    Two levels: completed lines summed per customer row (an integer key), month and currency,
    with that customer's distinct orders there (an order has one customer and one date, so
    these counts add up), are joined to ``dim_customer`` and grouped by persona, counting
    distinct emails. The first level is ``sales_monthly`` when the report is by month and not
    by product category (8,568 rows for 1,000,000 lines); otherwise, or with ``from_facts``,
    it is computed from ``fact_sales``. (Summing a customer's monthly order counts over months
    would count twice an order whose lines carry dates in two months, so a report over all
    months at once reads the lines.) Counting distinct orders over every line of every
    persona at once made PostgreSQL sort all lines by text keys (2.3 s at 1,000,000 lines).
    """
    unknown = [name for name in by if name not in GROUPINGS]
    if unknown:
        raise InvalidInput(
            f"cannot group sales by {', '.join(unknown)}: use {', '.join(GROUPINGS)}"
        )
    month_id = (cast(FACT.c.date_id // 100, Integer) if by_month else literal(0)).label("month_id")
    product_groups = [PRODUCT.c[name].label(name) for name in by if name == "category"]
    if by_month and not product_groups and not from_facts:
        summary = select(
            MONTHLY.c.customer_key,
            MONTHLY.c.month.label("month_id"),
            MONTHLY.c.currency,
            MONTHLY.c.revenue,
            MONTHLY.c.orders,
            MONTHLY.c.lines,
        ).where(MONTHLY.c.month.not_in(select(STALE.c.month)))
        # Months a load changed and has not rebuilt yet: summed from their lines (none
        # outside a load; the stale months drive the join, so nothing else is read).
        stale = (
            select(
                FACT.c.customer_key,
                STALE.c.month.label("month_id"),
                FACT.c.currency,
                func.sum(FACT.c.amount).label("revenue"),
                func.count(distinct(FACT.c.order_id)).label("orders"),
                func.count().label("lines"),
            )
            .select_from(STALE.join(FACT, _in_month(STALE.c.month)))
            .where(FACT.c.status == "completed")
            .group_by(STALE.c.month, FACT.c.customer_key, FACT.c.currency)
        )
        if month is not None:
            low, high = month_range(month)
            summary = summary.where(MONTHLY.c.month == low // 100)
            stale = stale.where(
                STALE.c.month == low // 100, FACT.c.date_id >= low, FACT.c.date_id < high
            )
        return _by_persona(union_all(summary, stale).cte("per_customer"), by)
    lines = FACT
    if product_groups:
        lines = FACT.join(PRODUCT, PRODUCT.c.product_key == FACT.c.product_key)
    per_customer = (
        select(
            FACT.c.customer_key,
            month_id,
            FACT.c.currency,
            *product_groups,
            func.sum(FACT.c.amount).label("revenue"),
            func.count(distinct(FACT.c.order_id)).label("orders"),
            func.count().label("lines"),
        )
        .select_from(lines)
        .where(FACT.c.status == "completed")
        .group_by(FACT.c.customer_key, month_id, FACT.c.currency, *product_groups)
    )
    if month is not None:
        low, high = month_range(month)
        per_customer = per_customer.where(FACT.c.date_id >= low, FACT.c.date_id < high)
    return _by_persona(per_customer.cte("per_customer"), by)


def _in_month(month: Any) -> Any:
    """``fact_sales`` lines dated in ``month`` (``YYYYMM``): a ``date_id`` range."""
    return and_(FACT.c.date_id >= month * 100, FACT.c.date_id < month * 100 + 100)


def _by_persona(sums: Any, by: Sequence[str]) -> Select[Any]:
    keys = [sums.c[name] if name == "category" else CUSTOMER.c[name].label(name) for name in by]
    return (
        select(
            *keys,
            sums.c.month_id,
            sums.c.currency,
            func.sum(sums.c.revenue).label("revenue"),
            func.sum(sums.c.orders).label("orders"),
            func.count(distinct(CUSTOMER.c.email)).label("customers"),
            func.sum(sums.c.lines).label("lines"),
        )
        .select_from(sums.join(CUSTOMER, CUSTOMER.c.customer_key == sums.c.customer_key))
        .group_by(*keys, sums.c.month_id, sums.c.currency)
    )


def revenue_by_persona(
    connection: Connection,
    by: Sequence[str],
    *,
    month: str | None = None,
    by_month: bool = True,
    from_facts: bool = False,
) -> list[dict[str, Any]]:
    """Revenue, orders, customers and lines per grouping, month (unless not ``by_month``) and
    currency; ``from_facts`` sums the lines even where ``sales_monthly`` could answer."""
    query = revenue_query(by, month=month, by_month=by_month, from_facts=from_facts)
    result = []
    for row in connection.execute(query):
        item = {name: getattr(row, name) for name in by}
        key = int(row.month_id)
        item.update(
            month=f"{key // 100:04d}-{key % 100:02d}" if by_month else month,
            currency=row.currency,
            revenue=_money(row.revenue),
            orders=int(row.orders),
            customers=int(row.customers),
            lines=int(row.lines),
        )
        result.append(item)
    result.sort(
        key=lambda r: (
            str(r["month"]),
            r["currency"],
            -Decimal(r["revenue"]),
            *map(str, r.values()),
        )
    )
    return result


def top_products(
    connection: Connection, *, per_persona: int = 3, month: str | None = None
) -> list[dict[str, Any]]:
    """The best-selling products (completed revenue) of each academic field and company type."""
    joined = FACT.join(CUSTOMER, CUSTOMER.c.customer_key == FACT.c.customer_key).join(
        PRODUCT, PRODUCT.c.product_key == FACT.c.product_key
    )
    query = (
        select(
            CUSTOMER.c.academic_field,
            CUSTOMER.c.company_type,
            PRODUCT.c.sku,
            PRODUCT.c.name,
            FACT.c.currency,
            func.sum(FACT.c.amount).label("revenue"),
            func.sum(FACT.c.quantity).label("quantity"),
        )
        .select_from(joined)
        .where(FACT.c.status == "completed")
        .group_by(
            CUSTOMER.c.academic_field,
            CUSTOMER.c.company_type,
            PRODUCT.c.sku,
            PRODUCT.c.name,
            FACT.c.currency,
        )
    )
    if month is not None:
        low, high = month_range(month)
        query = query.where(FACT.c.date_id >= low, FACT.c.date_id < high)
    ranked: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in connection.execute(query):
        ranked.setdefault((row.academic_field, row.company_type, row.currency), []).append(
            {
                "academic_field": row.academic_field,
                "company_type": row.company_type,
                "sku": row.sku,
                "name": row.name,
                "currency": row.currency,
                "revenue": _money(row.revenue),
                "quantity": int(row.quantity or 0),
            }
        )
    result = []
    for key in sorted(ranked, key=lambda k: tuple(str(part) for part in k)):
        items = sorted(ranked[key], key=lambda r: (-Decimal(r["revenue"]), r["sku"]))
        result.extend(items[:per_persona])
    return result


def _freshness(newest: date | None, finished: datetime | None) -> float | None:
    if newest is None or finished is None:
        return None
    if finished.tzinfo is None:
        finished = finished.replace(tzinfo=UTC)
    end = datetime.combine(newest + timedelta(days=1), time.min, tzinfo=UTC)
    return round(max((finished - end).total_seconds(), 0) / 3600, 2)


def load_quality(connection: Connection, *, limit: int = 20) -> list[dict[str, Any]]:
    """The last loads, newest first, one row per source, with their quality measures."""
    loads = select(LOADS.c.load_id).group_by(LOADS.c.load_id)
    recent = loads.order_by(desc(func.max(LOADS.c.started_at))).limit(limit).subquery()
    rows = connection.execute(
        select(LOADS)
        .where(LOADS.c.load_id.in_(select(recent.c.load_id)))
        .order_by(desc(LOADS.c.started_at), LOADS.c.source)
    )
    result = []
    for row in rows:
        valid = row.read - row.quarantined
        result.append(
            {
                "load_id": row.load_id,
                "source": row.source,
                "status": row.status,
                "started_at": row.started_at,
                "finished_at": row.finished_at,
                "read": row.read,
                "loaded": row.loaded,
                "inserted": row.inserted,
                "updated": row.updated,
                "quarantined": row.quarantined,
                "duplicates": row.duplicates,
                "files_failed": row.files_failed,
                "completeness": round(row.cells_present / row.cells_required, 4)
                if row.cells_required
                else 1.0,
                "validity": round(valid / row.read, 4) if row.read else 1.0,
                "uniqueness": round(row.loaded / valid, 4) if valid else 1.0,
                "newest_order_date": row.newest_order_date,
                "freshness_hours": _freshness(row.newest_order_date, row.finished_at),
                "error": row.error,
            }
        )
    return result


def quarantined_sales(
    connection: Connection,
    *,
    limit: int = 100,
    source: str | None = None,
    load_id: str | None = None,
) -> list[dict[str, Any]]:
    """Rejected sales records, newest first, with where they were read and every reason."""
    query = select(QUARANTINE).order_by(
        desc(QUARANTINE.c.quarantined_at), QUARANTINE.c.location, QUARANTINE.c.row
    )
    if source is not None:
        query = query.where(QUARANTINE.c.source == source)
    if load_id is not None:
        query = query.where(QUARANTINE.c.load_id == load_id)
    return [
        {
            "id": row.id,
            "load_id": row.load_id,
            "source": row.source,
            "location": row.location,
            "row": row.row,
            "line": row.line,
            "raw": row.raw,
            "reasons": row.reasons,
            "quarantined_at": row.quarantined_at,
        }
        for row in connection.execute(query.limit(limit))
    ]


def conversion_by_persona(connection: Connection) -> list[dict[str, Any]]:
    """Leads per academic field and company type, and how many of them bought: a lead is a
    customer when a completed sale belongs to a customer row linked to it (``sales_monthly``
    has a row for a customer row exactly when it has a completed sale, outside the stale
    months, whose lines are read instead)."""
    linked = CUSTOMER.c.lead_id == LEADS.c.lead_id
    in_summary = (
        select(CUSTOMER.c.customer_key)
        .select_from(CUSTOMER.join(MONTHLY, MONTHLY.c.customer_key == CUSTOMER.c.customer_key))
        .where(linked, MONTHLY.c.month.not_in(select(STALE.c.month)))
        .exists()
    )
    in_stale_months = (
        select(CUSTOMER.c.customer_key)
        .select_from(
            STALE.join(FACT, _in_month(STALE.c.month)).join(
                CUSTOMER, CUSTOMER.c.customer_key == FACT.c.customer_key
            )
        )
        .where(linked, FACT.c.status == "completed")
        .exists()
    )
    bought = or_(in_summary, in_stale_months)
    query = (
        select(
            PERSONAS.c.academic_field,
            PERSONAS.c.company_type,
            func.count().label("leads"),
            func.count().filter(bought).label("customers"),
        )
        .select_from(LEADS.outerjoin(PERSONAS, PERSONAS.c.lead_id == LEADS.c.lead_id))
        .group_by(PERSONAS.c.academic_field, PERSONAS.c.company_type)
    )
    rows = [
        {
            "academic_field": row.academic_field,
            "company_type": row.company_type,
            "leads": int(row.leads),
            "customers": int(row.customers),
            "conversion": round(int(row.customers) / int(row.leads), 4) if row.leads else 0.0,
        }
        for row in connection.execute(query)
    ]
    rows.sort(key=lambda r: (-r["customers"], -r["leads"], str(r["academic_field"])))
    return rows
