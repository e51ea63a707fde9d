"""The sales API client and source against the mock sales API under uvicorn on loopback."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from leadpersona.adapters.local_server import serve_in_thread
from leadpersona.adapters.mock_api import MockConfig, create_app
from leadpersona.adapters.mock_sales_api import SalesMockConfig, SalesMockState, create_sales_app
from leadpersona.adapters.sales_api import SalesApiClient
from leadpersona.bootstrap import sales_client
from leadpersona.config import Settings
from leadpersona.errors import FatalSalesApiError, SalesApiError
from leadpersona.sales.cleaning import SalesCleaner
from leadpersona.sales.records import SourceBatch
from leadpersona.sales.sources.api import ApiSource
from leadpersona.sales.synthetic import synthetic_sales

START, END = date(2026, 1, 1), date(2026, 1, 10)
PLAIN = {"messy_rate": 0.0, "invalid_rate": 0.0}

StartMock = Callable[[SalesMockConfig], tuple[str, SalesMockState]]


@pytest.fixture
def start_mock() -> Iterator[StartMock]:
    """Start mock sales API servers on free loopback ports; all stopped at teardown."""
    with ExitStack() as stack:

        def start(config: SalesMockConfig) -> tuple[str, SalesMockState]:
            app = create_sales_app(config)
            url = stack.enter_context(serve_in_thread(app))
            state: SalesMockState = app.state.sales
            return url, state

        yield start


def client(url: str, **options: Any) -> SalesApiClient:
    defaults: dict[str, Any] = {"timeout": 2.0, "max_retries": 4, "backoff_base": 0.01}
    defaults.update(options)
    return SalesApiClient(url, **defaults)


def expected(config: SalesMockConfig, start: date = START, end: date = END) -> list[Any]:
    return list(
        synthetic_sales(
            start,
            end,
            seed=config.seed,
            orders_per_day=config.orders_per_day,
            messy_rate=config.messy_rate,
            invalid_rate=config.invalid_rate,
        )
    )


async def read_all(
    api: SalesApiClient, page_size: int, start: date = START, end: date = END
) -> list[tuple[list[Any], str | None]]:
    return [page async for page in api.fetch_sales(start, end, page_size=page_size)]


async def test_pages_follow_the_cursor_to_the_end(start_mock: StartMock) -> None:
    config = SalesMockConfig(orders_per_day=7)
    url, state = start_mock(config)
    async with client(url) as api:
        pages = await read_all(api, page_size=13)
    records = [r for page, _ in pages for r in page]
    assert records == expected(config)
    assert len(pages) == math.ceil(len(records) / 13)
    assert all(len(page) == 13 for page, _ in pages[:-1])
    assert [c is None for _, c in pages] == [False] * (len(pages) - 1) + [True]
    assert state.requests == len(pages)
    # One day, an empty range, a range of empty days: one page each, and the end.
    async with client(url) as api:
        [(one_day, last)] = await read_all(api, 1000, START, START)
        assert last is None and one_day == expected(config, START, START)
    empty_url, _ = start_mock(SalesMockConfig(orders_per_day=0))
    async with client(empty_url) as api:
        assert await read_all(api, 10) == [([], None)]


async def test_same_seed_same_pages_on_any_server(start_mock: StartMock) -> None:
    config = SalesMockConfig(orders_per_day=5, seed=3)
    first_url, _ = start_mock(config)
    second_url, _ = start_mock(config)
    other_url, _ = start_mock(SalesMockConfig(orders_per_day=5, seed=4))
    async with client(first_url) as first, client(second_url) as second:
        pages = await read_all(first, page_size=9)
        assert await read_all(second, page_size=9) == pages
        # a cursor from one server continues on the other
        _, cursor = pages[2]
        continued = [p async for p in second.fetch_sales(START, END, cursor=cursor, page_size=9)]
        assert continued == pages[3:]
    async with client(other_url) as other:
        assert await read_all(other, page_size=9) != pages


async def test_a_cursor_of_another_range_is_refused(start_mock: StartMock) -> None:
    url, _ = start_mock(SalesMockConfig(orders_per_day=5))
    async with client(url) as api:
        page = await api.fetch_page(START, END, page_size=3)
        with pytest.raises(FatalSalesApiError) as info:
            await api.fetch_page(START, date(2026, 1, 9), cursor=page.next_cursor)
    assert "HTTP 400 (the cursor belongs to another date range)" in str(info.value)
    params = {"start_date": START.isoformat(), "end_date": END.isoformat()}
    async with httpx.AsyncClient(base_url=url) as http:
        for garbage in ("not-a-cursor", "WzEsMl0", page.next_cursor + "x"):
            answer = await http.get("/sales", params={**params, "cursor": garbage})
            assert (answer.status_code, answer.json()) == (400, {"error": "invalid cursor"})


async def test_the_mock_api_command_app_serves_sales_beside_enrichment() -> None:
    sales = SalesMockConfig(orders_per_day=4, api_key="k3y")
    app = create_app(MockConfig(api_key="k3y"), sales=sales)
    with serve_in_thread(app) as url:
        async with client(url, api_key="k3y") as api:
            records = [r for page, _ in await read_all(api, 50) for r in page]
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": "k3y"}) as http:
            profile = await http.get("/get_linkedin_data", params={"email": "a@example.com"})
    assert records == expected(sales)
    assert profile.status_code in (200, 404)
    assert app.state.mock.requests == 1


@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_rate_limited_answers_are_waited_for(start_mock: StartMock, form: str) -> None:
    config = SalesMockConfig(orders_per_day=3, rate_limit=1.0, retry_after_format=form)
    url, state = start_mock(config)
    async with client(url) as api:
        records = [r for page, _ in await read_all(api, page_size=30) for r in page]
        rate_limited = api.stats.rate_limited
    assert records == expected(config)
    assert rate_limited >= 1
    assert state.by_status[429] == rate_limited
    params = {"start_date": START.isoformat(), "end_date": END.isoformat()}
    async with httpx.AsyncClient(base_url=url) as http:
        answers = [await http.get("/sales", params=params) for _ in range(2)]
    header = answers[-1].headers["Retry-After"]
    assert answers[-1].status_code == 429
    assert header.isdigit() if form == "seconds" else header.endswith(" GMT")


@pytest.mark.parametrize(
    ("faults", "counter"),
    [
        ({"error_rate": 0.4}, "5xx"),
        ({"timeout_rate": 0.3, "hang_s": 1.5}, "timeout"),
        ({"not_json_rate": 0.4}, "not_json"),
    ],
)
async def test_transient_faults_are_retried(
    start_mock: StartMock, faults: dict[str, Any], counter: str
) -> None:
    config = SalesMockConfig(orders_per_day=6, **faults)
    url, state = start_mock(config)
    async with client(url, timeout=0.5, max_retries=8) as api:
        records = [r for page, _ in await read_all(api, page_size=5) for r in page]
        retries = api.stats.retries
    assert records == expected(config)
    assert state.faults[counter] >= 1
    assert retries >= sum(state.faults.values())  # a slow answer on a busy machine: one more


async def test_retries_are_given_up_with_one_clear_line(start_mock: StartMock) -> None:
    url, state = start_mock(SalesMockConfig(error_rate=1.0))
    async with client(url, max_retries=2) as api:
        with pytest.raises(SalesApiError) as info:
            await read_all(api, 10)
    message = str(info.value)
    assert message.startswith("sales API: gave up after 3 attempt(s): HTTP 5")
    assert "\n" not in message
    assert not isinstance(info.value, FatalSalesApiError)
    assert state.requests == 3


@pytest.mark.parametrize(("key", "status"), [("", 401), ("wrong", 403)])
async def test_a_refused_key_stops_at_once(start_mock: StartMock, key: str, status: int) -> None:
    url, state = start_mock(SalesMockConfig(api_key="right"))
    async with client(url, api_key=key) as api:
        with pytest.raises(FatalSalesApiError) as info:
            await read_all(api, 10)
        with pytest.raises(FatalSalesApiError):  # and stays stopped, without a call
            await api.fetch_page(START, END)
    message = str(info.value)
    assert f"refused the request (HTTP {status}" in message
    assert "LEADPERSONA_SALES_API_KEY" in message
    assert "\n" not in message
    assert state.requests == 1


async def test_answers_outside_the_contract_are_fatal() -> None:
    app = FastAPI()

    @app.get("/sales")
    async def sales() -> dict[str, Any]:
        return {"orders": []}

    with serve_in_thread(app) as url:
        async with client(url) as api:
            with pytest.raises(FatalSalesApiError, match="without a 'data' list"):
                await api.fetch_page(START, END)


async def test_settings_choose_the_in_process_mock_or_the_configured_api(
    start_mock: StartMock,
) -> None:
    async with sales_client(Settings()) as api:
        pages = await read_all(api, 500)
    default = SalesMockConfig()
    assert [r for page, _ in pages for r in page] == expected(default)
    small = SalesMockConfig(orders_per_day=2, seed=9)
    async with sales_client(Settings(), mock=small) as api:
        pages = await read_all(api, 500)
    assert [r for page, _ in pages for r in page] == expected(small)

    url, state = start_mock(SalesMockConfig(api_key="k3y", orders_per_day=3))
    settings = Settings(sales_api_url=url, sales_api_key="k3y")  # type: ignore[arg-type]
    async with sales_client(settings, max_retries=1) as api:
        assert api.base_url == url
        pages = await read_all(api, 500)
    assert len(pages) == 1 and state.by_status[200] == 1


# The source.


async def collect(source: ApiSource, state: dict[str, Any]) -> list[SourceBatch]:
    """Iterate like a load does: store each batch's checkpoint as it is committed."""
    batches = []
    async for batch in source.batches(state):
        batches.append(batch)
        state[batch.checkpoint_key] = batch.checkpoint
        await source.committed(batch)
    return batches


