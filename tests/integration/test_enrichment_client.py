"""The real client against the mock API running under uvicorn on loopback, fault by fault."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from leadpersona.adapters.enrichment_client import EnrichmentClient
from leadpersona.adapters.local_server import free_port
from leadpersona.adapters.mock_api import (
    MockConfig,
    MockState,
    create_app,
    example_answer_bytes,
    serve_in_thread,
    synthetic_answer,
)
from leadpersona.bootstrap import enrichment_client
from leadpersona.config import Settings
from leadpersona.domain.samples import DEMO_EMAIL
from leadpersona.errors import (
    AuthenticationError,
    EnrichmentError,
    RetriableEnrichmentError,
)

StartMock = Callable[[MockConfig], tuple[str, MockState]]


@pytest.fixture
def start_mock() -> Iterator[StartMock]:
    """Start mock API servers on free loopback ports; all stopped at teardown."""
    with ExitStack() as stack:

        def start(config: MockConfig) -> tuple[str, MockState]:
            app = create_app(config)
            url = stack.enter_context(serve_in_thread(app))
            state: MockState = app.state.mock
            return url, state

        yield start


def emails_with(status: int, success: bool, count: int = 1) -> list[str]:
    """Emails whose synthetic answer has this status and success flag."""
    found = []
    for i in range(10_000):
        email = f"probe{i}@example.com"
        code, body = synthetic_answer(email)
        if code == status and body["success"] is success:
            found.append(email)
            if len(found) == count:
                return found
    raise AssertionError("no such email among the probes")


def client(url: str, **options: object) -> EnrichmentClient:
    defaults: dict[str, object] = {"timeout": 2.0, "max_retries": 3, "backoff_base": 0.01}
    defaults.update(options)
    return EnrichmentClient(url, **defaults)  # type: ignore[arg-type]


async def test_answers_are_parsed_and_kept_raw(start_mock: StartMock) -> None:
    url, state = start_mock(MockConfig())
    (found,) = emails_with(200, True)
    (unsuccessful,) = emails_with(200, False)
    (missing,) = emails_with(404, False)
    async with client(url) as api:
        demo = await api.fetch_profile(DEMO_EMAIL)
        profile = await api.fetch_profile(found)
        no_profile = await api.fetch_profile(unsuccessful)
        not_found = await api.fetch_profile(missing)
    assert demo.raw == example_answer_bytes()
    assert demo.found and demo.response is not None and demo.response.person is not None
    assert demo.response.person.first_name == "Julien"
    assert profile.found and profile.status_code == 200
    body = json.loads(profile.raw)
    assert body["person"] == synthetic_answer(found)[1]["person"]
    assert not no_profile.found and no_profile.status_code == 200
    assert not not_found.found and not_found.status_code == 404
    assert not_found.response is not None and not not_found.response.success
    assert profile.fetched_at.tzinfo is not None
    assert api.stats.api_calls == 4 == state.requests
    assert api.stats.retries == 0
    assert api.stats.credits_left == body["credits_left"] == no_profile.response.credits_left  # type: ignore[union-attr]


async def test_5xx_are_retried_until_an_answer(start_mock: StartMock) -> None:
    url, state = start_mock(MockConfig(error_rate=0.5, seed=7))
    emails = [f"user{i}@example.com" for i in range(20)]
    async with client(url, max_retries=10) as api:
        results = await asyncio.gather(*(api.fetch_profile(e) for e in emails))
    assert [r.email for r in results] == emails
    assert state.faults["5xx"] > 0
    assert api.stats.retries == state.faults["5xx"]
    assert api.stats.api_calls == state.requests == len(emails) + state.faults["5xx"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (MockConfig(error_rate=1.0), "HTTP 50"),
        (MockConfig(truncated_rate=1.0), "not JSON"),
        (MockConfig(timeout_rate=1.0, hang_s=1.0), "timeout"),
    ],
    ids=["5xx", "truncated", "timeout"],
)
async def test_retries_stop_after_max_retries(
    start_mock: StartMock, config: MockConfig, message: str
) -> None:
    url, state = start_mock(config)
    (email,) = emails_with(200, True)
    async with client(url, max_retries=2, timeout=0.3) as api:
        with pytest.raises(EnrichmentError, match=message) as caught:
            await api.fetch_profile(email)
    assert not isinstance(caught.value, RetriableEnrichmentError)
    assert "gave up after 3 attempt(s)" in str(caught.value)
    assert state.attempts[email] == 3
    assert api.stats.api_calls == 3 and api.stats.retries == 2 and api.stats.failures == 1


@pytest.mark.parametrize(
    "config",
    [MockConfig(truncated_rate=0.5, seed=3), MockConfig(timeout_rate=0.3, hang_s=1.0, seed=3)],
    ids=["truncated", "timeout"],
)
async def test_transient_faults_are_retried_until_an_answer(
    start_mock: StartMock, config: MockConfig
) -> None:
    url, state = start_mock(config)
    emails = [f"user{i}@example.com" for i in range(12)]
    async with client(url, max_retries=10, timeout=0.3) as api:
        results = await asyncio.gather(*(api.fetch_profile(e) for e in emails))
    assert all(r.response is not None for r in results)
    assert sum(state.faults.values()) > 0
    assert api.stats.retries == sum(state.faults.values())


async def test_connection_errors_are_retried_then_reported() -> None:
    url = f"http://127.0.0.1:{free_port('127.0.0.1')}"
    async with client(url, max_retries=2) as api:
        with pytest.raises(EnrichmentError, match="cannot reach"):
            await api.fetch_profile("someone@example.com")
    assert api.stats.api_calls == 3


async def test_retry_after_is_honoured(start_mock: StartMock) -> None:
    url, state = start_mock(MockConfig(rate_limit=2, retry_after_s=0.5))
    emails = [f"user{i}@example.com" for i in range(5)]
    async with client(url, max_retries=10) as api:
        results = await asyncio.gather(*(api.fetch_profile(e) for e in emails))
    assert len(results) == 5
    limited = [(t, e) for t, e, status in state.log if status == 429]
    assert limited, "the server never answered 429"
    assert api.stats.rate_limited == len(limited) == state.by_status[429]
    for when, email in limited:
        later = [t for t, e in state.arrivals if e == email and t > when]
        assert later and min(later) - when >= 0.5, "retried before Retry-After elapsed"


async def test_client_rate_limit_spaces_requests(start_mock: StartMock) -> None:
    url, state = start_mock(MockConfig())
    emails = [f"user{i}@example.com" for i in range(9)]
    async with client(url, rate_limit=20.0) as api:
        await asyncio.gather(*(api.fetch_profile(e) for e in emails))
    arrivals = sorted(t for t, _ in state.arrivals)
    # The limiter lets 100 ms of requests (2 at 20/s) out at once, then one every 1/20 s: 7
    # intervals after the first two. Two are allowed for the first requests, which can reach
    # the server late on a busy machine (connection set-up); unlimited, all 9 arrive within
    # a few milliseconds.
    assert arrivals[-1] - arrivals[0] >= (9 - 2 - 2) / 20


@pytest.mark.parametrize(("sent", "status"), [("", 401), ("wrong", 403)])
async def test_bad_key_stops_the_run(start_mock: StartMock, sent: str, status: int) -> None:
    url, state = start_mock(MockConfig(api_key="s3cret"))
    async with client(url, api_key=sent, concurrency=2) as api:
        outcomes = await asyncio.gather(
            *(api.fetch_profile(f"user{i}@example.com") for i in range(10)),
            return_exceptions=True,
        )
        calls = state.requests
        with pytest.raises(AuthenticationError):
            await api.fetch_profile("later@example.com")
    assert all(isinstance(o, AuthenticationError) for o in outcomes)
    error = outcomes[0]
    assert isinstance(error, AuthenticationError) and error.status_code == status
    assert "LEADPERSONA_LINKEDIN_API_KEY" in str(error) and "\n" not in str(error)
    assert "s3cret" not in str(error)
    assert calls <= 2, "requests kept going after the key was refused"
    assert state.requests == calls
    assert api.stats.retries == 0


async def test_right_key_is_accepted(start_mock: StartMock) -> None:
    url, _ = start_mock(MockConfig(api_key="s3cret"))
    async with client(url, api_key="s3cret") as api:
        result = await api.fetch_profile(DEMO_EMAIL)
    assert result.found


async def test_duplicate_emails_cost_one_call(start_mock: StartMock) -> None:
    url, state = start_mock(MockConfig(latency_s=0.05))
    spellings = ["Dup@Example.com", "dup@example.com", " DUP@example.COM "] * 4
    async with client(url) as api:
        results = await asyncio.gather(*(api.fetch_profile(e) for e in spellings))
        again = await api.fetch_profile("dup@example.com")
    assert state.requests == 1 and api.stats.api_calls == 1
    assert api.stats.deduplicated == len(spellings)
    assert all(r is results[0] for r in results) and again is results[0]
    assert results[0].email == "dup@example.com"


async def test_fixture_mode_serves_the_provided_answer(start_mock: StartMock) -> None:
    url, _ = start_mock(MockConfig(mode="fixture"))
    async with client(url) as api:
        result = await api.fetch_profile("anyone@example.com")
    assert result.raw == example_answer_bytes()


async def test_default_client_uses_the_in_process_mock() -> None:
    settings = Settings()
    assert settings.uses_mock_api
    async with enrichment_client(settings) as api:
        demo = await api.fetch_profile(DEMO_EMAIL)
        other = await api.fetch_profile("someone@example.com")
    assert demo.raw == example_answer_bytes()
    assert other.status_code in (200, 404)
    assert api.stats.api_calls == 2


async def test_configured_api_is_capped_and_keyed(start_mock: StartMock) -> None:
    url, state = start_mock(MockConfig(api_key="k3y"))
    settings = Settings(linkedin_api_url=url, linkedin_api_key="k3y")  # type: ignore[arg-type]
    async with enrichment_client(settings) as api:
        result = await api.fetch_profile(DEMO_EMAIL)
    assert result.found and state.requests == 1
