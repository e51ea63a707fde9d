"""The persona report: the dashboard as one self-contained HTML file and a Markdown summary.

Shared by ``leadpersona report`` and ``leadpersona demo``.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from leadpersona.bootstrap import MongoDatabase, mongo_repositories
from leadpersona.config import Settings
from leadpersona.entrypoints.http.page import render_page
from leadpersona.errors import ReportError
from leadpersona.services.dashboard import DashboardData, collect_dashboard

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


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def _cell(value: object) -> str:
    text = "(unknown)" if value is None else str(value)
    return " ".join(text.split()).replace("|", "\\|")


def report_markdown(data: DashboardData) -> str:
    """The dashboard's content as Markdown (for a README, a ticket, a diff between runs)."""
    stats = data.stats
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
        f"| coverage (personas / leads) | {_pct(stats['coverage'])} |",
        f"| academic field unknown (of enriched) | {_pct(academic['unknown_rate'])} |",
        f"| company type unknown (of enriched) | {_pct(company['unknown_rate'])} |",
        f"| inferred academic fields (of known) | {_pct(academic['inferred_share'])} |",
    ]
    if data.mapping is not None:
        before, after = data.mapping.mapping_ratio_before, data.mapping.mapping_ratio_after
        ratio = f"{_pct(before)} → {_pct(after)}"
        lines.append(f"| mapping ratio (before → after cleaning) | {ratio} |")
    lines += [f"| quarantined lead rows | {data.quarantine.total} |", ""]

    lines += ["## Personas: academic field x company type", ""]
    if stats["matrix"]:
        lines += ["| academic field | company type | personas |", "|---|---|---:|"]
        lines += [
            f"| {_cell(row['academic_field'])} | {_cell(row['company_type'])} | {row['count']} |"
            for row in stats["matrix"]
        ]
    else:
        lines.append("No enriched persona yet.")
    lines.append("")

    lines += ["## Last enrichment runs", ""]
    if data.runs:
        keys = ("processed", "enriched", "no_data", "failed", "api_calls")
        lines += [
            "| started | status | seconds | " + " | ".join(keys) + " | failures |",
            "|---|---|---:|" + "---:|" * len(keys) + "---|",
        ]
        for run in data.runs:
            counts = " | ".join(str(run.counts.get(key, "")) for key in keys)
            failures = "; ".join(
                f"{error.get('lead_id', '')}: {error.get('error', '')}" for error in run.errors[:3]
            )
            if run.error:
                failures = f"{run.error}; {failures}" if failures else run.error
            if run.failures > 3:
                failures += f" (+{run.failures - 3} more)"
            lines.append(
                f"| {run.started_at.isoformat(timespec='seconds')} | {run.status} | "
                f"{run.duration_seconds if run.duration_seconds is not None else ''} | {counts} | "
                f"{_cell(failures or 'none')} |"
            )
    else:
        lines.append("No enrichment run yet.")
    lines.append("")

    lines += ["## Lead import quarantine", "", f"{data.quarantine.total} rejected rows.", ""]
    if data.quarantine.by_reason:
        lines += ["| reason | rows |", "|---|---:|"]
        lines += [f"| {_cell(k)} | {v} |" for k, v in data.quarantine.by_reason.items()]
        lines.append("")
    if data.quarantine.imports:
        lines += [
            "Recent imports:",
            "",
            "| file | status | read | inserted | duplicates | quarantined |",
            "|---|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {_cell(item.file)} | {item.status} | {item.read} | {item.inserted} | "
            f"{item.duplicates} | {item.quarantined} |"
            for item in data.quarantine.imports
        ]
        lines.append("")

    lines += ["## Mapping CSV cleaning", ""]
    mapping = data.mapping
    if mapping is None:
        lines.append(f"Unavailable: {data.mapping_error}")
    else:
        lines += [
            f"`{mapping.path}` (version {mapping.version}).",
            "",
            "| measure | before cleaning | after cleaning |",
            "|---|---:|---:|",
            f"| rows | {mapping.rows_read} | {mapping.fields_of_study_after} |",
            f"| distinct fields of study | {mapping.fields_of_study_before} | "
            f"{mapping.fields_of_study_after} |",
            f"| distinct academic fields | {mapping.academic_fields_before} | "
            f"{mapping.academic_fields_after} |",
            f"| labelled | {mapping.labelled_before} | {mapping.labelled_after} |",
            f"| mapping ratio | {_pct(mapping.mapping_ratio_before)} | "
            f"{_pct(mapping.mapping_ratio_after)} |",
        ]
    lines.append("")
    lines += _sales_markdown(data)
    return "\n".join(lines)


def _sales_markdown(data: DashboardData) -> list[str]:
    sales = data.sales
    lines = ["## Revenue by persona and month", ""]
    if sales.error:
        return [*lines, f"Warehouse unavailable: {sales.error}", ""]
    if not sales.revenue:
        return [*lines, "No sale loaded yet.", ""]

    def persona(row: dict[str, object]) -> list[str]:
        return [
            _cell(row["academic_field"] or "(unknown)"),
            _cell(row["company_type"] or "(unknown)"),
        ]

    def table(title: str | None, head: str, align: str, rows: list[list[str]]) -> None:
        if title:
            lines.extend(["", f"## {title}", ""])
        lines.extend([f"| academic field | company type | {head} |", f"|---|---|{align}|"])
        lines.extend("| " + " | ".join(cells) + " |" for cells in rows)

    table(
        None,
        "month | currency | revenue | orders | customers",
        "---|---|---:|---:|---:",
        [
            [
                *persona(r),
                r["month"],
                r["currency"],
                r["revenue"],
                str(r["orders"]),
                str(r["customers"]),
            ]
            for r in sales.revenue
        ],
    )
    table(
        "Lead-to-customer conversion",
        "leads | customers | conversion",
        "---:|---:|---:",
        [
            [*persona(r), str(r["leads"]), str(r["customers"]), _pct(r["conversion"])]
            for r in sales.conversion
        ],
    )
    table(
        "Top products per persona",
        "product | revenue | quantity",
        "---|---:|---:",
        [
            [
                *persona(r),
                _cell(r["name"] or r["sku"]),
                f"{r['revenue']} {r['currency']}",
                str(r["quantity"]),
            ]
            for r in sales.top_products
        ],
    )
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


async def write_report(settings: Settings, database: MongoDatabase, out_dir: Path) -> ReportPaths:
    """Write ``persona-report.html`` (self-contained: scripts inlined, data embedded) and
    ``persona-report.md`` into ``out_dir`` (created if needed); return their paths."""
    data = await collect_dashboard(settings, mongo_repositories(database), database=database.name)
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
