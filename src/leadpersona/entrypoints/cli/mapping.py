"""``leadpersona mapping``: read, grow, clean and evaluate the field-of-study mapping CSV.

None of these commands needs MongoDB.
"""

from __future__ import annotations

import typer
from rich.table import Table

from leadpersona.entrypoints.cli.common import (
    JsonOption,
    console,
    emit_json,
    error_boundary,
    fail,
    settings_or_exit,
)
from leadpersona.entrypoints.cli.main import app
from leadpersona.mapping import DEFAULT_THRESHOLD, CleaningReport, FieldMapStore, open_field_map
from leadpersona.mapping.evaluate import BLIND_NAME, Evaluation, evaluate, load_holdout
from leadpersona.mapping.reporting import write_report_files

__all__ = ["mapping_app", "print_mapping_report"]

mapping_app = typer.Typer(
    help="The field-of-study → academic-field mapping CSV: report, lookup, add, suggest.",
    no_args_is_help=True,
)
app.add_typer(mapping_app, name="mapping")


def _store() -> FieldMapStore:
    settings = settings_or_exit()
    with error_boundary():
        return open_field_map(settings)
    raise AssertionError("unreachable")  # pragma: no cover


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


@mapping_app.command("report")
def report_command(as_json: bool = JsonOption) -> None:
    """The cleaning summary; also written as Markdown and JSON next to the CSV."""
    store = _store()
    with error_boundary():
        report = store.report()
        markdown, document = write_report_files(report, store.path)
    if as_json:
        emit_json(report)
        return
    print_mapping_report(report)
    console.print(f"written: {markdown}\nwritten: {document}", highlight=False)


@mapping_app.command("lookup")
def lookup_command(
    texts: list[str] = typer.Argument(..., help="Fields of study, as written on LinkedIn."),
    as_json: bool = JsonOption,
) -> None:
    """The academic field of each text: curated, inferred (marked) or none."""
    store = _store()
    with error_boundary():
        field_map = store.load()
        results = [field_map.lookup(text) for text in texts]
    if as_json:
        emit_json({"results": results})
        return
    table = Table()
    for name in ("field of study", "academic field", "source", "confidence"):
        table.add_column(name)
    for result in results:
        table.add_row(
            result.field_of_study,
            result.academic_field or "-",
            result.source or "-",
            f"{result.confidence:.2f}" if result.confidence is not None else "-",
        )
    console.print(table)


@mapping_app.command("add")
def add_command(
    field_of_study: str = typer.Argument(..., help="The field of study, as written."),
    academic_field: str = typer.Argument(..., help="Its academic field."),
    as_json: bool = JsonOption,
) -> None:
    """Add a curated tuple, or set the curated label of an existing field of study."""
    store = _store()
    with error_boundary():
        store.add(field_of_study, academic_field)
        result = store.load().lookup(field_of_study)
    if as_json:
        emit_json(result)
        return
    console.print(f"{result.field_of_study} → {result.academic_field} (curated)", highlight=False)


@mapping_app.command("suggest")
def suggest_command(
    apply_above: float | None = typer.Option(
        None,
        "--apply-above",
        min=0.0,
        max=1.0,
        help="Write suggestions with confidence >= this into the CSV, recorded as accepted.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Inferred labels for the CSV's unlabelled rows, with confidence."""
    store = _store()
    with error_boundary():
        suggestions = store.load().suggestions()
        applied = []
        if apply_above is not None:
            applied = store.accept_suggestions(apply_above)
            done = {s.field_of_study for s in applied}
            suggestions = [
                s.model_copy(update={"applied": s.field_of_study in done}) for s in suggestions
            ]
    if as_json:
        emit_json(
            {
                "suggestions": suggestions,
                "applied": len(applied),
                "accepted_file": str(store.accepted_path) if applied else None,
            }
        )
        return
    table = Table(title=f"{len(suggestions)} suggestions")
    for name in ("line", "field of study", "academic field", "confidence", "applied"):
        table.add_column(name)
    for s in suggestions:
        table.add_row(
            str(s.line),
            s.field_of_study,
            s.academic_field,
            f"{s.confidence:.2f}",
            "yes" if s.applied else "",
        )
    console.print(table)
    if apply_above is not None:
        console.print(
            f"applied {len(applied)} (recorded in {store.accepted_path})", highlight=False
        )


def _print_evaluation(evaluation: Evaluation) -> None:
    table = Table(
        title=f"field mapping inference (threshold {evaluation.threshold}; "
        f"{evaluation.curated_rows} curated rows)"
    )
    table.add_column("method")
    table.add_column("set")
    table.add_column("precision", justify="right")
    table.add_column("coverage", justify="right")
    table.add_column("junk abstained", justify="right")
    for method in evaluation.methods:
        loo = method.loo
        table.add_row(
            method.method,
            "CSV leave-one-out",
            "-" if loo.precision is None else f"{loo.precision:.3f}",
            f"{loo.coverage:.3f}",
            "",
        )
        for name, figures in method.sets.items():
            p = figures.labelled.precision
            table.add_row(
                "",
                name,
                "-" if p is None else f"{p:.3f}",
                f"{figures.labelled.coverage:.3f}",
                f"{figures.junk_abstained}/{figures.junk_asked}",
            )
    console.print(table)


@mapping_app.command("evaluate")
def evaluate_command(
    threshold: float = typer.Option(
        DEFAULT_THRESHOLD, "--threshold", min=0.0, max=1.0, help="Abstain below this confidence."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Precision, coverage and junk abstention of inference, with baselines."""
    store = _store()
    with error_boundary():
        curated = store.load().curated()
        if not curated:
            fail("the mapping CSV has no curated label to learn from")
        evaluation = evaluate(
            curated,
            {"holdout": load_holdout(), "blind": load_holdout(name=BLIND_NAME)},
            threshold=threshold,
        )
    if as_json:
        emit_json(evaluation)
        return
    _print_evaluation(evaluation)
