"""Pure parts of the enrichment client: Retry-After and tolerant answer parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from leadpersona.adapters.enrichment_client import (
    EnrichmentClient,
    FetchResult,
    parse_retry_after,
)
from leadpersona.domain.email import normalize_email

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 0.5 ", 0.5),
        ("-2", 0.0),
        ("Wed, 01 Jan 2025 12:00:07 GMT", 7.0),
        ("Wed, 01 Jan 2025 11:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_unknown_fields_and_null_sections_are_tolerated() -> None:
    raw = b'{"success": true, "extra": {"x": 1}, "person": null, "company": {"name": "A"}}'
    result = FetchResult.from_answer("a@example.com", 200, raw, NOW)
    assert result.found and result.raw == raw and result.parse_error is None
    assert result.response is not None and result.response.person is None


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"[1, 2]", "not a JSON object"),
        (b'{"success": true, "person": "nobody"}', "Scrapin format"),
        (b'{"success": tru', "not JSON"),
    ],
)
def test_answers_that_do_not_fit_keep_their_bytes(raw: bytes, problem: str) -> None:
    result = FetchResult.from_answer("a@example.com", 200, raw, NOW)
    assert not result.found and result.response is None and result.raw == raw
    assert result.parse_error is not None and problem in result.parse_error


def test_not_found_answers() -> None:
    result = FetchResult.from_answer("a@example.com", 404, b'{"success": false}', NOW)
    assert not result.found and result.parse_error is None


def test_emails_are_normalised() -> None:
    assert normalize_email("  Some.One@Example.COM ") == "some.one@example.com"


@pytest.mark.parametrize("options", [{"concurrency": 0}, {"rate_limit": 0.0}])
def test_invalid_options(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        EnrichmentClient("http://127.0.0.1:1", **options)  # type: ignore[arg-type]


async def test_the_in_memory_answer_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import leadpersona.adapters.enrichment_client as module

    monkeypatch.setattr(module, "RECENT_ANSWERS", 2)
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["email"])
        return httpx.Response(200, json={"success": True, "person": None, "company": None})

    async with module.EnrichmentClient(
        "http://api.invalid", transport=httpx.MockTransport(answer)
    ) as client:
        for email in ["a@x.io", "b@x.io", "a@x.io", "c@x.io", "b@x.io", "a@x.io"]:
            await client.fetch_profile(email)
    # a is kept (recently used), b is evicted by c and fetched again, then a is evicted by b.
    assert seen == ["a@x.io", "b@x.io", "c@x.io", "b@x.io", "a@x.io"]
