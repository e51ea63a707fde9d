"""The sales API as a source: one batch per page, resumable from the last page stored.

The checkpoint of a date range (key ``api:<start>:<end>``) is ``{"cursor": <the cursor of the
next page>, "pages": <pages read>, "done": <the last page was read>}``. Given it, the source
asks for the page after the last one stored; once ``done``, it reads nothing. The last page
(even an empty one) is always handed over, so that ``done`` is stored with it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import date
from typing import Any, ClassVar

import pyarrow as pa

from leadpersona.adapters.sales_api import DEFAULT_PAGE_SIZE, SalesApiClient
from leadpersona.sales.records import FIELDS, SalesSource, SourceBatch, SourceName

__all__ = ["ApiSource"]


_FIELD_NAMES = frozenset(FIELDS)


def _text(value: Any) -> str | None:
    """A JSON value as the raw text cleaning reads (objects and lists as JSON)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _page_table(items: list[Any]) -> pa.Table:
    """A page's records as a table of strings, names lower-cased (as :func:`raw_table` does).

    Built column by column: several times faster than :func:`raw_table` on pages of plain
    records. An item that is not an object is kept whole under ``value``, to be quarantined.
    """
    rows: list[Mapping[str, Any]] = []
    names: dict[str, None] = dict.fromkeys(FIELDS)
    for item in items:
        if not isinstance(item, Mapping):
            item = {"value": item}
        if not item.keys() <= _FIELD_NAMES:
            item = {str(key).strip().lower(): value for key, value in item.items()}
            for name in item:
                names.setdefault(name)
        rows.append(item)
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        columns[name] = pa.array(
            [v if v is None or v.__class__ is str else _text(v) for v in values], pa.string()
        )
    return pa.table(columns)


class ApiSource(SalesSource):
    """Order lines of one date range from the sales API, a page per batch."""

    name: ClassVar[SourceName] = "api"

    def __init__(
        self,
        client: SalesApiClient,
        start_date: date,
        end_date: date,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        close_client: bool = False,
    ) -> None:
        """``client`` stays the caller's unless ``close_client`` (then :meth:`aclose` closes it)."""
        if end_date < start_date:
            raise ValueError("end_date is before start_date")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.client = client
        self.start_date = start_date
        self.end_date = end_date
        self.page_size = page_size
        self._close_client = close_client

    @property
    def checkpoint_key(self) -> str:
        """Where this date range's progress is stored."""
        return f"api:{self.start_date.isoformat()}:{self.end_date.isoformat()}"

    async def batches(self, state: Mapping[str, Mapping[str, Any]]) -> AsyncIterator[SourceBatch]:
        """The pages after the last one stored (see the module docstring)."""
        key = self.checkpoint_key
        saved = state.get(key) or {}
        if saved.get("done"):
            return
        cursor: str | None = saved.get("cursor")
        pages = int(saved.get("pages", 0)) if cursor is not None else 0
        span = f"{self.start_date.isoformat()}..{self.end_date.isoformat()}"
        async for records, next_cursor in self.client.fetch_sales(
            self.start_date, self.end_date, cursor=cursor, page_size=self.page_size
        ):
            pages += 1
            yield SourceBatch(
                source=self.name,
                location=f"GET /sales page {pages} of {span}",
                records=_page_table(records),
                checkpoint_key=key,
                checkpoint={"cursor": next_cursor, "pages": pages, "done": next_cursor is None},
            )

    async def aclose(self) -> None:
        """Close the client if this source was given it to keep."""
        if self._close_client:
            await self.client.aclose()
