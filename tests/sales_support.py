"""Helpers for sales tests: a source made of given records, warehouse leads with personas."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text

from leadpersona.adapters.warehouse.engine import upgrade
from leadpersona.sales.records import SalesSource, SourceBatch, raw_table

__all__ = ["ListSource", "add_lead", "record", "set_persona"]


def record(order_id: str, line_no: int = 1, **values: Any) -> dict[str, Any]:
    """A valid raw order line; ``values`` override fields."""
    base: dict[str, Any] = {
        "order_id": order_id,
        "line_no": str(line_no),
        "order_date": "2026-01-05",
        "customer_email": "ada@example.com",
        "product_sku": "SKU-1",
        "product_name": "Widget",
        "category": "Hardware",
        "quantity": "2",
        "unit_price": "10.00",
        "discount": "0",
        "currency": "EUR",
        "status": "completed",
    }
    base.update(values)
    return base


class ListSource(SalesSource):
    """Batches of given records under one checkpoint key (``{"batches": n}`` stored)."""

    def __init__(
        self,
        batches: Sequence[Sequence[Mapping[str, Any]]],
        *,
        name: str = "files",
        key: str = "test",
        fail_after: int | None = None,
    ) -> None:
        self.name = name  # type: ignore[misc]
        self._batches = batches
        self.key = key
        self.fail_after = fail_after
        self.committed_batches: list[int] = []

    async def batches(self, state: Mapping[str, Mapping[str, Any]]) -> AsyncIterator[SourceBatch]:
        done = int((state.get(self.key) or {}).get("batches", 0))
        for index, records in enumerate(self._batches):
            if index < done:
                continue
            if self.fail_after is not None and index >= self.fail_after:
                raise OSError(f"source went away before batch {index + 1}")
            yield SourceBatch(
                source=self.name,  # type: ignore[arg-type]
                location=f"batch-{index + 1}",
                records=raw_table(list(records)),
                first_row=1,
                checkpoint_key=self.key,
                checkpoint={"batches": index + 1},
            )

    async def committed(self, batch: SourceBatch) -> None:
        self.committed_batches.append(int(batch.checkpoint["batches"]))


def add_lead(engine: Engine, lead_id: str, email: str) -> None:
    """A warehouse lead (as the warehouse sync writes it)."""
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO leads (lead_id, email, email_key, status) "
                "VALUES (:id, :email, :key, 0)"
            ),
            {"id": lead_id, "email": email, "key": email.strip().lower()},
        )


def set_persona(
    engine: Engine, lead_id: str, academic_field: str | None, company_type: str | None, at: datetime
) -> None:
    """Give a warehouse lead a persona (replacing any), changed at ``at``."""
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM personas WHERE lead_id = :id"), {"id": lead_id})
        connection.execute(
            text(
                "INSERT INTO personas (lead_id, academic_field, company_type, status, features,"
                " updated_at) VALUES (:id, :field, :kind, 'enriched', '{}', :at)"
            ),
            {
                "id": lead_id,
                "field": academic_field,
                "kind": company_type,
                "at": at.astimezone(UTC),
            },
        )
