"""Synthetic order lines: deterministic, day by day, with the demo's leads among the customers."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from itertools import islice

import pytest

from leadpersona.domain.email import normalize_email
from leadpersona.domain.samples import DEMO_EMAIL
from leadpersona.sales.cleaning import SalesCleaner
from leadpersona.sales.records import FIELDS, STATUSES, raw_table
from leadpersona.sales.synthetic import (
    CATEGORIES,
    PRODUCTS,
    default_customers,
    synthetic_day,
    synthetic_lines,
    synthetic_sales,
)
from leadpersona.services.seed import synthetic_lead

JANUARY = (date(2026, 1, 1), date(2026, 1, 31))


def test_same_arguments_same_records() -> None:
    first = list(synthetic_sales(*JANUARY))
    assert first == list(synthetic_sales(*JANUARY))
    assert first != list(synthetic_sales(*JANUARY, seed=1))
    assert [tuple(r) for r in first[:1]] == [FIELDS]


def test_a_day_is_the_same_whatever_range_it_is_asked_in() -> None:
    january = list(synthetic_sales(*JANUARY))
    day = date(2026, 1, 15)
    assert [r for r in january if r["order_date"].startswith("2026-01-15")] == synthetic_day(day)
    assert list(synthetic_sales(day, day)) == synthetic_day(day)
    assert list(synthetic_sales(date(2026, 1, 2), date(2026, 1, 1))) == []


def test_volume_keys_and_order_structure() -> None:
    records = list(synthetic_sales(*JANUARY, orders_per_day=30))
    orders: defaultdict[str, list[int]] = defaultdict(list)
    for record in records:
        orders[record["order_id"]].append(record["line_no"])
    assert len(orders) == 31 * 30
    assert all(lines == list(range(1, len(lines) + 1)) for lines in orders.values())
    assert Counter(len(lines) > 1 for lines in orders.values())[True] > 0.3 * len(orders)
    keys = {(r["order_id"], r["line_no"]) for r in records}
    assert len(keys) == len(records)
    # every line of an order shares its date, customer, currency and status
    for field in ("order_date", "customer_email", "currency", "status"):
        per_order = defaultdict(set)
        for record in records:
            per_order[record["order_id"]].add(record[field])
        assert all(len(values) == 1 for values in per_order.values()), field


def test_products_statuses_discounts_and_currencies_vary() -> None:
    records = list(synthetic_sales(*JANUARY))
    catalogue = {sku: (name, category, price) for sku, name, category, price in PRODUCTS}
    for record in records:
        name, category, price = catalogue[record["product_sku"]]
        assert (record["product_name"], record["category"], record["unit_price"]) == (
            name,
            category,
            price,
        )
        assert record["quantity"] > 0
    assert {r["category"] for r in records} == set(CATEGORIES)
    assert len(CATEGORIES) >= 5
    statuses = Counter(r["status"] for r in records)
    assert set(statuses) == set(STATUSES)
    assert statuses["completed"] > 0.9 * len(records)
    discounted = sum(r["discount"] != "0" for r in records)
    assert 0.15 * len(records) < discounted < 0.35 * len(records)
    assert {r["currency"] for r in records} == {"EUR", "USD", "GBP"}


def test_customers_are_mostly_the_demo_leads_some_in_another_case() -> None:
    customers = default_customers()
    assert customers[0] == DEMO_EMAIL
    lead_emails = {normalize_email(synthetic_lead(i)["email"]) for i in range(200)}
    as_leads = [c for c in customers if normalize_email(c) in lead_emails]
    assert len(as_leads) == 200
    assert len(customers) - len(as_leads) > 0  # customers who are not leads
    other_case = [c for c in as_leads if c != normalize_email(c)]
    assert len(other_case) >= 30
    assert any(c == c.upper() for c in other_case)

    records = list(synthetic_sales(*JANUARY))
    bought = {r["customer_email"] for r in records}
    assert DEMO_EMAIL in bought  # every Monday
    assert any(c != normalize_email(c) and normalize_email(c) in lead_emails for c in bought)
    assert any(normalize_email(c) not in lead_emails for c in bought)


def test_customers_can_be_given() -> None:
    records = list(synthetic_sales(*JANUARY, customers=["a@x.example", "B@X.example"]))
    assert {r["customer_email"] for r in records} == {"a@x.example", "B@X.example"}
    with pytest.raises(ValueError, match="customers"):
        synthetic_day(JANUARY[0], customers=[])


def test_n_lines_quickly() -> None:
    lines = list(synthetic_lines(5000, start=date(2026, 3, 1)))
    assert len(lines) == 5000
    assert lines == list(islice(synthetic_sales(date(2026, 3, 1), date(2026, 12, 31)), 5000))
    assert list(synthetic_lines(0)) == []


def test_rates_change_values_not_lines() -> None:
    plain = list(synthetic_sales(*JANUARY))
    messy = list(synthetic_sales(*JANUARY, messy_rate=0.1, invalid_rate=0.02))
    assert [(r["order_id"], r["line_no"]) for r in messy] == [
        (r["order_id"], r["line_no"]) for r in plain
    ]
    changed = sum(a != b for a, b in zip(plain, messy, strict=True))
    assert 0.08 * len(plain) < changed < 0.14 * len(plain)
    with pytest.raises(ValueError, match="rates"):
        list(synthetic_sales(*JANUARY, messy_rate=2))


def test_messy_records_clean_like_plain_ones_and_invalid_ones_are_quarantined() -> None:
    start, end = JANUARY[0], JANUARY[0] + timedelta(days=13)
    plain = list(synthetic_sales(start, end))
    messy = list(synthetic_sales(start, end, messy_rate=0.3, invalid_rate=0.03))
    cleaner = SalesCleaner(today=date(2026, 12, 3))
    try:
        clean_plain = cleaner.clean(raw_table(plain))
        clean_messy = cleaner.clean(raw_table(messy))
    finally:
        cleaner.close()
    assert not clean_plain.rejected
    assert clean_plain.lines.num_rows == len(plain)
    rejected = {p.position for p in clean_messy.rejected}
    assert 0 < len(rejected) < 0.06 * len(messy)
    assert clean_messy.read == clean_messy.lines.num_rows + len(rejected) + clean_messy.duplicates
    key = ("order_id", "line_no")
    kept = {tuple(r[k] for k in key): r for r in clean_messy.lines.to_pylist()}
    expected = [
        r
        for r in clean_plain.lines.to_pylist()
        if tuple(r[k] for k in key) in kept  # the invalid ones are left out
    ]
    assert len(expected) == len(messy) - len(rejected)
    assert all(kept[tuple(r[k] for k in key)] == r for r in expected)