async def test_one_batch_per_page_with_its_checkpoint(start_mock: StartMock) -> None:
    config = SalesMockConfig(orders_per_day=6, **PLAIN)
    url, _ = start_mock(config)
    state: dict[str, Any] = {}
    async with client(url) as api:
        source = ApiSource(api, START, END, page_size=25)
        batches = await collect(source, state)
        assert await collect(source, state) == []  # done: nothing read again
        await source.aclose()
        assert not api._http.is_closed  # the caller's client
    key = "api:2026-01-01:2026-01-10"
    assert {b.checkpoint_key for b in batches} == {key}
    assert [b.location for b in batches[:2]] == [
        "GET /sales page 1 of 2026-01-01..2026-01-10",
        "GET /sales page 2 of 2026-01-01..2026-01-10",
    ]
    assert [b.checkpoint["pages"] for b in batches] == list(range(1, len(batches) + 1))
    assert [b.checkpoint["done"] for b in batches] == [False] * (len(batches) - 1) + [True]
    assert state[key] == {"cursor": None, "pages": len(batches), "done": True}
    assert all(b.source == "api" and b.first_row == 1 for b in batches)
    rows = [row for b in batches for row in b.records.to_pylist()]
    assert [(r["order_id"], r["line_no"]) for r in rows] == [
        (r["order_id"], str(r["line_no"])) for r in expected(config)
    ]


