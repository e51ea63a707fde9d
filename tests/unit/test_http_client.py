"""The polite HTTP client on its own: retries, Retry-After, fatal stop and statistics.

The answers come from an ``httpx.MockTransport`` scripted per test (the API is a third party);
the enrichment client's behaviour on a real loopback server is in ``tests/integration``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from leadpersona.adapters.http_client import PoliteClient
from leadpersona.errors import ApiError, FatalApiError, RetriableApiError


def scripted(*answers: httpx.Response) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    replies: Iterator[httpx.Response] = iter(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(replies)

    return httpx.MockTransport(handle), seen


def client(transport: httpx.MockTransport, **options: float) -> PoliteClient:
    return PoliteClient(
        "http://api.invalid",
        transport=transport,
        backoff_base=0.001,
        backoff_max=0.001,
        **options,  # type: ignore[arg-type]
    )


def body(response: httpx.Response) -> str:
    return response.text


async def test_transient_answers_are_retried_and_counted() -> None:
    transport, seen = scripted(
        httpx.Response(503),
        httpx.Response(429, headers={"Retry-After": "0"}),
        httpx.Response(200, text="ok"),
    )
    async with client(transport) as api:
        assert await api.call("GET", "/x", body, params={"q": "1"}) == "ok"
    assert len(seen) == 3 and seen[0].url.params["q"] == "1"
    assert (api.stats.api_calls, api.stats.retries, api.stats.rate_limited) == (3, 2, 1)
    assert api.stats.failures == 0


async def test_retries_are_bounded_and_the_give_up_is_not_retriable() -> None:
    transport, seen = scripted(*[httpx.Response(500)] * 3)
    async with client(transport, max_retries=2) as api:
        with pytest.raises(ApiError, match="gave up after 3 attempt") as raised:
            await api.call("GET", "/x", body)
    assert not isinstance(raised.value, RetriableApiError)
    assert raised.value.status_code == 500
    assert len(seen) == 3 and api.stats.failures == 1


async def test_a_fatal_answer_stops_every_later_call_without_a_request() -> None:
    transport, seen = scripted(httpx.Response(401))
    async with client(transport) as api:
        with pytest.raises(FatalApiError, match="refused the API key"):
            await api.call("GET", "/x", body)
        with pytest.raises(FatalApiError):
            await api.call("GET", "/y", body)
    assert len(seen) == 1 and api.stopped is not None


async def test_a_retry_after_beyond_the_limit_is_fatal() -> None:
    transport, _ = scripted(httpx.Response(429, headers={"Retry-After": "3600"}))
    async with client(transport, max_retry_after=60) as api:
        with pytest.raises(FatalApiError, match="asks to wait 3600 s"):
            await api.call("GET", "/x", body)
    assert api.stats.rate_limited == 1


async def test_the_interpretation_decides_what_other_answers_mean() -> None:
    def strict(response: httpx.Response) -> str:
        if response.status_code == 200 and not response.text:
            raise RetriableApiError("empty body")
        if response.status_code != 200:
            raise ApiError(f"HTTP {response.status_code}", status_code=response.status_code)
        return response.text

    transport, seen = scripted(httpx.Response(200), httpx.Response(200, text="x"))
    async with client(transport) as api:
        assert await api.call("GET", "/x", strict) == "x"
    transport, _ = scripted(httpx.Response(404))
    async with client(transport) as api:
        with pytest.raises(ApiError, match="HTTP 404"):
            await api.call("GET", "/x", strict)
        assert api.stats.failures == 1 and api.stopped is None
    assert len(seen) == 2


async def test_connection_errors_are_retriable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with client(httpx.MockTransport(refuse), max_retries=1) as api:
        with pytest.raises(ApiError, match=r"gave up after 2 attempt.*cannot reach") as raised:
            await api.call("GET", "/x", body)
    assert not isinstance(raised.value, RetriableApiError)
    assert api.stats.api_calls == 2
