"""Alerts (SPEC section 8): kept with their run, one line on stderr, a JSON POST to a webhook.

A webhook that is down or slow never fails the run: the POST is retried a few times with a
growing pause and then given up with a warning in the log.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import httpx
from pydantic import BaseModel, Field

from leadpersona.adapters.repositories import RunRepository

__all__ = ["Alert", "AlertKind", "Alerts", "credits_alert", "persona_quality_alerts"]

_log = logging.getLogger(__name__)

#: ``step_failed``: a step of a run failed; ``quality``: a quality measure is below its
#: threshold; ``freshness``: a source is staler than its bound; ``credits``: the enrichment
#: API has fewer credits left than the floor.
AlertKind = Literal["step_failed", "quality", "freshness", "credits"]


class Alert(BaseModel):
    """One alert, as kept with its run and as POSTed to the webhook."""

    kind: AlertKind
    message: str
    run_id: str | None = None
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class Alerts:
    """Raises alerts: ledger, stderr, webhook (``LEADPERSONA_ALERT_WEBHOOK``) when set."""

    def __init__(
        self,
        webhook: str | None,
        *,
        runs: RunRepository | None = None,
        attempts: int = 3,
        backoff_s: float = 0.2,
        timeout_s: float = 5.0,
        stream: TextIO | None = None,
    ) -> None:
        self.webhook = webhook
        self.runs = runs
        self.attempts = max(attempts, 1)
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.stream = stream
        self.raised: list[Alert] = []

    async def raise_alert(self, alert: Alert) -> bool:
        """Keep, print and send ``alert``; whether the webhook took it (True when none is set)."""
        self.raised.append(alert)
        if self.runs is not None and alert.run_id is not None:
            await self.runs.add_alert(alert.run_id, alert.model_dump(mode="json"))
        stream = self.stream or sys.stderr
        run = f" run {alert.run_id}" if alert.run_id else ""
        stream.write(f"alert [{alert.kind}]{run}: {alert.message}\n")
        stream.flush()
        if not self.webhook:
            return True
        return await self._post(alert)

    async def _post(self, alert: Alert) -> bool:
        payload = alert.model_dump(mode="json")
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            for attempt in range(self.attempts):
                if attempt:
                    await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
                try:
                    response = await client.post(str(self.webhook), json=payload)
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                else:
                    if response.status_code < 300:
                        return True
                    problem = f"HTTP {response.status_code}"
                    if response.status_code < 500 and response.status_code != 429:
                        break
                _log.warning("alert webhook attempt %d failed: %s", attempt + 1, problem)
        _log.warning("alert webhook gave up: %s", alert.message)
        return False


def credits_alert(credits_left: int | None, floor: int, run_id: str) -> Alert | None:
    """The alert for an enrichment API whose credits fell below ``floor``, if they did."""
    if credits_left is None or credits_left >= floor:
        return None
    return Alert(
        kind="credits",
        message=f"enrichment API credits left {credits_left} < floor {floor}",
        run_id=run_id,
    )


def persona_quality_alerts(
    stats: Mapping[str, Any], *, min_coverage: float, max_unknown_rate: float, run_id: str
) -> list[Alert]:
    """Quality alerts on the personas (``persona stats``): too few leads with a persona, or too
    many enriched leads whose academic field the mapping could not name."""
    found = []
    coverage = stats.get("coverage")
    if coverage is not None and coverage < min_coverage:
        found.append(
            Alert(
                kind="quality",
                run_id=run_id,
                message=(
                    f"persona coverage {coverage:.1%} is below {min_coverage:.0%}"
                    f" ({stats.get('personas')} personas for {stats.get('total_leads')} leads)"
                ),
            )
        )
    unknown = (stats.get("academic_field") or {}).get("unknown_rate")
    if stats.get("enriched") and unknown is not None and unknown > max_unknown_rate:
        found.append(
            Alert(
                kind="quality",
                run_id=run_id,
                message=(
                    f"academic field unknown for {unknown:.1%} of enriched leads, above"
                    f" {max_unknown_rate:.0%}: grow the mapping (leadpersona mapping add)"
                ),
            )
        )
    return found