async def test_a_load_stopped_by_an_outage_resumes_after_the_last_stored_page(
    start_mock: StartMock,
) -> None:
    config = SalesMockConfig(orders_per_day=6, outage_after=3, **PLAIN)
    url, _ = start_mock(config)
    state: dict[str, Any] = {}
    first: list[SourceBatch] = []
    async with client(url, max_retries=2) as api:
        source = ApiSource(api, START, END, page_size=10)
        with pytest.raises(SalesApiError, match="gave up after 3 attempt"):
            async for batch in source.batches(state):
                first.append(batch)
                state[batch.checkpoint_key] = batch.checkpoint
    assert len(first) == 3
    assert state["api:2026-01-01:2026-01-10"]["pages"] == 3
    assert not state["api:2026-01-01:2026-01-10"]["done"]

    # The API is back (another server, same data): the next load reads the rest only.
    back_url, back = start_mock(config.model_copy(update={"outage_after": None}))
    async with client(back_url) as api:
        rest = await collect(ApiSource(api, START, END, page_size=10), state)
    assert rest[0].location == "GET /sales page 4 of 2026-01-01..2026-01-10"
    rows = [row for b in first + rest for row in b.records.to_pylist()]
    assert [(r["order_id"], r["line_no"]) for r in rows] == [
        (r["order_id"], str(r["line_no"])) for r in expected(config)
    ]
    assert back.requests == len(rest)
    async with client(back_url) as api:
        assert await collect(ApiSource(api, START, END, page_size=10), state) == []
    assert back.requests == len(rest)


async def test_batches_clean_with_some_records_quarantined(start_mock: StartMock) -> None:
    config = SalesMockConfig(orders_per_day=40, messy_rate=0.05, invalid_rate=0.02)
    url, _ = start_mock(config)
    cleaner = SalesCleaner(today=date(2026, 12, 3))
    read = loaded = quarantined = duplicates = 0
    quarantine_fields: set[str | None] = set()
    try:
        async with client(url) as api:
            async for batch in ApiSource(api, START, END, page_size=100).batches({}):
                cleaned = cleaner.clean(batch.records, lines=batch.lines)
                read += cleaned.read
                loaded += cleaned.lines.num_rows
                quarantined += len(cleaned.rejected)
                duplicates += cleaned.duplicates
                quarantine_fields |= {r.field for q in cleaned.rejected for r in q.reasons}
    finally:
        cleaner.close()
    assert read == len(expected(config))
    assert read == loaded + quarantined + duplicates
    assert duplicates == 0
    assert 0 < quarantined < 0.04 * read
    assert len(quarantine_fields) >= 3


async def test_page_items_that_are_not_objects_are_kept_for_the_quarantine() -> None:
    app = FastAPI()
    record = expected(SalesMockConfig(**PLAIN), START, START)[0]

    @app.get("/sales")
    async def sales() -> dict[str, Any]:
        return {
            "data": [record, 42, {**record, "line_no": 99, "extra": {"a": 1}}],
            "next_cursor": None,
        }

    with serve_in_thread(app) as url:
        async with client(url) as api:
            [batch] = [b async for b in ApiSource(api, START, START).batches({})]
    cleaner = SalesCleaner(today=date(2026, 12, 3))
    try:
        cleaned = cleaner.clean(batch.records)
    finally:
        cleaner.close()
    assert cleaned.lines.num_rows == 2
    [rejected] = cleaned.rejected
    assert rejected.position == 1 and rejected.raw["value"] == "42"
    assert batch.records.column("extra").to_pylist() == [None, None, '{"a": 1}']
