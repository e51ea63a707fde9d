"""The persona report: the dashboard as one self-contained HTML file and a Markdown summary.

Shared by ``leadpersona report`` and ``leadpersona demo``.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from leadpersona.bootstrap import (
    MongoDatabase,
    field_map_store,
    mongo_repositories,
    warehouse_or_reason,
)
from leadpersona.config import Settings
from leadpersona.entrypoints.http.page import render_page
from leadpersona.errors import ReportError
from leadpersona.mapping import FieldMapStore
from leadpersona.services.dashboard import DashboardData, RunSummary, collect_dashboard
from leadpersona.services.tables import Table, columns, dashboard_tables, pct

__all__ = [
    "REPORT_HTML",
    "REPORT_MARKDOWN",
    "ReportPaths",
    "default_report_dir",
    "report_markdown",
    "write_report",
]

REPORT_HTML = "persona-report.html"
REPORT_MARKDOWN = "persona-report.md"


class ReportPaths(BaseModel):
    """Where ``write_report`` put the report."""

    html: Path
    markdown: Path
    generated_at: datetime


def default_report_dir(settings: Settings) -> Path:
    """``$LEADPERSONA_DATA_DIR/reports``."""
    return settings.data_dir / "reports"


#: The counts of an enrichment run the Markdown report shows.
_RUN_COUNTS = ("processed", "enriched", "no_data", "failed", "api_calls")


def _failures(run: RunSummary) -> str:
    failures = "; ".join(
        f"{error.get('lead_id', '')}: {error.get('error', '')}" for error in run.errors[:3]
    )
    if run.error:
        failures = f"{run.error}; {failures}" if failures else run.error
    if run.failures > 3:
        failures += f" (+{run.failures - 3} more)"
    return failures or "none"


def _runs_table(data: DashboardData) -> Table:
    return Table(
        "runs-table",
        columns("started", "status", "#seconds", *(f"#{key}" for key in _RUN_COUNTS), "failures"),
        [
            (
                run.started_at.isoformat(timespec="seconds"),
                run.status,
                "" if run.duration_seconds is None else str(run.duration_seconds),
                *(str(run.counts.get(key, "")) for key in _RUN_COUNTS),
                _failures(run),
            )
            for run in data.runs
        ],
    )


def report_markdown(data: DashboardData) -> str:
    """The dashboard's content as Markdown (for a README, a ticket, a diff between runs)."""
    stats = data.stats
    tables = dashboard_tables(data)
    academic, company = stats["academic_field"], stats["company_type"]
    lines = [
        f"# Persona report: {data.database}",
        "",
        f"Generated {data.generated_at.isoformat(timespec='seconds')}.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| leads | {stats['total_leads']} |",
        f"| personas | {stats['personas']} ({stats['enriched']} enriched, "
        f"{stats['no_data']} no data) |",
        f"| coverage (personas / leads) | {pct(stats['coverage'])} |",
        f"| academic field unknown (of enriched) | {pct(academic['unknown_rate'])} |",
        f"| company type unknown (of enriched) | {pct(company['unknown_rate'])} |",
        f"| inferred academic fields (of known) | {pct(academic['inferred_share'])} |",
    ]
    if data.mapping is not None:
        before, after = data.mapping.mapping_ratio_before, data.mapping.mapping_ratio_after
        ratio = f"{pct(before)} → {pct(after)}"
        lines.append(f"| mapping ratio (before → after cleaning) | {ratio} |")
    lines += [f"| quarantined lead rows | {data.quarantine.total} |", ""]

    lines += ["## Personas: academic field x company type", ""]
    if stats["matrix"]:
        lines += tables["matrix"].markdown()
    else:
        lines.append("No enriched persona yet.")
    lines.append("")

    lines += ["## Last enrichment runs", ""]
    if data.runs:
        lines += _runs_table(data).markdown()
    else:
        lines.append("No enrichment run yet.")
    lines.append("")

    lines += ["## Lead import quarantine", "", f"{data.quarantine.total} rejected rows.", ""]
    if data.quarantine.by_reason:
        lines += [*tables["reasons"].markdown(), ""]
    if data.quarantine.imports:
        lines += ["Recent imports:", "", *tables["imports"].markdown(), ""]

    lines += ["## Mapping CSV cleaning", ""]
    mapping = data.mapping
    if mapping is None:
        lines.append(f"Unavailable: {data.mapping_error}")
    else:
        lines += [
            f"`{mapping.path}` (version {mapping.version}).",
            "",
            *tables["mapping"].markdown(),
        ]
    lines.append("")
    lines += _sales_markdown(data, tables)
    return "\n".join(lines)


def _sales_markdown(data: DashboardData, tables: dict[str, Table]) -> list[str]:
    sales = data.sales
    lines = ["## Revenue by persona and month", ""]
    if sales.error:
        return [*lines, f"Warehouse unavailable: {sales.error}", ""]
    if not sales.revenue:
        return [*lines, "No sale loaded yet.", ""]
    lines += tables["revenue"].markdown()
    lines += [
        "",
        "## Lead-to-customer conversion",
        "",
        *tables["conversion"].markdown(),
    ]
    lines += [
        "",
        "## Top products per persona",
        "",
        *tables["top_products"].markdown(),
    ]
    lines.append("")
    return lines


def _write_atomic(path: Path, text: str) -> None:
    # Written beside the target and renamed: a reader never sees half a report. (Not mkstemp:
    # its 0600 mode would make the report unreadable to others, whatever the umask says.)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("x", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


async def write_report(
    settings: Settings,
    database: MongoDatabase,
    out_dir: Path,
    *,
    field_maps: FieldMapStore | None = None,
) -> ReportPaths:
    """Write ``persona-report.html`` (self-contained: scripts inlined, data embedded) and
    ``persona-report.md`` into ``out_dir`` (created if needed); return their paths.
    ``field_maps``: the mapping store the caller holds (else the one the settings point at)."""
    with warehouse_or_reason(settings) as warehouse:
        data = await collect_dashboard(
            mongo_repositories(database),
            field_maps if field_maps is not None else field_map_store(settings),
            database=database.name,
            warehouse=warehouse,
        )
    html = render_page(data, live=False)
    markdown = report_markdown(data)
    out_dir = Path(out_dir)
    paths = ReportPaths(
        html=(out_dir / REPORT_HTML).resolve(),
        markdown=(out_dir / REPORT_MARKDOWN).resolve(),
        generated_at=data.generated_at,
    )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(paths.html, html)
        _write_atomic(paths.markdown, markdown)
    except OSError as exc:
        raise ReportError(f"cannot write the report in {out_dir}: {exc.strerror or exc}") from None
    return paths
