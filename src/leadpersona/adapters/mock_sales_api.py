"""The mock sales API (SPEC section 7): ``GET /sales?start_date=&end_date=&limit=&cursor=``.

It answers ``{"data": [records], "next_cursor": C or null}`` with the deterministic synthetic
order lines of :mod:`leadpersona.sales.synthetic` dated ``start_date`` to ``end_date`` (both
included), ``limit`` records a page (default 100, at most 1,000). The cursor is opaque to
clients; it says where the next page starts (a day and a position in it) and which range it
belongs to, so any server with the same configuration continues a listing another one began.

Options (:class:`SalesMockConfig`), in the style of the enrichment mock
(:mod:`leadpersona.adapters.mock_api`): a required API key (401 without, 403 with a wrong one);
a rate limit (429 with ``Retry-After`` beyond it, in seconds or as an HTTP date); latency; rates
of injected 5xx, timeouts (the answer is held back for ``hang_s``) and bodies that are not JSON
(an HTML error page or cut JSON, with status 200); an outage after a number of requests (every
later request answers 503); shares of records written in other accepted forms (``messy_rate``)
and of invalid records (``invalid_rate``), both on at a low rate by default so that cleaning and
quarantine have work. Faults are drawn from a hash of the query, the number of requests already
made for it and ``seed``: deterministic whatever the order of requests, and a retry draws again.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request, Response
from pydantic import BaseModel, Field

from leadpersona.sales.synthetic import DEFAULT_ORDERS_PER_DAY, synthetic_day

__all__ = [
    "MAX_PAGE_SIZE",
    "SalesMockConfig",
    "SalesMockState",
    "create_sales_app",
    "sales_router",
]

API_KEY_HEADER = "X-API-Key"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
#: A page spans at most this many empty days (``orders_per_day=0``) before it answers.
_MAX_DAYS_PER_PAGE = 3660
#: Days of generated lines a server keeps (read-only) for the pages that follow.
_DAYS_KEPT = 4


class SalesMockConfig(BaseModel):
    """How the mock sales API behaves."""

    api_key: str | None = Field(default=None, description="required X-API-Key, if set")
    rate_limit: float | None = Field(
        default=None, gt=0, description="requests per second; beyond it 429 + Retry-After"
    )
    retry_after_s: float | None = Field(
        default=None, ge=0, description="Retry-After to send; default: seconds until a token"
    )
    retry_after_format: Literal["seconds", "http-date"] = "seconds"
    latency_s: float = Field(default=0.0, ge=0)
    error_rate: float = Field(default=0.0, ge=0, le=1, description="share of 5xx answers")
    timeout_rate: float = Field(default=0.0, ge=0, le=1, description="share held for hang_s")
    not_json_rate: float = Field(
        default=0.0, ge=0, le=1, description="share of 200 answers whose body is not JSON"
    )
    hang_s: float = Field(default=30.0, ge=0, description="how long a 'timeout' is held back")
    outage_after: int | None = Field(
        default=None, ge=0, description="requests answered before every later one gets 503"
    )
    orders_per_day: int = Field(default=DEFAULT_ORDERS_PER_DAY, ge=0, le=100_000)
    messy_rate: float = Field(
        default=0.02, ge=0, le=1, description="share of records in other accepted forms"
    )
    invalid_rate: float = Field(default=0.005, ge=0, le=1, description="share of invalid records")
    seed: int = 0


@dataclass
class SalesMockState:
    """What the mock has seen: counters tests and benchmarks read."""

    config: SalesMockConfig
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    #: Records served in answers with status 200 and a JSON body.
    records_served: int = 0
    _tokens: float = 0.0
    _refilled_at: float = 0.0

    def __post_init__(self) -> None:
        self._tokens = self._capacity()
        self._refilled_at = time.monotonic()

    def _capacity(self) -> float:
        rate = self.config.rate_limit
        return max(1.0, rate) if rate is not None else 0.0

    def take_token(self) -> float | None:
        """None if the request may go on, else the seconds until a token is available."""
        rate = self.config.rate_limit
        if rate is None:
            return None
        now = time.monotonic()
        self._tokens = min(self._capacity(), self._tokens + (now - self._refilled_at) * rate)
        self._refilled_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / rate


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from ``parts``."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _encode_cursor(start: date, end: date, day: date, position: int) -> str:
    payload = json.dumps([start.isoformat(), end.isoformat(), day.isoformat(), position])
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


class _BadCursor(ValueError):
    pass


def _decode_cursor(cursor: str, start: date, end: date) -> tuple[date, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        first, last, day, position = json.loads(base64.urlsafe_b64decode(padded))
        where = (date.fromisoformat(day), int(position))
        same_range = (date.fromisoformat(first), date.fromisoformat(last)) == (start, end)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise _BadCursor("invalid cursor") from exc
    if not same_range:
        raise _BadCursor("the cursor belongs to another date range")
    if not start <= where[0] <= end or where[1] < 0:
        raise _BadCursor("invalid cursor")
    return where


def _day_maker(config: SalesMockConfig) -> Callable[[date], list[dict[str, Any]]]:
    """The lines of a day, the last few days kept: a big day is served over many pages."""

    @lru_cache(maxsize=_DAYS_KEPT)
    def lines_of(day: date) -> list[dict[str, Any]]:
        return synthetic_day(
            day,
            seed=config.seed,
            orders_per_day=config.orders_per_day,
            messy_rate=config.messy_rate,
            invalid_rate=config.invalid_rate,
        )

    return lines_of


def _page(
    lines_of: Callable[[date], list[dict[str, Any]]],
    start: date,
    end: date,
    day: date,
    position: int,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``limit`` records from ``position`` of ``day`` on, and the cursor after them."""
    records: list[dict[str, Any]] = []
    days = 0
    while day <= end and len(records) < limit and days < _MAX_DAYS_PER_PAGE:
        lines = lines_of(day)
        taken = lines[position : position + limit - len(records)]
        records.extend(taken)
        position += len(taken)
        days += 1
        if position >= len(lines):
            if day == end:
                return records, None
            day, position = day + timedelta(days=1), 0
    if day > end:
        return records, None
    return records, _encode_cursor(start, end, day, position)


