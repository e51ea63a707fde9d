"""``leadpersona mapping``: read, grow, clean and evaluate the field-of-study mapping CSV.

None of these commands needs MongoDB.
"""

from __future__ import annotations

import typer
from rich.table import Table

from leadpersona.bootstrap import field_map_store
from leadpersona.entrypoints.cli.common import (
    JsonOption,
    console,
    emit_json,
    error_boundary,
    fail,
    settings_or_exit,
)
from leadpersona.entrypoints.cli.views import print_mapping_report
from leadpersona.mapping import DEFAULT_THRESHOLD, FieldMapStore
from leadpersona.mapping.classifier import Inference
from leadpersona.mapping.evaluate import Evaluation, evaluate, evaluation_sets
from leadpersona.mapping.models import MappingResult
from leadpersona.mapping.reporting import write_report_files

__all__ = ["mapping_app"]

mapping_app = typer.Typer(
    help="The field-of-study → academic-field mapping CSV: report, lookup, add, suggest.",
    no_args_is_help=True,
)


def _store() -> FieldMapStore:
    settings = settings_or_exit()
    return field_map_store(settings)


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
    explain: bool = typer.Option(
        False, "--explain", help="Show why: the reason and the nearest labelled examples."
    ),
    as_json: bool = JsonOption,
) -> None:
    """The academic field of each text: curated, inferred (marked) or none."""
    store = _store()
    with error_boundary():
        field_map = store.load()
        field_map.lookup_many(texts)
        explained = [field_map.explain(text) for text in texts]
        results = [result for result, _ in explained]
    if explain:
        _print_explanations(explained, as_json=as_json)
        return
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


def _print_explanations(
    explained: list[tuple[MappingResult, Inference | None]], *, as_json: bool
) -> None:
    documents = []
    for result, inference in explained:
        document: dict[str, object] = result.model_dump()
        if inference is None:
            document["reason"] = (
                "curated row"
                if result.source == "mapping"
                else ("accepted suggestion" if result.source == "inferred" else "no value")
            )
            document["neighbours"] = []
        else:
            document["reason"] = inference.reason
            document["neighbours"] = [
                {
                    "example": n.example,
                    "academic_field": n.label or None,
                    "similarity": n.similarity,
                }
                for n in inference.neighbours
            ]
        documents.append(document)
    if as_json:
        emit_json({"results": documents})
        return
    for document in documents:
        label = document["academic_field"] or "-"
        console.print(
            f"{document['field_of_study']} → {label} ({document['source'] or 'no answer'}): "
            f"{document['reason']}",
            highlight=False,
            markup=False,
        )
        for neighbour in document["neighbours"]:  # type: ignore[attr-defined]
            console.print(
                f"    {neighbour['similarity']:.3f}  {neighbour['example']}"
                f"  [{neighbour['academic_field'] or 'outside the labels'}]",
                highlight=False,
                markup=False,
            )


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
            curated, evaluation_sets(), threshold=threshold, encoder=store.encoder
        )
    if as_json:
        emit_json(evaluation)
        return
    _print_evaluation(evaluation)
