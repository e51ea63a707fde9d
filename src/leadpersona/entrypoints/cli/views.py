"""Human views shared by several commands (Rich tables and progress)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.table import Table

from leadpersona.domain.persona import CORE_FEATURES, Persona
from leadpersona.domain.runs import RunRecord
from leadpersona.entrypoints.cli.common import console, err_console, progress_bar
from leadpersona.mapping import CleaningReport
from leadpersona.services.enrichment import RunSummary
from leadpersona.services.runs import ProgressCallback

__all__ = [
    "print_mapping_report",
    "print_persona",
    "print_stats",
    "print_summary",
    "progress_reporter",
]


def print_persona(persona: Persona) -> None:
    """Human view of one persona."""
    table = Table(title=f"persona of lead {persona.lead_id} ({persona.status})")
    table.add_column("feature")
    table.add_column("value")
    table.add_column("source")
    names = list(CORE_FEATURES) + sorted(set(persona.features) - set(CORE_FEATURES))
    for name in names:
        value = persona.features.get(name)
        origin = persona.provenance.get(name)
        source = ""
        if origin is not None:
            source = origin.source
            if origin.confidence is not None and origin.source == "inferred":
                source += f" ({origin.confidence:.2f})"
            if origin.field_of_study:
                source += f" from {origin.field_of_study!r}"
            if origin.employee_count is not None:
                source += f" from {origin.employee_count} employees"
        table.add_row(name, "-" if value is None else str(value), source)
    console.print(table)
    if persona.computed_at is not None:
        console.print(
            f"computed {persona.computed_at:%Y-%m-%d %H:%M} UTC, mapping {persona.mapping_version},"
            f" rules {persona.rules_version}, raw answer {persona.archive_id}"
        )


def print_stats(stats: dict[str, Any], *, rows: int = 20) -> None:
    """Human view of the stats document (the ``rows`` largest groups)."""
    coverage = stats["coverage"]
    console.print(
        f"{stats['personas']} personas for {stats['total_leads']} leads"
        + (f" (coverage {coverage:.1%})" if coverage is not None else "")
        + f"; {stats['enriched']} enriched, {stats['no_data']} without data"
    )
    academic, company = stats["academic_field"], stats["company_type"]
    if stats["enriched"]:
        console.print(
            f"academic field unknown for {academic['unknown_rate']:.1%}, "
            f"company type unknown for {company['unknown_rate']:.1%}; "
            f"inferred academic fields: {academic['inferred']}"
        )
    table = Table(title="personas by academic field x company type")
    table.add_column("academic field")
    table.add_column("company type")
    table.add_column("leads", justify="right")
    for row in stats["matrix"][:rows]:
        academic = row["academic_field"] or "(unknown)"
        table.add_row(academic, row["company_type"] or "(unknown)", str(row["count"]))
    hidden = stats["matrix"][rows:]
    if hidden:
        table.caption = (
            f"{len(hidden)} smaller groups ({sum(r['count'] for r in hidden)} leads) not shown;"
            " `persona stats --json` has them all"
        )
    console.print(table)


@contextmanager
def progress_reporter(enabled: bool) -> Iterator[ProgressCallback]:
    """A Rich progress bar on a terminal, plain log lines on stderr otherwise."""
    if enabled and err_console.is_terminal:
        with progress_bar("enriching") as update:
            yield update
        return

    def log(done: int, total: int | None) -> None:
        if enabled:
            err_console.print(f"enriched {done}" + (f" of {total}" if total else "") + " leads")

    yield log


def print_summary(summary: RunSummary) -> None:
    """Human view of a run."""
    console.print(
        f"run {summary.run_id}: {summary.processed} leads processed in {summary.duration_s:.1f} s"
        f" — {summary.enriched} enriched, {summary.no_data} without data, {summary.failed} failed,"
        f" {summary.skipped} skipped (no email)"
    )
    console.print(
        f"API calls {summary.api_calls}, answers reused from the archive {summary.cache_hits},"
        f" new fields of study added to the mapping {summary.new_fields_of_study}"
        + (f", credits left {summary.credits_left}" if summary.credits_left is not None else "")
    )
    if summary.failed:
        console.print("failed leads are retried by the next `leadpersona enrich`")


def print_mapping_report(report: CleaningReport, *, full: bool = True) -> None:
    """Human view of the cleaning summary (``full=False``: the summary table only)."""
    summary = Table(title=f"mapping CSV {report.path} ({report.version})")
    summary.add_column("measure")
    summary.add_column("before cleaning", justify="right")
    summary.add_column("after cleaning", justify="right")
    summary.add_row("rows", str(report.rows_read), str(report.fields_of_study_after))
    summary.add_row(
        "distinct fields of study",
        str(report.fields_of_study_before),
        str(report.fields_of_study_after),
    )
    summary.add_row(
        "distinct academic fields",
        str(report.academic_fields_before),
        str(report.academic_fields_after),
    )
    summary.add_row("labelled", str(report.labelled_before), str(report.labelled_after))
    summary.add_row(
        "mapping ratio", f"{report.mapping_ratio_before:.4f}", f"{report.mapping_ratio_after:.4f}"
    )
    console.print(summary)
    if not full:
        return
    missing = Table(title="missing values")
    missing.add_column("column")
    missing.add_column("missing", justify="right")
    for name, count in report.missing_values.items():
        missing.add_row(name, str(count))
    console.print(missing)
    removed = Table(title="rows removed")
    removed.add_column("line", justify="right")
    removed.add_column("reason")
    removed.add_column("field of study")
    removed.add_column("detail")
    for row in report.removed:
        removed.add_row(str(row.line), row.reason, row.field_of_study, row.detail)
    console.print(removed)
    if report.conflicts:
        conflicts = Table(title="conflicts (first label kept)")
        for name in ("key", "kept", "other", "lines"):
            conflicts.add_column(name)
        for c in report.conflicts:
            conflicts.add_row(c.key, c.kept, c.other, ", ".join(map(str, c.lines)))
        console.print(conflicts)
    labels = Table(title="label distribution")
    labels.add_column("academic field")
    labels.add_column("fields of study", justify="right")
    for label, count in report.label_distribution.items():
        labels.add_row(label, str(count))
    console.print(labels)


def print_runs(records: Sequence[RunRecord]) -> None:
    """The run ledger as a table, newest first."""
    table = Table(title=f"last {len(records)} runs")
    for name in ("started", "kind", "status", "id", "parent", "seconds", "error"):
        table.add_column(name)
    for record in records:
        table.add_row(
            f"{record.started_at:%m-%d %H:%M:%S}",
            record.kind,
            record.status,
            record.id[:12],
            (record.parent_id or "")[:12],
            "" if record.duration_s is None else f"{record.duration_s:.1f}",
            record.error or "",
        )
    console.print(table)
