"""A polite, robust HTTP client for third-party APIs: the base of every API client we ship.

One :class:`PoliteClient` is one run against one API. It pools connections (httpx), caps the
request rate (``aiolimiter``, a leaky bucket holding 100 ms of requests, at least one) and the
requests in flight (a semaphore), and retries what can succeed later with tenacity:

======================  ==============================================================
answer                  outcome (:meth:`PoliteClient.check_status`, refined by subclasses)
======================  ==============================================================
429                     wait ``Retry-After`` (seconds or an HTTP date), pausing every request
                        of this client meanwhile, then retry; a wait longer than
                        ``max_retry_after`` is fatal
408, 5xx, timeout,      retry with exponential backoff and full jitter
connection error
401 / 403               fatal (the key is refused)
anything else           returned to the subclass to interpret
======================  ==============================================================

A retriable error raised by the subclass's interpretation of an answer (a body that is not
JSON, say) is retried the same way. Retries are bounded by ``max_retries``; then the client's
``give_up_error`` says how many attempts were made and what the last failure was. After a fatal
error every later call of the same client raises it again without calling the API.

A subclass sets ``api_name`` and the three error classes (subclasses of the
:class:`~leadpersona.errors.ApiError` pair) and calls :meth:`PoliteClient.call` with a function
turning an answer into its result.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

import httpx
from aiolimiter import AsyncLimiter
from pydantic import BaseModel
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from leadpersona import __version__
from leadpersona.errors import ApiError, FatalApiError, RetriableApiError

__all__ = ["BURST_SECONDS", "CallStats", "PoliteClient", "parse_retry_after"]

#: The rate limiter lets this many seconds' worth of requests out at once.
BURST_SECONDS = 0.1

T = TypeVar("T")


class CallStats(BaseModel):
    """What a client did so far."""

    api_calls: int = 0
    retries: int = 0
    #: Answers with HTTP 429.
    rate_limited: int = 0
    #: Calls given up on (retries exhausted or an error for that call only).
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


class PoliteClient:
    """Rate cap, concurrency bound, retries, ``Retry-After`` and a fatal stop for one API."""

    #: How error messages name the API ("the <api_name> asks to wait ...").
    api_name: ClassVar[str] = "API"
    retriable_error: ClassVar[type[RetriableApiError]] = RetriableApiError
    fatal_error: ClassVar[type[FatalApiError]] = FatalApiError
    #: Raised when retries are exhausted: an :class:`ApiError` that is not retriable.
    give_up_error: ClassVar[type[ApiError]] = ApiError

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        rate_limit: float | None = None,
        concurrency: int = 16,
        timeout: float = 10.0,
        max_retries: int = 5,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 300.0,
        stats: CallStats | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if rate_limit is not None and rate_limit <= 0:
            raise ValueError("rate_limit must be positive")
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={
                "User-Agent": f"leadpersona/{__version__}",
                "Accept": "application/json",
                **(headers or {}),
            },
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
        self._fatal: FatalApiError | None = None
        self.stats = stats if stats is not None else CallStats()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    @property
    def stopped(self) -> FatalApiError | None:
        """The fatal error that stopped this client, if any."""
        return self._fatal

    async def call(
        self,
        method: str,
        path: str,
        interpret: Callable[[httpx.Response], T],
        **request: Any,
    ) -> T:
        """Send a request politely, retrying, and turn the answer into a result.

        ``interpret`` sees every answer :meth:`check_status` lets through; it may raise the
        client's retriable error (retried), its fatal error (stops the client) or any other
        :class:`ApiError` (this call fails).
        """
        if self._fatal is not None:
            raise self._fatal
        attempts = self._max_retries + 1
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=self._wait,
            retry=retry_if_exception_type(RetriableApiError),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._send(method, path, **request)
                    self.check_status(response)
                    result = interpret(response)
        except RetriableApiError as exc:
            self.stats.failures += 1
            raise self.give_up_error(
                f"{self.api_name}: gave up after {attempts} attempt(s): {exc}",
                status_code=exc.status_code,
            ) from exc
        except FatalApiError as exc:
            self._fatal = exc  # a bad key, no credits: no later call can succeed
            raise
        except ApiError:
            self.stats.failures += 1
            raise
        return result

    def check_status(self, response: httpx.Response) -> None:
        """Raise for the answers every API means the same way (see the module docstring)."""
        status = response.status_code
        if status in (401, 403):
            raise self.fatal_error(
                f"the {self.api_name} at {self.base_url} refused the API key (HTTP {status})",
                status_code=status,
            )
        if status == 429:
            self.stats.rate_limited += 1
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                if retry_after > self._max_retry_after:
                    raise self.fatal_error(
                        f"the {self.api_name} asks to wait {retry_after:.0f} s "
                        f"(more than {self._max_retry_after:.0f} s): rate limit exhausted",
                        status_code=status,
                    )
                self._resume_at = max(self._resume_at, time.monotonic() + retry_after)
            raise self.retriable_error(
                "rate limited (HTTP 429)", status_code=status, retry_after=retry_after
            )
        if status == 408 or status >= 500:
            raise self.retriable_error(f"HTTP {status}", status_code=status)

    # Internals.

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RetriableApiError) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._backoff(state))

    def _before_sleep(self, _state: RetryCallState) -> None:
        self.stats.retries += 1

    async def _pause_if_rate_limited(self) -> None:
        while (delay := self._resume_at - time.monotonic()) > 0:
            await asyncio.sleep(delay)

    async def _send(self, method: str, path: str, **request: Any) -> httpx.Response:
        await self._pause_if_rate_limited()
        async with self._semaphore:
            if self._fatal is not None:
                raise self._fatal
            if self._limiter is not None:
                await self._limiter.acquire()
            self.stats.api_calls += 1
            try:
                return await self._http.request(method, path, **request)
            except httpx.TimeoutException as exc:
                raise self.retriable_error(
                    f"no answer within the timeout ({type(exc).__name__})"
                ) from exc
            except httpx.TransportError as exc:
                raise self.retriable_error(
                    f"cannot reach {self.base_url}: {exc or type(exc).__name__}"
                ) from exc
