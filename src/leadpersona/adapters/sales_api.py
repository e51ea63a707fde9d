"""The async client of the sales API (SPEC section 7), and the in-process mock when none is set.

``GET {SALES_API_URL}/sales?start_date=&end_date=&limit=&cursor=`` with header ``X-API-Key``
answers ``{"data": [records], "next_cursor": C or null}``. :class:`SalesApiClient` is a
:class:`~leadpersona.adapters.http_client.PoliteClient` (rate cap, retries, ``Retry-After``,
fatal stop) that walks those pages:

======================  ==============================================================
answer                  outcome
======================  ==============================================================
200, a JSON object      a page: ``data`` (a list) and ``next_cursor`` (text or null)
with ``data``
401 / 403               :class:`~leadpersona.errors.FatalSalesApiError` naming the key
                        setting; every later call raises it again without calling
429                     wait ``Retry-After`` (seconds or an HTTP date), then retry
408, 5xx, timeout,      retry with exponential backoff and full jitter
connection error,
200 that is not JSON
200 JSON of another     :class:`~leadpersona.errors.FatalSalesApiError` (not the sales
shape, other 4xx, 3xx   API's contract; retrying cannot fix it)
======================  ==============================================================

Retries are bounded by ``max_retries``; then :class:`~leadpersona.errors.SalesApiError` says how
many attempts were made and what the last failure was. A load that stops there resumes later
from the last page it stored (:class:`leadpersona.sales.sources.api.ApiSource`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from leadpersona.adapters.http_client import PoliteClient
from leadpersona.errors import FatalSalesApiError, RetriableSalesApiError, SalesApiError

if TYPE_CHECKING:
    pass

__all__ = [
    "API_KEY_HEADER",
    "DEFAULT_PAGE_SIZE",
    "MOCK_SALES_BASE_URL",
    "SalesApiClient",
    "SalesPage",
]

API_KEY_HEADER = "X-API-Key"
PATH = "/sales"
DEFAULT_PAGE_SIZE = 500
#: Base URL of the in-process mock (never resolved: requests go through an ASGI transport).
MOCK_SALES_BASE_URL = "http://mock-sales-api.leadpersona.invalid"


@dataclass(frozen=True)
class SalesPage:
    """One page of the sales API: its records as sent, and the cursor of the next page."""

    records: list[Any]
    next_cursor: str | None


class SalesApiClient(PoliteClient):
    """Fetch sales pages politely and robustly; use as an async context manager."""

    api_name: ClassVar[str] = "sales API"
    retriable_error = RetriableSalesApiError
    fatal_error = FatalSalesApiError
    give_up_error = SalesApiError

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str = "",
        rate_limit: float | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 300.0,
    ) -> None:
        super().__init__(
            base_url,
            headers={API_KEY_HEADER: api_key} if api_key else None,
            rate_limit=rate_limit,
            # Pages follow one another (each needs the previous cursor): one request in flight.
            concurrency=1,
            timeout=timeout,
            max_retries=max_retries,
            transport=transport,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            max_retry_after=max_retry_after,
        )

    async def fetch_page(
        self,
        start_date: date,
        end_date: date,
        *,
        cursor: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> SalesPage:
        """One page of the order lines dated ``start_date`` to ``end_date``."""
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        params: dict[str, str | int] = {
            "start_date": start_date.isoformat(),
            "end_date": end_date.isoformat(),
            "limit": page_size,
        }
        if cursor is not None:
            params["cursor"] = cursor
        return await self.call("GET", PATH, self._interpret, params=params)

    async def fetch_sales(
        self,
        start_date: date,
        end_date: date,
        *,
        cursor: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[tuple[list[Any], str | None]]:
        """Every page from ``cursor`` (the first page if None) on: (records, next cursor).

        The last page's next cursor is None. Pages are fetched one at a time, as the caller
        asks for them.
        """
        while True:
            page = await self.fetch_page(start_date, end_date, cursor=cursor, page_size=page_size)
            yield page.records, page.next_cursor
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def check_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status in (401, 403):
            reason = "no API key sent" if status == 401 else "the API key is wrong"
            raise FatalSalesApiError(
                f"the sales API at {self.base_url} refused the request (HTTP {status}: {reason});"
                " check LEADPERSONA_SALES_API_KEY",
                status_code=status,
            )
        super().check_status(response)

    def _interpret(self, response: httpx.Response) -> SalesPage:
        status = response.status_code
        if status != 200:
            raise FatalSalesApiError(
                f"unexpected answer from the sales API at {self.base_url}: HTTP {status}"
                f"{_detail(response)}",
                status_code=status,
            )
        try:
            body: Any = json.loads(response.content)
        except ValueError:
            raise RetriableSalesApiError(
                f"the answer is not JSON ({len(response.content)} bytes)", status_code=status
            ) from None
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise FatalSalesApiError(
                f"the sales API at {self.base_url} answered JSON without a 'data' list",
                status_code=status,
            )
        next_cursor = body.get("next_cursor")
        if next_cursor is not None and not isinstance(next_cursor, str | int):
            raise FatalSalesApiError(
                f"the sales API at {self.base_url} answered a next_cursor that is not text",
                status_code=status,
            )
        return SalesPage(
            records=body["data"], next_cursor=None if next_cursor is None else str(next_cursor)
        )


def _detail(response: httpx.Response) -> str:
    """The server's own message, when it sent a short JSON one."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return ""
    if isinstance(body, dict):
        for key in ("error", "detail", "message", "msg"):
            value = body.get(key)
            if isinstance(value, str) and value and len(value) <= 200:
                return f" ({' '.join(value.split())})"
    return ""
