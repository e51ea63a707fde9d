"""Deterministic synthetic order lines (SPEC section 7 records) for the mock sales API, the demo's
shop database and inbox files, and benchmarks.

Every day's lines come from that day alone (a generator seeded with ``seed`` and the date), so
the lines of a date range are the same whatever range they are asked within, and a day can be
generated on its own (the mock API pages by day). Same arguments, same records.

What a day holds (defaults): ``orders_per_day`` orders of 1-4 lines (60 / 25 / 10 / 5 %), each
at a time of day (``order_date`` is an ISO 8601 UTC date-time); products from a fixed catalogue
of :data:`PRODUCTS` in several categories, at their list price; a discount on a quarter of the
lines; EUR mostly, some USD and GBP (per order); 3 % of orders refunded, 2 % cancelled (every
line of the order). Customers (:func:`default_customers`) are mostly the demo's seeded leads
(:func:`leadpersona.services.seed.synthetic_lead`), some written in another letter case, plus
customers who are not leads; the demo lead buys every Monday (the first order of the day).

Optionally, a share of records is written in the other forms SPEC section 7 allows
(``messy_rate``: ``"1,234.50"``, ``"€12.30"``, ``"12.30 EUR"``, ``"15%"``, ``"3.0"``, ``"eur"``,
``"Completed"``) and a share is invalid (``invalid_rate``: a zero or negative quantity, a price
that is not a number, no customer, an unknown status or currency, an impossible date), so that
cleaning and quarantine have work. Those draws use their own generator: the order lines (keys,
products, customers) are the same whatever the rates.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from functools import lru_cache
from itertools import islice
from typing import Any

__all__ = [
    "CATEGORIES",
    "DEFAULT_ORDERS_PER_DAY",
    "PRODUCTS",
    "Product",
    "default_customers",
    "synthetic_day",
    "synthetic_lines",
    "synthetic_sales",
]

#: (sku, name, category, list price as text)
Product = tuple[str, str, str, str]

DEFAULT_ORDERS_PER_DAY = 20
#: Where :func:`synthetic_lines` starts when no start date is given.
DEFAULT_START = date(2026, 1, 1)

PRODUCTS: tuple[Product, ...] = (
    ("SW-CRM-001", "CRM Starter licence (1 seat, 1 year)", "Software", "290.00"),
    ("SW-CRM-002", "CRM Professional licence (1 seat, 1 year)", "Software", "790.00"),
    ("SW-BI-001", "BI Dashboard add-on", "Software", "149.00"),
    ("SW-SEC-001", "Endpoint security suite", "Software", "59.90"),
    ("SW-DEV-001", "Developer tools bundle", "Software", "1249.00"),
    ("SW-OFF-001", "Office suite (1 year)", "Software", "99.00"),
    ("HW-LAP-001", "Laptop 14 inch, 16 GB", "Hardware", "1399.00"),
    ("HW-LAP-002", "Laptop 16 inch, 32 GB", "Hardware", "2249.00"),
    ("HW-MON-001", "Monitor 27 inch 4K", "Hardware", "429.00"),
    ("HW-DCK-001", "USB-C docking station", "Hardware", "219.00"),
    ("HW-HDS-001", "Noise-cancelling headset", "Hardware", "179.50"),
    ("HW-KBD-001", "Wireless keyboard", "Hardware", "69.99"),
    ("TR-PY-001", "Python for data analysis (2 days)", "Training", "1150.00"),
    ("TR-SQL-001", "SQL fundamentals (1 day)", "Training", "590.00"),
    ("TR-LEAD-001", "Leadership essentials workshop", "Training", "890.00"),
    ("TR-SALES-001", "B2B negotiation masterclass", "Training", "1490.00"),
    ("BK-DATA-001", "Designing Data Pipelines (book)", "Books", "45.00"),
    ("BK-MKT-001", "Account-Based Marketing (book)", "Books", "32.50"),
    ("BK-MGT-001", "The Effective Manager (book)", "Books", "27.90"),
    ("BK-STAT-001", "Statistics for Decision Makers (book)", "Books", "54.00"),
    ("OF-CHR-001", "Ergonomic office chair", "Office", "349.00"),
    ("OF-DSK-001", "Standing desk", "Office", "599.00"),
    ("OF-LMP-001", "Desk lamp LED", "Office", "39.90"),
    ("OF-PPR-001", "Printer paper A4 (5 reams)", "Office", "24.95"),
    ("SV-CNS-001", "Consulting day", "Services", "1200.00"),
    ("SV-SUP-001", "Premium support (1 year)", "Services", "2400.00"),
    ("SV-ONB-001", "Onboarding package", "Services", "750.00"),
    ("SV-AUD-001", "Data quality audit", "Services", "3500.00"),
)
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(p[2] for p in PRODUCTS))

_LINE_COUNTS = (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 4)  # 60/25/10/5 %
_QUANTITIES = (1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 10, 25)
_DISCOUNTS = ("0.05", "0.1", "0.15", "0.2", "0.25")
_CURRENCIES = ("EUR",) * 17 + ("USD", "USD", "GBP")
# Out of 100 orders: 3 refunded, 2 cancelled.
_STATUS_ROLLS = ("refunded",) * 3 + ("cancelled",) * 2 + ("completed",) * 95

#: Seeded leads among the default customers, and customers who are not leads.
DEFAULT_LEAD_CUSTOMERS = 200
DEFAULT_OTHER_CUSTOMERS = 60


def _vary_case(email: str, index: int) -> str:
    """Some customers write their email in another letter case (one lead, many spellings)."""
    if index % 10 == 3:
        return email.upper()
    if index % 10 == 7:
        local, _, domain = email.partition("@")
        return f"{local.capitalize()}@{domain.upper()}"
    return email


@lru_cache(maxsize=8)
def default_customers(
    seed: int = 0,
    leads: int = DEFAULT_LEAD_CUSTOMERS,
    others: int = DEFAULT_OTHER_CUSTOMERS,
) -> tuple[str, ...]:
    """Customer emails: leads ``0 .. leads-1`` of ``leads seed --seed``, then ``others`` non-leads.

    Index 0 is the demo lead, as written; one lead in five is written in another letter case
    (upper-cased, or a capital first letter and an upper-cased domain).
    """
    # Imported here: the service module reaches MongoDB, which generating sales never needs.
    from leadpersona.services.seed import synthetic_lead

    emails = [_vary_case(synthetic_lead(i, seed=seed)["email"], i) for i in range(leads)]
    emails += [f"buyer{j}@shop-customers.example.net" for j in range(others)]
    return tuple(emails)


def _mess(record: dict[str, Any], rng: random.Random) -> None:
    """Rewrite one field of ``record`` in another form cleaning accepts."""
    kind = rng.randrange(6)
    price = record["unit_price"]
    if kind == 0:
        whole, _, cents = price.partition(".")
        # "1,234.50" (thousands separator) or "59,90" (decimal comma)
        record["unit_price"] = f"{int(whole):,}.{cents}" if len(whole) > 3 else f"{whole},{cents}"
    elif kind == 1:
        record["unit_price"] = f"€{price}" if record["currency"] == "EUR" else f"{price} EUR"
    elif kind == 2:
        record["discount"] = f"{round(float(record['discount']) * 100):d}%"
    elif kind == 3:
        record["quantity"] = f"{record['quantity']}.0"
    elif kind == 4:
        record["currency"] = record["currency"].lower()
    else:
        record["status"] = record["status"].capitalize()


_INVALID: tuple[tuple[str, Any], ...] = (
    ("quantity", 0),
    ("quantity", -2),
    ("unit_price", "n/a"),
    ("unit_price", "-12.00"),
    ("customer_email", None),
    ("customer_email", "not-an-email"),
    ("status", "shipped"),
    ("currency", "EURO"),
    ("order_date", "2026-13-45"),
    ("discount", "1.5"),
)


def synthetic_day(
    day: date,
    *,
    seed: int = 0,
    customers: Sequence[str] | None = None,
    orders_per_day: int = DEFAULT_ORDERS_PER_DAY,
    messy_rate: float = 0.0,
    invalid_rate: float = 0.0,
) -> list[dict[str, Any]]:
    """The order lines of ``day`` (see the module docstring), in order id and line order.

    Record values are what a JSON API would send: ``line_no`` and ``quantity`` are integers,
    prices and discounts decimal text, ``order_date`` an ISO 8601 UTC date-time.
    """
    pool = default_customers(seed) if customers is None else customers
    if not pool:
        raise ValueError("customers must not be empty")
    stamp = day.isoformat()
    rng = random.Random(f"leadpersona-sales:{seed}:{stamp}")
    mess = (
        random.Random(f"leadpersona-sales-mess:{seed}:{stamp}")
        if messy_rate or invalid_rate
        else None
    )
    compact = stamp.replace("-", "")
    monday = day.weekday() == 0
    records: list[dict[str, Any]] = []
    # rng.random() indexing: about twice as fast as rng.choice / rng.randrange.
    rand = rng.random
    customers_n, products_n = len(pool), len(PRODUCTS)
    for number in range(orders_per_day):
        pick = int(rand() * customers_n)
        customer = pool[0] if monday and number == 0 else pool[pick]
        seconds = int(rand() * 86_400)
        when = f"{stamp}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"
        currency = _CURRENCIES[int(rand() * len(_CURRENCIES))]
        status = _STATUS_ROLLS[int(rand() * len(_STATUS_ROLLS))]
        order_id = f"SO-{compact}-{number + 1:05d}"
        for line_no in range(1, _LINE_COUNTS[int(rand() * len(_LINE_COUNTS))] + 1):
            sku, name, category, price = PRODUCTS[int(rand() * products_n)]
            quantity = _QUANTITIES[int(rand() * len(_QUANTITIES))]
            roll = rand()
            discount = "0" if roll >= 0.25 else _DISCOUNTS[int(roll * 4 * len(_DISCOUNTS))]
            records.append(
                {
                    "order_id": order_id,
                    "line_no": line_no,
                    "order_date": when,
                    "customer_email": customer,
                    "product_sku": sku,
                    "product_name": name,
                    "category": category,
                    "quantity": quantity,
                    "unit_price": price,
                    "discount": discount,
                    "currency": currency,
                    "status": status,
                }
            )
    if mess is not None:
        for record in records:
            roll = mess.random()
            if roll < invalid_rate:
                name, value = mess.choice(_INVALID)
                record[name] = value
            elif roll < invalid_rate + messy_rate:
                _mess(record, mess)
    return records


def synthetic_sales(
    start: date,
    end: date,
    *,
    seed: int = 0,
    customers: Sequence[str] | None = None,
    orders_per_day: int = DEFAULT_ORDERS_PER_DAY,
    messy_rate: float = 0.0,
    invalid_rate: float = 0.0,
) -> Iterator[dict[str, Any]]:
    """The order lines dated ``start`` to ``end`` (both included), day by day."""
    if orders_per_day < 0:
        raise ValueError("orders_per_day must not be negative")
    for rate in (messy_rate, invalid_rate):
        if not 0 <= rate <= 1:
            raise ValueError("rates must be between 0 and 1")
    day = start
    while day <= end:
        yield from synthetic_day(
            day,
            seed=seed,
            customers=customers,
            orders_per_day=orders_per_day,
            messy_rate=messy_rate,
            invalid_rate=invalid_rate,
        )
        if day == date.max:
            break
        day += timedelta(days=1)


def synthetic_lines(
    count: int,
    *,
    start: date = DEFAULT_START,
    seed: int = 0,
    customers: Sequence[str] | None = None,
    orders_per_day: int = DEFAULT_ORDERS_PER_DAY,
    messy_rate: float = 0.0,
    invalid_rate: float = 0.0,
) -> Iterator[dict[str, Any]]:
    """The first ``count`` order lines from ``start`` on (as many days as it takes)."""
    if count > 0 and orders_per_day < 1:
        raise ValueError("orders_per_day must be at least 1 to make lines")
    return islice(
        synthetic_sales(
            start,
            date.max,
            seed=seed,
            customers=customers,
            orders_per_day=orders_per_day,
            messy_rate=messy_rate,
            invalid_rate=invalid_rate,
        ),
        max(0, count),
    )
