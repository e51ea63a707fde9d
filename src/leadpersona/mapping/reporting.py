"""The cleaning report as Markdown and JSON files next to the CSV."""

from __future__ import annotations

import json
from pathlib import Path

from leadpersona.errors import FieldMapError
from leadpersona.mapping.models import CleaningReport

__all__ = ["report_markdown", "write_report_files"]


def report_markdown(report: CleaningReport) -> str:
    """A data scientist's view of the cleaning, as Markdown."""
    lines = [
        f"# Mapping CSV cleaning report ({report.version})",
        "",
        f"File: `{report.path}` ({report.encoding}); columns: {', '.join(report.columns)}.",
        "",
        "| measure | before cleaning | after cleaning |",
        "|---|---:|---:|",
        f"| rows | {report.rows_read} | {report.fields_of_study_after} |",
        f"| distinct fields of study | {report.fields_of_study_before} "
        f"| {report.fields_of_study_after} |",
        f"| distinct academic fields | {report.academic_fields_before} "
        f"| {report.academic_fields_after} |",
        f"| labelled | {report.labelled_before} | {report.labelled_after} |",
        f"| mapping ratio | {report.mapping_ratio_before:.4f} | {report.mapping_ratio_after:.4f} |",
        "",
        f"Blank lines skipped: {report.blank_lines}. Curated labels: {report.curated_labels}; "
        f"accepted suggestions (marked inferred): {report.accepted_suggestions}.",
        "",
        "## Missing values per column",
        "",
        "| column | missing |",
        "|---|---:|",
        *(f"| {name} | {count} |" for name, count in report.missing_values.items()),
        "",
        "## Rows removed",
        "",
        "| line | reason | field of study | detail |",
        "|---:|---|---|---|",
        *(
            f"| {row.line} | {row.reason} | {_cell(row.field_of_study)} | {_cell(row.detail)} |"
            for row in report.removed
        ),
        "",
        "## Conflicts (first label kept)",
        "",
        "| key | kept | other | lines |",
        "|---|---|---|---|",
        *(
            f"| {_cell(c.key)} | {c.kept} | {c.other} | {', '.join(map(str, c.lines))} |"
            for c in report.conflicts
        ),
        "",
        "## Label distribution (distinct fields of study per academic field)",
        "",
        "| academic field | fields of study |",
        "|---|---:|",
        *(f"| {label} | {count} |" for label, count in report.label_distribution.items()),
        "",
    ]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def write_report_files(report: CleaningReport, csv_path: Path) -> tuple[Path, Path]:
    """Write ``<stem>.report.md`` and ``<stem>.report.json`` beside the CSV; return both paths."""
    markdown = csv_path.with_name(csv_path.stem + ".report.md")
    document = csv_path.with_name(csv_path.stem + ".report.json")
    try:
        markdown.write_text(report_markdown(report), encoding="utf-8")
        document.write_text(
            json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
    except OSError as exc:
        raise FieldMapError(f"cannot write the report: {exc.strerror}", path=csv_path) from None
    return markdown, document
