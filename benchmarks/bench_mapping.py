"""Field mapping: inference quality and lookup speed, each next to a baseline from the same run."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from leadpersona.adapters.field_map_csv import packaged_csv_bytes
from leadpersona.domain.normalise import normalise_key
from leadpersona.mapping import FieldMapStore
from leadpersona.mapping.evaluate import BLIND_NAME, evaluate, load_holdout


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "map.csv"
        path.write_bytes(packaged_csv_bytes())

        started = time.perf_counter()
        field_map = FieldMapStore(path).load()
        load_s = time.perf_counter() - started

        holdout = load_holdout()
        blind = load_holdout(name=BLIND_NAME)
        curated = field_map.curated()
        started = time.perf_counter()
        evaluation = evaluate(curated, {"holdout": holdout, "blind": blind})
        evaluate_s = time.perf_counter() - started

        texts = [row.field_of_study for row in holdout + blind] + list(curated)
        started = time.perf_counter()
        for text in texts:
            field_map.lookup(text)
        cold_us = (time.perf_counter() - started) / len(texts) * 1e6
        rounds = 200
        started = time.perf_counter()
        for _ in range(rounds):
            for text in texts:
                field_map.lookup(text)
        warm_us = (time.perf_counter() - started) / (rounds * len(texts)) * 1e6
        exact = dict(curated)
        started = time.perf_counter()
        for _ in range(rounds):
            for text in texts:
                exact.get(normalise_key(text))
        exact_us = (time.perf_counter() - started) / (rounds * len(texts)) * 1e6

    lines = [
        "## Field mapping",
        "",
        f"Inference of an academic field for strings the CSV does not label "
        f"(threshold {evaluation.threshold}). *LOO*: leave-one-out over the "
        f"{evaluation.curated_rows} curated CSV rows. *holdout*: {len(holdout)} hand-labelled "
        f"strings (EN/FR/ES/DE/PT and junk) used while writing the rules. *blind*: {len(blind)} "
        "strings written before the rules were tuned, never used to tune them. Precision = right "
        "among answered; coverage = answered among asked; junk = abstentions on strings that "
        "must get no label.",
        "",
        "| method | LOO precision | LOO coverage | holdout precision | holdout coverage "
        "| holdout junk | blind precision | blind coverage | blind junk |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in evaluation.methods:
        h, b = m.sets["holdout"], m.sets["blind"]
        lines.append(
            f"| {m.method} | {_fmt(m.loo.precision)} | {_fmt(m.loo.coverage)} "
            f"| {_fmt(h.labelled.precision)} | {_fmt(h.labelled.coverage)} "
            f"| {h.junk_abstained}/{h.junk_asked} "
            f"| {_fmt(b.labelled.precision)} | {_fmt(b.labelled.coverage)} "
            f"| {b.junk_abstained}/{b.junk_asked} |"
        )
    lines += [
        "",
        "| speed | value | baseline | ratio |",
        "|---|---:|---:|---:|",
        f"| load CSV + build classifier | {load_s * 1000:.1f} ms | - | - |",
        f"| lookup, first call per string (µs) | {cold_us:.1f} | {exact_us:.2f} (dict lookup "
        f"after normalise_key) | {cold_us / exact_us:.0f}x |",
        f"| lookup, memoised (µs) | {warm_us:.2f} | {exact_us:.2f} | {warm_us / exact_us:.2f}x |",
        f"| full evaluation (4 methods, LOO + 2 sets) | {evaluate_s:.2f} s | - | - |",
        "",
        f"Lookups timed over {len(texts)} strings (holdout, blind set, curated keys).",
    ]
    return "\n".join(lines)
