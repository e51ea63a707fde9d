"""Alerts reach a real loopback webhook, are retried, and a dead webhook never raises."""

from __future__ import annotations

import io
import socket
from datetime import UTC, datetime

from leadpersona.domain.runs import RunRecord
from leadpersona.services.alerts import Alert, Alerts, persona_quality_alerts
from leadpersona.services.enrichment import RunSummary, failure_verdict
from tests.fakes import InMemoryRunRepository
from tests.webhook_support import webhook_server


async def test_an_alert_is_kept_printed_and_posted_after_retries() -> None:
    runs = InMemoryRunRepository()
    record = RunRecord(kind="daily", started_at=datetime.now(UTC))
    await runs.start(record)
    stream = io.StringIO()
    with webhook_server(refuse_first=2) as hook:
        alerts = Alerts(hook.url, runs=runs, backoff_s=0.01, stream=stream)
        delivered = await alerts.raise_alert(
            Alert(kind="step_failed", message="step enrich failed", run_id=record.id)
        )
    assert delivered is True
    assert hook.attempts == 3
    assert hook.received == [
        {
            "kind": "step_failed",
            "message": "step enrich failed",
            "run_id": record.id,
            "at": hook.received[0]["at"],
        }
    ]
    assert stream.getvalue() == f"alert [step_failed] run {record.id}: step enrich failed\n"
    assert runs.runs[record.id].alerts[0]["message"] == "step enrich failed"


async def test_a_webhook_that_is_down_is_given_up_without_raising() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    stream = io.StringIO()
    alerts = Alerts(f"http://127.0.0.1:{port}/", attempts=2, backoff_s=0.01, stream=stream)
    assert await alerts.raise_alert(Alert(kind="credits", message="3 credits left")) is False
    assert "alert [credits]: 3 credits left" in stream.getvalue()


def test_failure_verdict_every_call_or_above_the_rate() -> None:
    def summary(enriched: int, failed: int) -> RunSummary:
        return RunSummary(run_id="r", enriched=enriched, failed=failed)

    assert failure_verdict(summary(0, 0), 0.5) is None
    assert failure_verdict(summary(10, 0), 0.0) is None
    assert failure_verdict(summary(5, 5), 0.5) is None
    assert failure_verdict(summary(4, 6), 0.5) == "6 of 10 enrichment calls failed (60%, limit 50%)"
    assert failure_verdict(summary(0, 3), 1.0) is not None


def test_credits_alert_only_below_the_floor() -> None:
    from leadpersona.services.alerts import credits_alert

    assert credits_alert(None, 100, "r") is None
    assert credits_alert(100, 100, "r") is None
    alert = credits_alert(99, 100, "r")
    assert alert is not None and alert.kind == "credits" and alert.run_id == "r"
    assert "99 < floor 100" in alert.message


def test_persona_quality_alerts_below_coverage_and_above_unknown_rate() -> None:
    healthy = {"coverage": 0.95, "enriched": 10, "academic_field": {"unknown_rate": 0.1}}
    assert (
        persona_quality_alerts(healthy, min_coverage=0.9, max_unknown_rate=0.25, run_id="r") == []
    )
    poor = {
        "coverage": 0.5,
        "personas": 5,
        "total_leads": 10,
        "enriched": 5,
        "academic_field": {"unknown_rate": 0.6},
    }
    found = persona_quality_alerts(poor, min_coverage=0.9, max_unknown_rate=0.25, run_id="r")
    assert [a.kind for a in found] == ["quality", "quality"]
    assert "coverage 50.0% is below 90%" in found[0].message
    assert "unknown for 60.0% of enriched leads" in found[1].message
    nothing_enriched = {"coverage": None, "enriched": 0, "academic_field": {"unknown_rate": None}}
    assert (
        persona_quality_alerts(nothing_enriched, min_coverage=0.9, max_unknown_rate=0.2, run_id="r")
        == []
    )
