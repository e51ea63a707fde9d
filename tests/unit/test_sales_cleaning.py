"""Cleaning raw sales records: the messy forms SPEC section 7 allows, and every rejection."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from leadpersona.sales.cleaning import SalesCleaner
from leadpersona.sales.records import raw_table

TODAY = date(2026, 12, 3)


def good(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "order_id": "O-1",
        "line_no": "1",
        "order_date": "2026-01-05",
        "customer_email": "ann@example.com",
        "product_sku": "SKU-1",
        "product_name": "Widget",
        "category": "Tools",
        "quantity": "2",
        "unit_price": "10.00",
    }
    record.update(changes)
    return record


@pytest.fixture
def cleaner() -> Any:
    cleaner = SalesCleaner(today=TODAY)
    yield cleaner
    cleaner.close()


def one_line(cleaner: SalesCleaner, **changes: Any) -> dict[str, Any]:
    cleaned = cleaner.clean(raw_table([good(**changes)]))
    assert not cleaned.rejected, cleaned.rejected
    [line] = cleaned.lines.to_pylist()
    return dict(line)


def reasons(cleaner: SalesCleaner, **changes: Any) -> set[tuple[str, str | None]]:
    cleaned = cleaner.clean(raw_table([good(**changes)]))
    assert cleaned.lines.num_rows == 0
    [rejected] = cleaned.rejected
    return {(r.code, r.field) for r in rejected.reasons}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234.5", Decimal("1234.5")),
        ("1,234.50", Decimal("1234.50")),
        ("€12.30", Decimal("12.30")),
        ("12.30 EUR", Decimal("12.30")),
        ("12,30", Decimal("12.30")),
        ("1,234", Decimal("1234")),
        (" $ 0 ", Decimal("0")),
    ],
)
def test_prices_in_the_forms_files_hold(
    cleaner: SalesCleaner, text: str, expected: Decimal
) -> None:
    assert one_line(cleaner, unit_price=text)["unit_price"] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05", date(2026, 1, 5)),
        ("2026-01-05T23:30:00+02:00", date(2026, 1, 5)),
        ("2026-01-05 10:00:00Z", date(2026, 1, 5)),
        ("05/01/2026", date(2026, 1, 5)),
        ("1767225600", date(2026, 1, 1)),
    ],
)
def test_dates_in_the_forms_files_hold(cleaner: SalesCleaner, text: str, expected: date) -> None:
    assert one_line(cleaner, order_date=text)["order_date"] == expected


def test_defaults_trimming_and_email_normalisation(cleaner: SalesCleaner) -> None:
    line = one_line(
        cleaner, customer_email="  Ann@Example.COM ", product_name="  Widget ", quantity="3.0"
    )
    assert line["customer_email"] == "ann@example.com"
    assert line["product_name"] == "Widget"
    assert line["quantity"] == 3
    assert (line["discount"], line["currency"], line["status"]) == (Decimal(0), "EUR", "completed")


def test_amount_is_rounded_half_up_to_cents(cleaner: SalesCleaner) -> None:
    # 3 x 0.875 x (1 - 0.5) = 1.3125 -> 1.31; 1 x 0.125 x 1 -> 0.13 (half up, not half even)
    assert one_line(cleaner, quantity="3", unit_price="0.875", discount="0.5")["amount"] == (
        Decimal("1.31")
    )
    assert one_line(cleaner, quantity="1", unit_price="0.125")["amount"] == Decimal("0.13")
    assert one_line(cleaner, quantity="2", unit_price="10", discount="15%")["amount"] == (
        Decimal("17.00")
    )


@pytest.mark.parametrize("discount", ["0.15", "15%", "15.0%"])
def test_discount_is_exact_decimal_arithmetic(cleaner: SalesCleaner, discount: str) -> None:
    # 2 x 24.95 x 0.85 = 42.415 -> 42.42 half up; in binary floating point it is 42.41499...
    line = one_line(cleaner, quantity="2", unit_price="24.95", discount=discount)
    assert line["discount"] == Decimal("0.15")
    assert line["amount"] == Decimal("42.42")


def test_status_and_currency_are_case_insensitive(cleaner: SalesCleaner) -> None:
    line = one_line(cleaner, status=" Refunded ", currency="usd")
    assert (line["status"], line["currency"]) == ("refunded", "USD")


def test_every_reason_is_named(cleaner: SalesCleaner) -> None:
    assert reasons(
        cleaner,
        order_id=" ",
        line_no="x",
        order_date="31/02/2026",
        customer_email="nobody",
        product_sku=None,
        quantity="0",
        unit_price="-1",
        discount="2",
        currency="EURO",
        status="lost",
    ) == {
        ("missing", "order_id"),
        ("not_an_integer", "line_no"),
        ("not_a_date", "order_date"),
        ("not_an_email", "customer_email"),
        ("missing", "product_sku"),
        ("not_positive", "quantity"),
        ("negative", "unit_price"),
        ("out_of_range", "discount"),
        ("unknown_currency", "currency"),
        ("unknown_status", "status"),
    }


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1989-12-31", "impossible_date"),
        ("2026-12-05", "impossible_date"),
        ("0000000000", "impossible_date"),
        ("0", "not_a_date"),
    ],
)
def test_impossible_dates_are_rejected(cleaner: SalesCleaner, text: str, code: str) -> None:
    assert reasons(cleaner, order_date=text) == {(code, "order_date")}


def test_missing_and_unparseable_are_told_apart(cleaner: SalesCleaner) -> None:
    assert reasons(cleaner, quantity="", unit_price="abc") == {
        ("missing", "quantity"),
        ("not_a_price", "unit_price"),
    }


def test_the_later_record_of_a_key_wins_and_the_rest_are_counted(
    cleaner: SalesCleaner,
) -> None:
    records = [
        good(status="completed"),
        good(line_no="2"),
        good(status="refunded"),
        good(order_id="", line_no="1"),
    ]
    cleaned = cleaner.clean(raw_table(records), lines=[2, 3, 4, 5])
    statuses = {(r["line_no"], r["status"]) for r in cleaned.lines.to_pylist()}
    assert statuses == {(1, "refunded"), (2, "completed")}
    assert cleaned.duplicates == 1
    assert [(r.position, r.line) for r in cleaned.rejected] == [(3, 5)]
    assert cleaned.read == len(cleaned.lines) + len(cleaned.rejected) + cleaned.duplicates
    assert cleaned.rejected[0].raw["order_id"] == ""


def test_header_names_are_case_insensitive_and_extra_fields_kept_for_quarantine(
    cleaner: SalesCleaner,
) -> None:
    record = {k.upper(): v for k, v in good(quantity="-1").items()} | {"Note": "gift"}
    cleaned = cleaner.clean(raw_table([record]))
    [rejected] = cleaned.rejected
    assert rejected.raw["note"] == "gift"
    assert cleaned.cells_present == 7


def test_a_large_batch_keeps_record_order_rejects_and_the_later_duplicate(
    cleaner: SalesCleaner,
) -> None:
    # Large enough for DuckDB to scan it on several threads, which may reorder rows.
    records = [good(order_id=f"O-{n:05d}") for n in range(60_000)]
    for position in (7, 31_000, 59_999):
        records[position] = good(order_id=f"O-{position:05d}", quantity="0")
    records[45_000] = good(order_id="O-00100", status="refunded")  # O-00100 again, later
    cleaned = cleaner.clean(raw_table(records), lines=list(range(2, 60_002)))
    assert [(r.position, r.line) for r in cleaned.rejected] == [
        (7, 9),
        (31_000, 31_002),
        (59_999, 60_001),
    ]
    assert cleaned.duplicates == 1
    ids = cleaned.lines.column("order_id").to_pylist()
    expected = [f"O-{n:05d}" for n in range(60_000) if n not in (7, 31_000, 59_999, 100)]
    expected[expected.index("O-45000")] = "O-00100"
    assert ids == expected
    statuses = dict(zip(ids, cleaned.lines.column("status").to_pylist(), strict=True))
    assert statuses["O-00100"] == "refunded"
