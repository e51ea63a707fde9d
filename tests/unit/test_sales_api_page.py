"""A sales API page as the raw table cleaning reads: the same as ``raw_table`` would make."""

from __future__ import annotations

from datetime import date
from typing import Any

from leadpersona.sales.records import raw_table
from leadpersona.sales.sources.api import _page_table
from leadpersona.sales.synthetic import synthetic_sales

DAY = date(2026, 1, 5)


def test_plain_records_make_the_table_raw_table_makes() -> None:
    records = list(synthetic_sales(DAY, DAY, messy_rate=0.3, invalid_rate=0.1))
    assert _page_table(records).equals(raw_table(records))
    assert _page_table([]).equals(raw_table([]))


def test_other_keys_values_and_items_are_kept() -> None:
    [record, other] = list(synthetic_sales(DAY, DAY))[:2]
    odd: dict[str, Any] = {
        " Order_ID ": other["order_id"],
        "LINE_NO": 7,
        "quantity": 2.0,
        "paid": True,
        "extra": {"note": "gift"},
    }
    table = _page_table([record, odd, 42, ["a"]])
    assert table.column_names[:12] == list(raw_table([]).column_names)
    rows = table.to_pylist()
    assert rows[0]["line_no"] == str(record["line_no"])
    assert (rows[1]["order_id"], rows[1]["line_no"], rows[1]["quantity"]) == (
        other["order_id"],
        "7",
        "2.0",
    )
    assert (rows[1]["paid"], rows[1]["extra"]) == ("True", '{"note": "gift"}')
    assert rows[1]["customer_email"] is None
    assert (rows[2]["value"], rows[3]["value"]) == ("42", '["a"]')
    assert rows[2]["order_id"] is None