def _retry_after_header(config: SalesMockConfig, seconds: float) -> str:
    wait = config.retry_after_s if config.retry_after_s is not None else seconds
    if config.retry_after_format == "http-date":
        # HTTP dates have whole seconds: round up so that the client never comes back early.
        when = datetime.now(UTC) + timedelta(seconds=wait)
        if when.microsecond:
            when = when.replace(microsecond=0) + timedelta(seconds=1)
        return format_datetime(when, usegmt=True)
    if config.retry_after_s is not None:
        return f"{config.retry_after_s:g}"
    return str(max(1, math.ceil(seconds)))


NOT_JSON_BODIES = (
    b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>",
    b'{"data": [{"order_id": "SO-',
)


def sales_router(config: SalesMockConfig, state: SalesMockState) -> APIRouter:
    """The ``GET /sales`` route, answering as ``config`` says and counting in ``state``."""
    router = APIRouter()
    lines_of = _day_maker(config)

    def answer(status: int, content: bytes, media_type: str, **headers: str) -> Response:
        state.by_status[status] += 1
        return Response(content, status_code=status, media_type=media_type, headers=headers)

    def error(status: int, message: str, **headers: str) -> Response:
        body = json.dumps({"error": message}).encode()
        return answer(status, body, "application/json", **headers)

    @router.get("/sales")
    async def sales(
        request: Request,
        start_date: date = Query(..., description="first order date, YYYY-MM-DD"),
        end_date: date = Query(..., description="last order date (included), YYYY-MM-DD"),
        limit: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
        cursor: str | None = Query(None, description="next_cursor of the previous page"),
    ) -> Response:
        """Order lines dated start_date to end_date, a page at a time."""
        state.requests += 1
        if config.api_key is not None:
            sent = request.headers.get(API_KEY_HEADER)
            if not sent:
                return error(401, "missing API key")
            if sent != config.api_key:
                return error(403, "invalid API key")
        wait = state.take_token()
        if wait is not None:
            header = _retry_after_header(config, wait)
            return error(429, "rate limit exceeded", **{"Retry-After": header})
        if config.outage_after is not None and state.requests > config.outage_after:
            state.faults["outage"] += 1
            return error(503, "service unavailable")
        if end_date < start_date:
            return error(400, "end_date is before start_date")
        day, position = start_date, 0
        if cursor is not None:
            try:
                day, position = _decode_cursor(cursor, start_date, end_date)
            except _BadCursor as exc:
                return error(400, str(exc))
        query = f"{start_date}:{end_date}:{limit}:{cursor}"
        attempt = state.attempts[query]
        state.attempts[query] += 1
        if config.latency_s:
            await asyncio.sleep(config.latency_s)
        roll = _unit(config.seed, query, attempt, "fault")
        if roll < config.timeout_rate:
            state.faults["timeout"] += 1
            await asyncio.sleep(config.hang_s)
        elif roll < config.timeout_rate + config.error_rate:
            state.faults["5xx"] += 1
            return error(503 if attempt % 2 else 500, "upstream failure")
        elif roll >= 1 - config.not_json_rate:
            state.faults["not_json"] += 1
            body = NOT_JSON_BODIES[attempt % len(NOT_JSON_BODIES)]
            return answer(200, body, "text/html" if body.startswith(b"<") else "application/json")
        records, next_cursor = _page(lines_of, start_date, end_date, day, position, limit)
        state.records_served += len(records)
        content = json.dumps({"data": records, "next_cursor": next_cursor}).encode()
        return answer(200, content, "application/json")

    return router


def create_sales_app(config: SalesMockConfig | None = None) -> FastAPI:
    """The mock sales API on its own; its :class:`SalesMockState` is ``app.state.sales``."""
    config = config or SalesMockConfig()
    state = SalesMockState(config)
    app = FastAPI(
        title="leadpersona mock sales API",
        description="Synthetic order lines for testing (see leadpersona.adapters.mock_sales_api).",
    )
    app.state.sales = state
    app.include_router(sales_router(config, state))
    return app
