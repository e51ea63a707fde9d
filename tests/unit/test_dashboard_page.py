"""The dashboard template: hostile values stay text, data round-trips, Markdown summary."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from leadpersona.domain.persona_stats import PersonaGroup, summarise
from leadpersona.entrypoints.http.page import render_page
from leadpersona.entrypoints.report import report_markdown
from leadpersona.services.dashboard import DashboardData, QuarantineSummary, RunSummary

HOSTILE = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"


def _data(label: str = HOSTILE) -> DashboardData:
    groups = [
        PersonaGroup(label, "Startup", "enriched", "mapping", 3),
        PersonaGroup(None, None, "no_data", None, 1),
    ]
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return DashboardData(
        generated_at=started,
        database="db",
        stats=summarise(groups, {"enriched": 3, "no_data": 1}, 8),
        runs=[
            RunSummary(
                id="r1",
                started_at=started,
                status="completed",
                counts={"processed": 4},
                failures=1,
                errors=[{"lead_id": "x", "error": HOSTILE}],
            )
        ],
        quarantine=QuarantineSummary(total=2, by_reason={HOSTILE: 2}, imports=[]),
        mapping=None,
        mapping_error="no such file: /nowhere.csv",
    )


def _embedded(html: str) -> dict[str, Any]:
    match = re.search(
        r'<script type="application/json" id="dashboard-data">(.*?)</script>', html, re.S
    )
    assert match is not None
    document: dict[str, Any] = json.loads(match.group(1))
    return document


def test_hostile_values_are_escaped_in_both_modes() -> None:
    data = _data()
    for live in (True, False):
        html = render_page(data, live=live)
        assert HOSTILE not in html
        assert "<script>alert(1)" not in html
        assert "<img src=x" not in html
        # Embedded JSON cannot close its element, and still decodes to the same data.
        assert DashboardData.model_validate(_embedded(html)) == data


def test_live_page_links_assets_and_report_inlines_them() -> None:
    data = _data("law")
    live = render_page(data, live=True, token_required=True)
    static = render_page(data, live=False)

    assert live.count("<script src=") == 4 and 'id="api-token"' in live
    assert "<script src=" not in static and 'id="lead-search"' not in static
    assert len(static) > 800_000 > 100_000 > len(live)  # the chart libraries are inside
    assert 'id="mapping-error">Mapping CSV unavailable: no such file: /nowhere.csv<' in static
    assert 'id="kpi-coverage">50.0 %<' in static  # 4 personas (one without data) of 8 leads
    assert 'id="kpi-mapping">n/a<' in static


def test_markdown_summary() -> None:
    markdown = report_markdown(_data("law"))

    assert "| law | Startup | 3 |" in markdown
    assert "| coverage (personas / leads) | 50.0 % |" in markdown
    assert "Unavailable: no such file: /nowhere.csv" in markdown
    assert "| 2026-01-02T03:04:05+00:00 | completed |" in markdown
    # A pipe in a value cannot break the table.
    assert "a \\| b" in report_markdown(_data("a | b"))
