"""Sales files for the demo's inbox: one CSV (``;``, BOM, decimal commas), one JSON Lines file
and one Parquet file of synthetic web-shop orders (ids ``WEB-...``), a few of them invalid, and
a handful of lines copied exactly from what the mock sales API serves, so the demo shows the
same order line from two sources stored once."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from leadpersona.sales.records import FIELDS
from leadpersona.sales.synthetic import default_customers, synthetic_sales

__all__ = ["write_demo_inbox"]

#: Seed of the web-shop orders (the API's are seed 0); the customers stay the demo's leads.
WEB_SEED = 7
#: Lines of the API's first day copied into the JSON Lines file.
SHARED_LINES = 5


def _web(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "order_id": "WEB-" + str(r["order_id"]).removeprefix("SO-")} for r in records]


def write_demo_inbox(inbox: Path, start: date, end: date, *, orders_per_day: int = 6) -> list[Path]:
    """Write the three demo files for ``start`` .. ``end`` into ``inbox``; their paths.

    The files are the same bytes every time for the same dates: the inbox's content-hash
    ledger recognises them when the demo runs again.
    """
    inbox.mkdir(parents=True, exist_ok=True)
    customers = default_customers(0)
    records = _web(
        list(
            synthetic_sales(
                start,
                end,
                seed=WEB_SEED,
                customers=customers,
                orders_per_day=orders_per_day,
                messy_rate=0.05,
                invalid_rate=0.01,
            )
        )
    )
    shared = list(synthetic_sales(start, start, seed=0))[:SHARED_LINES]
    records[:0] = _invalid(records[0])
    third = len(records) // 3
    stamp = f"{start:%Y%m%d}-{end:%Y%m%d}"
    paths = []

    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", lineterminator="\n")
    writer.writerow([name.upper() for name in FIELDS])
    for record in records[:third]:
        row = [record.get(name) for name in FIELDS]
        writer.writerow(["" if value is None else str(value) for value in row])
    path = inbox / f"web-orders-{stamp}.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.getvalue().encode("utf-8"))
    paths.append(path)

    path = inbox / f"web-orders-{stamp}.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in [*records[third : 2 * third], *shared]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    paths.append(path)

    rest = records[2 * third :]
    table = pa.table(
        {name: pa.array([_text(r.get(name)) for r in rest], pa.string()) for name in FIELDS}
    )
    path = inbox / f"web-orders-{stamp}.parquet"
    pq.write_table(table, path)
    paths.append(path)
    return paths


def _invalid(model: dict[str, Any]) -> list[dict[str, Any]]:
    """Three lines a shop export gets wrong, for the quarantine to show."""
    return [
        {**model, "order_id": "WEB-BAD-1", "quantity": "0", "currency": "EURO"},
        {**model, "order_id": "WEB-BAD-2", "customer_email": "", "unit_price": "-5"},
        {**model, "order_id": "WEB-BAD-3", "order_date": "31/02/2026", "status": "lost"},
    ]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
