"""The async client of the enrichment API (Scrapin.io format, SPEC section 3).

One :class:`EnrichmentClient` is one run: it pools connections (httpx), caps the request rate
(``aiolimiter``, a leaky bucket holding 100 ms of requests, at least one) and the
requests in flight (a semaphore), and fetches each distinct email at most once: concurrent
callers of the same email share one request, later callers get the same result.

What an answer means:

After any :class:`~leadpersona.errors.FatalEnrichmentError` every later call of the same client
raises it again without calling the API.

======================  ==============================================================
answer                  outcome
======================  ==============================================================
200 (JSON object)       :class:`FetchResult`; ``found`` is ``success``
404                     :class:`FetchResult` with ``found=False``
401 / 403               :class:`~leadpersona.errors.AuthenticationError`
402                     :class:`~leadpersona.errors.FatalEnrichmentError` (no credits left)
400 / 422               :class:`~leadpersona.errors.EnrichmentError` for that email only
other 4xx, 3xx          :class:`~leadpersona.errors.FatalEnrichmentError`
429                     wait ``Retry-After`` (seconds or an HTTP date), pausing every request
                        of this client meanwhile, then retry
408, 5xx, timeout,      retry with exponential backoff and full jitter
connection error,
200 that is not JSON
======================  ==============================================================

Retries are bounded by ``max_retries``; then :class:`~leadpersona.errors.EnrichmentError`
(not retriable any more) says how many attempts were made and what the last failure was.
The raw body is always kept exactly as received (``FetchResult.raw``); a JSON body that does
not fit the tolerant Scrapin models is still returned, with ``response=None`` and
``parse_error`` set.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import httpx
from aiolimiter import AsyncLimiter
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from leadpersona import __version__
from leadpersona.config import Settings
from leadpersona.domain.email import normalize_email
from leadpersona.domain.profile import LinkedInResponse
from leadpersona.errors import (
    AuthenticationError,
    EnrichmentError,
    FatalEnrichmentError,
    RetriableEnrichmentError,
)

__all__ = [
    "API_KEY_HEADER",
    "MOCK_BASE_URL",
    "ClientStats",
    "EnrichmentClient",
    "FetchResult",
    "build_enrichment_client",
    "normalize_email",
    "parse_retry_after",
]

API_KEY_HEADER = "X-API-Key"
PATH = "/get_linkedin_data"
#: Base URL of the in-process mock (never resolved: requests go through an ASGI transport).
MOCK_BASE_URL = "http://mock-api.leadpersona.invalid"
NOT_JSON = "the answer is not JSON"
#: The rate limiter lets this many seconds' worth of requests out at once.
BURST_SECONDS = 0.1

#: Answers a client keeps in memory to serve repeated emails without a call.
RECENT_ANSWERS = 4096


class FetchResult(BaseModel):
    """One answer of the API, raw and parsed."""

    email: str
    status_code: int
    raw: bytes
    fetched_at: datetime
    response: LinkedInResponse | None
    found: bool
    parse_error: str | None = None

    @classmethod
    def from_answer(
        cls, email: str, status_code: int, raw: bytes, fetched_at: datetime
    ) -> FetchResult:
        """Parse an answer (as received now, or read back from the archive)."""
        response: LinkedInResponse | None = None
        problem: str | None = None
        try:
            data: Any = json.loads(raw)
        except ValueError:
            data, problem = None, NOT_JSON
        if isinstance(data, dict):
            try:
                response = LinkedInResponse.model_validate(data)
            except ValidationError as exc:
                problem = f"the answer does not follow the Scrapin format: {exc.errors()[0]}"
        elif problem is None:
            problem = "the answer is not a JSON object"
        found = status_code == 200 and response is not None and response.success
        return cls(
            email=email,
            status_code=status_code,
            raw=raw,
            fetched_at=fetched_at,
            response=response,
            found=found,
            parse_error=problem if status_code == 200 else None,
        )


class ClientStats(BaseModel):
    """What a client did so far."""

    api_calls: int = 0
    retries: int = 0
    rate_limited: int = 0
    credits_left: int | None = None
    rate_limit_left: int | None = None
    #: Calls answered from this run's earlier or in-flight fetch of the same email.
    deduplicated: int = 0
    #: Emails given up on (retries exhausted or a per-email error).
    failures: int = 0


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _GiveUp(EnrichmentError):
    """Retries exhausted (an EnrichmentError, not retriable any more)."""


class EnrichmentClient:
    """Fetch Scrapin-format profiles politely and robustly; use as an async context manager."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str = "",
        rate_limit: float | None = None,
        concurrency: int = 16,
        timeout: float = 10.0,
        max_retries: int = 5,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 300.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if rate_limit is not None and rate_limit <= 0:
            raise ValueError("rate_limit must be positive")
        headers = {"User-Agent": f"leadpersona/{__version__}", "Accept": "application/json"}
        if api_key:
            headers[API_KEY_HEADER] = api_key
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            transport=transport,
        )
        self._limiter: AsyncLimiter | None = None
        if rate_limit is not None:
            # A bucket holding 100 ms of requests (at least one): the average rate is the cap,
            # and the event loop's scheduling delays do not eat into it.
            burst = max(1.0, rate_limit * BURST_SECONDS)
            self._limiter = AsyncLimiter(burst, burst / rate_limit)
        self._semaphore = asyncio.Semaphore(concurrency)
        self._max_retries = max_retries
        self._backoff = wait_random_exponential(multiplier=backoff_base, max=backoff_max)
        self._max_retry_after = max_retry_after
        self._resume_at = 0.0
        self._fatal_error: FatalEnrichmentError | None = None
        # Recent answers, so an email asked again soon costs no call; bounded so that a run over
        # millions of leads does not keep every answer in memory (the pipeline's archive lookup
        # covers repeats further apart).
        self._done: OrderedDict[str, FetchResult] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[FetchResult]] = {}
        self.stats = ClientStats()

    async def __aenter__(self) -> EnrichmentClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel what is still in flight and close the connections."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._http.aclose()

    async def fetch_profile(self, email: str) -> FetchResult:
        """The API's answer for ``email``, fetched at most once per client."""
        key = normalize_email(email)
        if self._fatal_error is not None:
            raise self._fatal_error
        done = self._done.get(key)
        if done is not None:
            self._done.move_to_end(key)
            self.stats.deduplicated += 1
            return done
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(key))
            self._inflight[key] = task
            task.add_done_callback(lambda _t: self._inflight.pop(key, None))
        else:
            self.stats.deduplicated += 1
        # A cancelled caller must not cancel the fetch others wait for.
        return await asyncio.shield(task)

    # Internals.

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RetriableEnrichmentError) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._backoff(state))

    def _before_sleep(self, _state: RetryCallState) -> None:
        self.stats.retries += 1

    async def _fetch(self, email: str) -> FetchResult:
        attempts = self._max_retries + 1
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=self._wait,
            retry=retry_if_exception_type(RetriableEnrichmentError),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    result = await self._attempt(email)
        except RetriableEnrichmentError as exc:
            self.stats.failures += 1
            raise _GiveUp(
                f"enrichment API: gave up after {attempts} attempt(s): {exc}",
                status_code=exc.status_code,
            ) from exc
        except FatalEnrichmentError as exc:
            self._fatal_error = exc  # a bad key, no credits: no later call can succeed
            raise
        except EnrichmentError:
            self.stats.failures += 1
            raise
        self._done[email] = result
        if len(self._done) > RECENT_ANSWERS:
            self._done.popitem(last=False)
        return result

    async def _pause_if_rate_limited(self) -> None:
        while (delay := self._resume_at - time.monotonic()) > 0:
            await asyncio.sleep(delay)

    async def _attempt(self, email: str) -> FetchResult:
        await self._pause_if_rate_limited()
        async with self._semaphore:
            if self._fatal_error is not None:
                raise self._fatal_error
            if self._limiter is not None:
                await self._limiter.acquire()
            self.stats.api_calls += 1
            try:
                response = await self._http.get(PATH, params={"email": email})
            except httpx.TimeoutException as exc:
                raise RetriableEnrichmentError(
                    f"no answer within the timeout ({type(exc).__name__})"
                ) from exc
            except httpx.TransportError as exc:
                raise RetriableEnrichmentError(
                    f"cannot reach {self.base_url}: {exc or type(exc).__name__}"
                ) from exc
            fetched_at = datetime.now(UTC)
        return self._interpret(email, response, fetched_at)

    def _interpret(self, email: str, response: httpx.Response, fetched_at: datetime) -> FetchResult:
        status = response.status_code
        raw = response.content
        if status in (401, 403):
            raise AuthenticationError(
                f"the enrichment API at {self.base_url} refused the API key (HTTP {status}); "
                "check LEADPERSONA_LINKEDIN_API_KEY",
                status_code=status,
            )
        if status == 429:
            self.stats.rate_limited += 1
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                if retry_after > self._max_retry_after:
                    raise FatalEnrichmentError(
                        f"the enrichment API asks to wait {retry_after:.0f} s "
                        f"(more than {self._max_retry_after:.0f} s): rate limit exhausted",
                        status_code=status,
                    )
                self._resume_at = max(self._resume_at, time.monotonic() + retry_after)
            raise RetriableEnrichmentError(
                "rate limited (HTTP 429)", status_code=status, retry_after=retry_after
            )
        if status == 408 or status >= 500:
            raise RetriableEnrichmentError(f"HTTP {status}", status_code=status)
        if status in (200, 404):
            result = FetchResult.from_answer(email, status, raw, fetched_at)
            if status == 200 and result.parse_error == NOT_JSON:
                raise RetriableEnrichmentError(
                    f"the answer is not JSON ({len(raw)} bytes)", status_code=status
                )
            if result.response is not None:
                if result.response.credits_left is not None:
                    self.stats.credits_left = result.response.credits_left
                if result.response.rate_limit_left is not None:
                    self.stats.rate_limit_left = result.response.rate_limit_left
            return result
        if status == 402:
            raise FatalEnrichmentError(
                "the enrichment API has no credits left (HTTP 402)", status_code=status
            )
        if status in (400, 422):
            raise EnrichmentError(
                f"the enrichment API rejected this email (HTTP {status})", status_code=status
            )
        raise FatalEnrichmentError(
            f"unexpected answer from the enrichment API at {self.base_url}: HTTP {status}",
            status_code=status,
        )


def build_enrichment_client(settings: Settings) -> EnrichmentClient:
    """The client the settings describe: the configured API, or the in-process mock."""
    transport: httpx.AsyncBaseTransport | None = None
    base_url = settings.linkedin_api_url
    if base_url is None:
        from leadpersona.adapters.mock_api import create_app

        transport = httpx.ASGITransport(app=create_app())
        base_url = MOCK_BASE_URL
    return EnrichmentClient(
        base_url,
        api_key=settings.linkedin_api_key.get_secret_value(),
        rate_limit=settings.effective_rate_limit,
        concurrency=settings.linkedin_concurrency,
        timeout=settings.linkedin_timeout,
        max_retries=settings.linkedin_max_retries,
        transport=transport,
    )
