"""The async client of the enrichment API (Scrapin.io format, SPEC section 3).

One :class:`EnrichmentClient` is one run: a :class:`~leadpersona.adapters.http_client.PoliteClient`
(rate cap, concurrency bound, retries, ``Retry-After``, fatal stop, call statistics) that fetches
each distinct email at most once: concurrent callers of the same email share one request, later
callers get the same result.

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
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ValidationError

from leadpersona.adapters.http_client import CallStats, PoliteClient, parse_retry_after
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
    "parse_response",
    "parse_retry_after",
]

API_KEY_HEADER = "X-API-Key"
PATH = "/get_linkedin_data"
#: Base URL of the in-process mock (never resolved: requests go through an ASGI transport).
MOCK_BASE_URL = "http://mock-api.leadpersona.invalid"
NOT_JSON = "the answer is not JSON"

#: Answers a client keeps in memory to serve repeated emails without a call.
RECENT_ANSWERS = 4096


def _parse(raw: bytes) -> tuple[LinkedInResponse | None, str | None]:
    """The answer's model, or why there is none."""
    try:
        # Parsed and validated in one pass (about twice as fast as json.loads first); an
        # answer it refuses is read again below only to say why.
        return LinkedInResponse.model_validate_json(raw), None
    except ValidationError:
        pass
    try:
        data: Any = json.loads(raw)
    except ValueError:
        return None, NOT_JSON
    if not isinstance(data, dict):
        return None, "the answer is not a JSON object"
    try:
        return LinkedInResponse.model_validate(data), None
    except ValidationError as exc:
        return None, f"the answer does not follow the Scrapin format: {exc.errors()[0]}"


def parse_response(raw: bytes) -> LinkedInResponse | None:
    """An answer's bytes as the Scrapin model (None: not JSON, or not in its format)."""
    return _parse(raw)[0]


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
        response, problem = _parse(raw)
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


class ClientStats(CallStats):
    """What a client did so far."""

    credits_left: int | None = None
    rate_limit_left: int | None = None
    #: Calls answered from this run's earlier or in-flight fetch of the same email.
    deduplicated: int = 0


class _GiveUp(EnrichmentError):
    """Retries exhausted (an EnrichmentError, not retriable any more)."""


class EnrichmentClient(PoliteClient):
    """Fetch Scrapin-format profiles politely and robustly; use as an async context manager."""

    api_name: ClassVar[str] = "enrichment API"
    retriable_error = RetriableEnrichmentError
    fatal_error = FatalEnrichmentError
    give_up_error = _GiveUp

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
        self.stats: ClientStats = ClientStats()
        super().__init__(
            base_url,
            headers={API_KEY_HEADER: api_key} if api_key else None,
            rate_limit=rate_limit,
            concurrency=concurrency,
            timeout=timeout,
            max_retries=max_retries,
            transport=transport,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            max_retry_after=max_retry_after,
            stats=self.stats,
        )
        # Recent answers, so an email asked again soon costs no call; bounded so that a run over
        # millions of leads does not keep every answer in memory (the pipeline's archive lookup
        # covers repeats further apart).
        self._done: OrderedDict[str, FetchResult] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[FetchResult]] = {}

    async def aclose(self) -> None:
        """Cancel what is still in flight and close the connections."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await super().aclose()

    async def fetch_profile(self, email: str) -> FetchResult:
        """The API's answer for ``email``, fetched at most once per client."""
        key = normalize_email(email)
        if self.stopped is not None:
            raise self.stopped
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

    def check_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status in (401, 403):
            raise AuthenticationError(
                f"the enrichment API at {self.base_url} refused the API key (HTTP {status}); "
                "check LEADPERSONA_LINKEDIN_API_KEY",
                status_code=status,
            )
        super().check_status(response)

    # Internals.

    async def _fetch(self, email: str) -> FetchResult:
        def interpret(response: httpx.Response) -> FetchResult:
            return self._interpret(email, response, datetime.now(UTC))

        result = await self.call("GET", PATH, interpret, params={"email": email})
        self._done[email] = result
        if len(self._done) > RECENT_ANSWERS:
            self._done.popitem(last=False)
        return result

    def _interpret(self, email: str, response: httpx.Response, fetched_at: datetime) -> FetchResult:
        status = response.status_code
        raw = response.content
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
